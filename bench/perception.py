"""Perception benchmark: the detector pipeline on the ROS graph against raw ONNX Runtime.

For each thread setting in --threads (ONNX Runtime intra-op threads), with the tabletop model:

1. **Raw baseline, in this process.** --frames rendered head-camera frames (random tabletop
   scenes) are preprocessed once; ``session.run`` then runs on those very tensors, back to back,
   for --seconds: the raw throughput (frames/s) and the per-call latency. The same with IO
   binding (what the node uses) and with the whole in-process ``Detector.detect`` (preprocess,
   inference, decoding, NMS) for reference.
2. **Pipeline on the graph.** ``embodied up --only perception`` (its own process) subscribes to
   /bench_camera/image_raw; this script publishes the same frames there as sensor_msgs/Image
   (bgr8, stamped when published) and listens to /detections:
   - throughput: frames published at 0.5, 0.75, 1 and 1.25x the raw rate, --seconds each;
     the most detections/s received is the pipeline's throughput (the node keeps only the
     newest frame, so it never queues). Ratio = that / raw session.run throughput (target >= 0.9).
   - latency: frames published at --latency-rate (well under capacity); image stamp → the
     detections message for that stamp arriving here: p50 / p90 / max.
3. **int8 vs fp32**: 1. for each variant in --variants, and mAP@0.5 (pycocotools) of each on
   --eval-frames held-out rendered frames.

Everything runs on the CPU execution provider unless the machine offers more (it reports which
provider ran). Results: a table on stdout and JSON in --out (bench/results/ is git-ignored).

Run: .venv/bin/python bench/perception.py [--threads 1 2] [--variants fp32 int8] [--seconds 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _graph  # noqa: E402  (bench/ is not a package)

REPO = _graph.REPO
MANIFEST = REPO / "models" / "tabletop" / "manifest.yaml"
HEAD = "head_camera_optical_frame"
BENCH_CAMERA = "bench_camera"
FRAME_SEED, EVAL_SEED = 7, 11   # neither is a training seed (0-2)


def rendered_frames(count: int, seed: int) -> list[Any]:
    from embodied_ai.perception.render import CameraIntrinsics
    from embodied_ai.perception.synthetic import random_scene, render_scene
    from embodied_ai.robot import load_robot_description
    from embodied_ai.robot.kinematics import Kinematics

    kinematics = Kinematics(load_robot_description(REPO / "urdf" / "embodied_robot.urdf").urdf)
    intrinsics = CameraIntrinsics.from_fov(640, 480, 90)
    rng = np.random.default_rng(seed)
    return [render_scene(kinematics, intrinsics, random_scene(rng), HEAD, rng) for _ in range(count)]


def timed_loop(call: Callable[[int], object], count: int, seconds: float) -> dict[str, float]:
    """Call ``call(i % count)`` back to back for ``seconds`` (after two warm-up calls)."""
    call(0)
    call(1 % count)
    latencies = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        call(i % count)
        latencies.append(time.perf_counter() - t)
        i += 1
    elapsed = time.perf_counter() - started
    return {"fps": i / elapsed, "calls": i, "latency_ms_p50": 1000 * statistics.median(latencies),
            "latency_ms_p90": 1000 * float(np.percentile(latencies, 90))}


def raw_baseline(variant: str, threads: int, frames: list[Any], seconds: float) -> dict[str, Any]:
    from embodied_ai.perception.detector import Detector

    detector = Detector.from_manifest(MANIFEST, variant, intra_op_threads=threads)
    images = [f.image for f in frames]
    tensors = [detector.preprocess(image)[0] for image in images]
    backend = detector.backend
    return {
        "provider": backend.providers[0],
        "session_run": timed_loop(lambda i: backend.run_plain(tensors[i]), len(tensors), seconds),
        "io_binding": timed_loop(lambda i: backend.run(tensors[i]), len(tensors), seconds),
        "detect_in_process": timed_loop(lambda i: detector.detect(images[i]), len(images), seconds),
    }


def accuracy(variant: str, views: list[Any]) -> dict[str, Any]:
    from embodied_ai.perception.detector import Detector
    from embodied_ai.perception.evaluation import mean_average_precision

    detector = Detector.from_manifest(MANIFEST, variant, intra_op_threads=1, score_threshold=0.01)   # COCO practice
    result = mean_average_precision(views, detector.detect, detector.classes)
    return {"map50": result.map50, "per_class": result.per_class, "images": result.images, "objects": result.objects}


class GraphProbe:
    """Publishes frames on the bench camera topic and timestamps the detections coming back."""

    def __init__(self, frames: list[Any]) -> None:
        import rclpy
        from embodied_interfaces.msg import Detection2DArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image

        from embodied_ros.kit.qos import SENSOR_DATA, STATE
        from embodied_ros.vision import image_msg

        rclpy.init()
        self.node = rclpy.create_node("perception_bench")
        self._messages = [image_msg(f.image, self.node.get_clock().now().to_msg(), HEAD) for f in frames]
        self._publisher = self.node.create_publisher(Image, f"{BENCH_CAMERA}/image_raw", SENSOR_DATA)
        self.received: list[tuple[int, int]] = []   # (image stamp ns, receive time ns)
        self._lock = threading.Lock()
        self.node.create_subscription(Detection2DArray, "detections", self._on_detections, STATE)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._executor.spin, daemon=True)
        self._spinner.start()

    def _on_detections(self, msg: Any) -> None:
        now = time.time_ns()
        with self._lock:
            self.received.append((msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, now))

    def publish(self, rate_hz: float, seconds: float) -> list[int]:
        """Publish frames at ``rate_hz`` for ``seconds``; returns the stamps sent."""
        sent, period = [], 1.0 / rate_hz
        started = next_at = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            msg = self._messages[i % len(self._messages)]
            stamp = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
            self._publisher.publish(msg)
            sent.append(stamp)
            i += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))
        return sent

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.publish(5.0, 1.0)
            if self.received:
                return True
        return False

    def window(self, sent: list[int], settle_s: float = 1.0) -> list[tuple[int, int]]:
        time.sleep(settle_s)   # let the last frames' detections arrive
        first, last = sent[0], sent[-1]
        with self._lock:
            return [(s, r) for s, r in self.received if first <= s <= last]

    def close(self) -> None:
        import rclpy

        self._executor.shutdown()
        self._spinner.join(timeout=5.0)   # destroying the node under a spinning executor aborts
        self.node.destroy_node()
        rclpy.try_shutdown()


SWEEP = (0.5, 0.75, 1.0, 1.25)   # input rates, as fractions of the raw session.run rate


def graph_pipeline(probe: GraphProbe, raw_fps: float, latency_rate: float, seconds: float) -> dict[str, Any]:
    """Detections/s for input rates around the raw rate (the best is the pipeline's throughput),
    then latency at a rate well under capacity."""
    sweep = []
    for factor in SWEEP:
        sent = probe.publish(factor * raw_fps, seconds)
        done = probe.window(sent)
        span = (sent[-1] - sent[0]) / 1e9
        sweep.append({"input_fps": len(sent) / span, "detections_fps": len(done) / span})
    best = max(sweep, key=lambda s: s["detections_fps"])
    throughput = {**best, "ratio_to_raw_session_run": best["detections_fps"] / raw_fps, "sweep": sweep}
    sent = probe.publish(latency_rate, seconds)
    latencies = [(received - stamp) / 1e6 for stamp, received in probe.window(sent)]
    latency = {"rate_hz": latency_rate, "answered": len(latencies), "sent": len(sent),
               "p50_ms": statistics.median(latencies), "p90_ms": float(np.percentile(latencies, 90)),
               "max_ms": max(latencies)} if latencies else {"rate_hz": latency_rate, "answered": 0, "sent": len(sent)}
    return {"throughput": throughput, "latency": latency}


def start_perception(variant: str, threads: int, domain: int, log_dir: Path) -> _graph.Proc:
    argv = [str(_graph.EMBODIED), "up", "--only", "perception", "--set", f"perception.camera={BENCH_CAMERA}",
            "--set", f"perception.intra_op_threads={threads}", "--set", f"perception.model_variant={variant}"]
    return _graph.Proc(f"perception-{variant}-{threads}t", argv, _graph.dds_env(domain),
                       log_dir / f"perception_{variant}_{threads}t.log")


def machine_info() -> dict[str, Any]:
    import onnxruntime

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "onnxruntime": onnxruntime.__version__,
            "providers": onnxruntime.get_available_providers(), "load_average_at_start": os.getloadavg()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(_graph.dds_settings(args.domain))   # before rclpy creates its participant
    log_dir = Path(args.out).resolve().parent / "logs"
    frames = rendered_frames(args.frames, FRAME_SEED)
    results: dict[str, Any] = {"benchmark": "perception", "machine": machine_info(),
                               "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                               "settings": {k: v for k, v in vars(args).items() if k != "out"}, "runs": []}
    eval_views = rendered_frames(args.eval_frames, EVAL_SEED)
    results["accuracy"] = {variant: accuracy(variant, eval_views) for variant in args.variants}
    probe = GraphProbe(frames)
    try:
        for variant in args.variants:
            for threads in args.threads:
                print(f"[bench] {variant}, {threads} thread(s): raw ONNX Runtime", flush=True)
                entry: dict[str, Any] = {"variant": variant, "threads": threads,
                                         "raw": raw_baseline(variant, threads, frames, args.seconds)}
                raw_fps = entry["raw"]["session_run"]["fps"]
                print(f"[bench] {variant}, {threads} thread(s): the perception node on the graph", flush=True)
                proc = start_perception(variant, threads, args.domain, log_dir)
                try:
                    if not probe.wait_ready(120.0):
                        raise RuntimeError(f"perception never answered; log:\n{proc.log_tail()}")
                    entry["graph"] = graph_pipeline(probe, raw_fps, args.latency_rate, args.seconds)
                finally:
                    proc.stop()
                results["runs"].append(entry)
                print(json.dumps(entry, indent=None, default=float), flush=True)
    finally:
        probe.close()
    return results


def print_table(results: dict[str, Any]) -> None:
    print("\nvariant threads provider             session.run fps  io-binding fps  detect() fps  "
          "graph det/s  ratio  latency p50/p90 ms")
    for run in results["runs"]:
        raw, graph = run["raw"], run.get("graph", {})
        latency = graph.get("latency", {})
        print(f"{run['variant']:7} {run['threads']:7} {raw['provider']:20} {raw['session_run']['fps']:15.1f} "
              f"{raw['io_binding']['fps']:15.1f} {raw['detect_in_process']['fps']:13.1f} "
              f"{graph['throughput']['detections_fps']:12.1f} {graph['throughput']['ratio_to_raw_session_run']:6.2f}  "
              f"{latency.get('p50_ms', float('nan')):.1f} / {latency.get('p90_ms', float('nan')):.1f}")
    for variant, acc in results["accuracy"].items():
        print(f"mAP@0.5 {variant}: {acc['map50']:.3f} on {acc['images']} frames / {acc['objects']} objects")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--variants", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--frames", type=int, default=40, help="distinct rendered frames cycled through")
    parser.add_argument("--eval-frames", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--latency-rate", type=float, default=5.0, help="frames/s for the latency run")
    parser.add_argument("--domain", type=int, default=163, help="ROS_DOMAIN_ID for every process")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "perception.json"))
    args = parser.parse_args(argv)
    results = run(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=float))
    print_table(results)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
