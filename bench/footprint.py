"""Footprint of the robot stack: readiness, idle CPU and memory, and the same under a client.

    .venv/bin/python bench/footprint.py [--idle-s 30] [--load-s 30] [--out bench/results/footprint.json]

Phases, in one run, on a ROS domain nobody else uses, the bridge on a free loopback port:

1. **Start.** `embodied up` (launch/robot.yaml, the simulated robot) in a throw-away state
   directory; `/v1/health` is polled every 0.5 s: time to its first answer, and to every
   component `ok`.
2. **Idle.** Per process of the stack (the launcher and each node process or container): CPU over ``--idle-s``
   seconds (from the kernel's counters, in % of one core), RSS and USS (unique memory).
3. **Client loop.** For ``--load-s`` seconds, once a second: `GET /v1/hardware/sensors`, a
   4-token `POST /v1/inference/generate`, and a 1-degree relative `POST /v1/hardware/servo/move`
   of head_pan back and forth; CPU per process again, and the requests' latencies.
4. **Baseline.** Before the stack starts and after it has stopped: a bare rclpy process
   publishing JointState at the servo rate (`bench/_graph.py bare`), its CPU over ``--idle-s``;
   the ratio is against the mean of the two (on a shared machine one sample varied 6-9 %).

Prints the ratios (idle stack CPU / baseline CPU, ...) against the issue's targets and writes
everything to the JSON file. Everything is bounded in time and stops by itself; only the
processes this script started are stopped, by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _graph  # noqa: E402 - the benchmarks' process plumbing, beside this file

REPO = _graph.REPO
SERVO_RATE_HZ = 200.0
TARGETS = {"idle_cpu_vs_baseline": 3.0, "uss_mb": 1000.0, "all_ok_s": 10.0}


def free_domain() -> int:
    """A ROS domain in 150..199 on which no node answers (others run graphs on this machine)."""
    import rclpy

    for domain in random.sample(range(150, 200), 8):
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=domain)
        try:
            probe = rclpy.create_node("footprint_probe", context=context)
            time.sleep(1.5)
            others = [n for n, _ in probe.get_node_names_and_namespaces() if n != "footprint_probe"]
            probe.destroy_node()
        finally:
            rclpy.shutdown(context=context)
        if not others:
            return domain
    raise RuntimeError("no free ROS domain in 150..199")


def stack_processes(launcher: _graph.Proc) -> dict[str, psutil.Process]:
    """The launcher and each node process it started, by node name."""
    processes = {"launcher": psutil.Process(launcher.pid)}
    text = launcher.log.read_text(encoding="utf-8", errors="replace")
    for name, pid in re.findall(r"\] (\w+): started \(pid (\d+)\)", text):
        try:
            processes[name] = psutil.Process(int(pid))   # a restarted node: the newest pid wins
        except psutil.NoSuchProcess:
            pass
    return processes


def cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return times.user + times.system
    except psutil.NoSuchProcess:
        return float("nan")


def measure_cpu(processes: dict[str, psutil.Process], seconds: float, during: Any = None) -> dict[str, float]:
    """% of one core per process over ``seconds`` (``during`` runs meanwhile, if given)."""
    before = {name: cpu_seconds(p) for name, p in processes.items()}
    started = time.monotonic()
    if during is not None:
        during(seconds)
    else:
        time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: round(100 * (cpu_seconds(p) - before[name]) / elapsed, 1) for name, p in processes.items()}


def memory(processes: dict[str, psutil.Process]) -> dict[str, dict[str, float]]:
    found = {}
    for name, process in processes.items():
        try:
            info = process.memory_full_info()
            found[name] = {"rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1)}
        except psutil.NoSuchProcess:
            pass
    return found


def wait_ready(base_url: str, started: float, timeout_s: float) -> dict[str, Any]:
    first_answer = all_ok = None
    components: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() - started < timeout_s:
            try:
                answer = client.get("/v1/health")
                if first_answer is None:
                    first_answer = time.monotonic() - started
                components = answer.json().get("components", {})
                # A GPU is optional hardware: "absent" is its normal state on this machine.
                needed = {name: state for name, state in components.items() if name != "gpu"}
                if answer.status_code == 200 and needed and all(v == "ok" for v in needed.values()):
                    all_ok = time.monotonic() - started
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
    return {"first_health_answer_s": first_answer, "all_components_ok_s": all_ok, "components": components}


def client_loop(base_url: str, latencies: dict[str, list[float]]) -> Any:
    def run(seconds: float) -> None:
        deadline, sign = time.monotonic() + seconds, 1
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            while time.monotonic() < deadline:
                tick = time.monotonic()
                for name, call in (
                        ("sensors", lambda: client.get("/v1/hardware/sensors")),
                        ("generate", lambda: client.post("/v1/inference/generate",
                                                         json={"prompt": "Say hi.", "max_tokens": 4})),
                        ("move", lambda: client.post("/v1/hardware/servo/move", json={
                            "joint_name": "head_pan", "angle": sign * 1.0, "relative": True, "duration_ms": 200}))):
                    began = time.monotonic()
                    response = call()
                    latencies.setdefault(name, []).append(time.monotonic() - began)
                    latencies.setdefault(f"{name}_status", []).append(response.status_code)
                sign = -sign
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    return run


def summarise(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"count": len(values), "p50_ms": round(1e3 * statistics.median(ordered), 1),
            "max_ms": round(1e3 * ordered[-1], 1)} if values else {"count": 0}


def run(args: argparse.Namespace) -> dict[str, Any]:
    domain = args.domain or free_domain()
    log_dir = args.out.parent / "logs"
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "domain": domain,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()}}
    before = measure_baseline(domain, log_dir, args.idle_s)
    state = Path(tempfile.mkdtemp(prefix="footprint-state-"))
    argv = [str(_graph.EMBODIED), "up", "--set", "rest_bridge.port=0", "--set", f"rest_bridge.state_dir={state}",
            "--set", f"experts.state_dir={state}", "--set", f"jobs.state_dir={state}"]
    started = time.monotonic()
    stack = _graph.Proc("stack", argv, _graph.dds_env(domain), log_dir / "footprint_stack.log")
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"serving on (http://[\d.]+:\d+)", stack.log.read_text(errors="replace"))):
            if time.monotonic() > deadline or not stack.alive():
                raise RuntimeError(f"the bridge never served:\n{stack.log_tail()}")
            time.sleep(0.2)
        base_url = found.group(1)
        results["readiness"] = wait_ready(base_url, started, args.ready_timeout_s)
        time.sleep(2.0)   # let start-up work finish before measuring idle
        processes = stack_processes(stack)
        results["idle_cpu_pct"] = measure_cpu(processes, args.idle_s)
        results["memory"] = memory(processes)
        latencies: dict[str, list[float]] = {}
        results["loaded_cpu_pct"] = measure_cpu(processes, args.load_s, client_loop(base_url, latencies))
        results["requests"] = {k: summarise(v) for k, v in latencies.items() if not k.endswith("_status")}
        results["request_statuses"] = {k[:-7]: sorted(set(v)) for k, v in latencies.items() if k.endswith("_status")}
    finally:
        stack.stop()
    after = measure_baseline(domain, log_dir, args.idle_s)
    # The machine is shared: the baseline, measured before and after the stack, is their mean.
    results["baseline_cpu_pct_before_after"] = [before, after]
    results["baseline_cpu_pct"] = round((before + after) / 2, 1)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    idle = sum(v for v in results["idle_cpu_pct"].values() if v == v)
    uss = sum(m["uss_mb"] for m in results["memory"].values())
    results["summary"] = {
        "idle_stack_cpu_pct": round(idle, 1), "baseline_cpu_pct": results["baseline_cpu_pct"],
        "idle_cpu_vs_baseline": round(idle / max(results["baseline_cpu_pct"], 0.1), 2),
        "loaded_stack_cpu_pct": round(sum(v for v in results["loaded_cpu_pct"].values() if v == v), 1),
        "rss_mb": round(sum(m["rss_mb"] for m in results["memory"].values()), 1), "uss_mb": round(uss, 1),
        "first_health_answer_s": results["readiness"]["first_health_answer_s"],
        "all_components_ok_s": results["readiness"]["all_components_ok_s"]}
    return results


def measure_baseline(domain: int, log_dir: Path, seconds: float) -> float:
    """% of one core of a bare rclpy process publishing JointState at the servo rate."""
    bare = _graph.start_bare(SERVO_RATE_HZ, domain, log_dir)
    try:
        time.sleep(2.0)
        return measure_cpu({"bare": psutil.Process(bare.pid)}, seconds)["bare"]
    finally:
        bare.stop()


def print_report(results: dict[str, Any]) -> None:
    s = results["summary"]
    print(f"\nfootprint ({results['when']}, load average {results['machine']['load_average_at_start']})")
    print(f"{'process':<22}{'idle CPU %':>11}{'loaded CPU %':>14}{'RSS MB':>9}{'USS MB':>9}")
    for name, cpu in results["idle_cpu_pct"].items():
        mem = results["memory"].get(name, {})
        print(f"{name:<22}{cpu:>11}{results['loaded_cpu_pct'].get(name, float('nan')):>14}"
              f"{mem.get('rss_mb', float('nan')):>9}{mem.get('uss_mb', float('nan')):>9}")
    before, after = results["baseline_cpu_pct_before_after"]
    print(f"idle stack CPU {s['idle_stack_cpu_pct']} % against the bare JointState publisher's "
          f"{s['baseline_cpu_pct']} % (before {before}, after {after}): {s['idle_cpu_vs_baseline']}x "
          f"(target <= {TARGETS['idle_cpu_vs_baseline']}x)")
    print(f"unique memory {s['uss_mb']} MB (target <= {TARGETS['uss_mb']:.0f}); RSS {s['rss_mb']} MB")
    print(f"first /v1/health answer {s['first_health_answer_s']} s; every component ok "
          f"{s['all_components_ok_s']} s (target <= {TARGETS['all_ok_s']:.0f})")
    print(f"client loop: {results['requests']}; statuses {results['request_statuses']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--load-s", type=float, default=30.0)
    parser.add_argument("--ready-timeout-s", type=float, default=180.0)
    parser.add_argument("--domain", type=int, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "footprint.json")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = run(args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
