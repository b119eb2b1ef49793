"""Perception keeps up: detections per second against the head camera's frame rate, with the
whole stack running.

    .venv/bin/python bench/perception_rate.py [--rates 5 15 30] [--seconds 20] [--out FILE]

For each rate: the default stack (`embodied up`, the simulated robot) with
``head_camera.rate_hz`` set to it, on a ROS domain nobody else uses; once every component is
ok (and a few seconds more), an outside rclpy client counts, over ``--seconds``, the frames on
/head_camera/camera_info (published with every image, with the image's capture stamp; the
client does not take the 900 KB images, which would load the machine it measures) and the
messages on /detections. Reported per rate: frames/s, detections/s, their ratio (target
>= 0.95), and the share of detections whose stamp is a frame's capture stamp (target: all).
The baseline is the camera itself: the frames it published in the same window.

Stops by itself; only the processes this script started are stopped, by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _graph  # noqa: E402 - the benchmarks' process plumbing, beside this file
from footprint import free_domain, wait_ready  # noqa: E402

REPO = _graph.REPO
TARGET_RATIO = 0.95


def count(domain: int, seconds: float) -> dict[str, Any]:
    """Frames and detections seen by an outside client over ``seconds``, and stamp agreement."""
    import rclpy
    from embodied_interfaces.msg import Detection2DArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("perception_rate_probe", context=context)
    frames: dict[tuple[int, int], float] = {}
    detections: list[tuple[tuple[int, int], float]] = []
    node.create_subscription(
        CameraInfo, "/head_camera/camera_info",
        lambda m: frames.setdefault((m.header.stamp.sec, m.header.stamp.nanosec), time.monotonic()),
        qos_profile_sensor_data)
    node.create_subscription(Detection2DArray, "/detections",
                             lambda m: detections.append(((m.header.stamp.sec, m.header.stamp.nanosec),
                                                          time.monotonic())), qos_profile_sensor_data)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        warm_until = time.monotonic() + 3.0   # discovery and the first messages
        while time.monotonic() < warm_until:
            executor.spin_once(timeout_sec=0.05)
        begin = time.monotonic()
        end = begin + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        # Detections of frames captured in the window may come a little after it.
        settle_until = time.monotonic() + 1.0
        while time.monotonic() < settle_until:
            executor.spin_once(timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    window = {stamp for stamp, at in frames.items() if begin <= at < end}
    detected = [stamp for stamp, _ in detections if stamp in window]
    in_window = [stamp for stamp, at in detections if begin <= at < end + 1.0]
    matched = sum(1 for stamp in in_window if stamp in frames)
    return {
        "frames_per_s": round(len(window) / seconds, 2),
        "detections_per_s": round(len(set(detected)) / seconds, 2),
        "ratio": round(len(set(detected)) / max(len(window), 1), 3),
        "detections_stamped_with_a_frame_capture_stamp": round(matched / max(len(in_window), 1), 3),
        "frames": len(window), "detections": len(set(detected)),
    }


def run_rate(rate_hz: float, seconds: float, log_dir: Path) -> dict[str, Any]:
    domain = free_domain()
    state = Path(tempfile.mkdtemp(prefix="perception-rate-state-"))
    argv = [str(_graph.EMBODIED), "up", "--set", "rest_bridge.port=0", "--set", f"rest_bridge.state_dir={state}",
            "--set", f"experts.state_dir={state}", "--set", f"jobs.state_dir={state}",
            "--set", f"head_camera.rate_hz={rate_hz}"]
    started = time.monotonic()
    stack = _graph.Proc(f"stack@{rate_hz:g}Hz", argv, _graph.dds_env(domain),
                        log_dir / f"perception_rate_{rate_hz:g}hz.log")
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"serving on (http://[\d.]+:\d+)", stack.log.read_text(errors="replace"))):
            if time.monotonic() > deadline or not stack.alive():
                raise RuntimeError(f"the bridge never served:\n{stack.log_tail()}")
            time.sleep(0.2)
        readiness = wait_ready(found.group(1), started, 180)
        time.sleep(3.0)
        result = count(domain, seconds)
    finally:
        stack.stop()
    return {"rate_hz": rate_hz, "all_components_ok_s": readiness["all_components_ok_s"], **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[5.0, 15.0, 30.0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "perception_rate.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "load_average_at_start": os.getloadavg(), "target_ratio": TARGET_RATIO, "rates": []}
    for rate in args.rates:
        row = run_rate(rate, args.seconds, args.out.parent / "logs")
        results["rates"].append(row)
        print(f"head camera {rate:g} Hz: frames {row['frames_per_s']}/s, detections {row['detections_per_s']}/s, "
              f"ratio {row['ratio']} (target >= {TARGET_RATIO}); stamped with the capture stamp: "
              f"{row['detections_stamped_with_a_frame_capture_stamp']:.1%}", flush=True)
    results["load_average_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"load average {results['load_average_at_start']} -> {results['load_average_at_end']}; written to {args.out}")
    return 0 if all(r["ratio"] >= TARGET_RATIO for r in results["rates"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
