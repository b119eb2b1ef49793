"""Soak: the default stack under a steady client for ``--minutes``, each process killed once.

    .venv/bin/python bench/soak.py [--minutes 10] [--out bench/results/soak.json]

On a ROS domain nobody else uses, the bridge on a free loopback port, a throw-away state
directory. Once every component is ok, a client (bounded, loopback) sends every second
`GET /v1/hardware/sensors`, a 4-token `POST /v1/inference/generate` and a 1-degree relative
move of head_pan, and polls `/v1/health`. Along the way each process of the stack (a node, or a
container with every node it hosts) is killed once with SIGKILL (its newest PID, as the
launcher logged it), spread evenly over the run; for each kill the time
until `/v1/health` shows every component ok again is recorded (target: within 10 s of the
launcher's restart). Reported: every answer that was a 5xx other than a 503 (target: none), the
restarts, and the stack's summed RSS at minute 2 and at the end (target: < 5 % growth).

Stops by itself; only the processes this script started are stopped, by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _graph  # noqa: E402 - the benchmarks' process plumbing, beside this file
from footprint import free_domain, memory, stack_processes, wait_ready  # noqa: E402

REPO = _graph.REPO


def all_ok(client: httpx.Client) -> bool:
    try:
        components = client.get("/v1/health").json().get("components", {})
    except (httpx.HTTPError, ValueError):
        return False
    needed = {name: state for name, state in components.items() if name != "gpu"}
    return bool(needed) and all(state == "ok" for state in needed.values())


def run(args: argparse.Namespace) -> dict[str, Any]:
    domain = free_domain()
    state = Path(tempfile.mkdtemp(prefix="soak-state-"))
    # A fixed port: the bridge is killed too, and the client must find it again where it was.
    port = args.port
    argv = [str(_graph.EMBODIED), "up", "--set", f"rest_bridge.port={port}", "--set", f"rest_bridge.state_dir={state}",
            "--set", f"experts.state_dir={state}", "--set", f"jobs.state_dir={state}"]
    base_url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "domain": domain,
                               "load_average_at_start": os.getloadavg(), "kills": [], "bad_answers": []}
    started = time.monotonic()
    stack = _graph.Proc("stack", argv, _graph.dds_env(domain), args.out.parent / "logs" / "soak_stack.log")
    counts: dict[str, dict[int, int]] = {}
    try:
        results["readiness"] = wait_ready(base_url, started, 180)
        t0 = time.monotonic()
        duration = 60.0 * args.minutes
        # Every process of the stack (a container's kill takes all the nodes it hosts down at once).
        processes = [name for name in stack_processes(stack) if name != "launcher"]
        kill_at = {name: 45.0 + i * (duration - 90.0) / len(processes) for i, name in enumerate(processes)}
        pending_recovery: dict[str, float] = {}
        rss_minute2: float | None = None
        sign = 1
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            while (elapsed := time.monotonic() - t0) < duration:
                tick = time.monotonic()
                for name, method, path, body in (
                        ("sensors", "GET", "/v1/hardware/sensors", None),
                        ("generate", "POST", "/v1/inference/generate", {"prompt": "Say hi.", "max_tokens": 4}),
                        ("move", "POST", "/v1/hardware/servo/move",
                         {"joint_name": "head_pan", "angle": sign * 1.0, "relative": True, "duration_ms": 200})):
                    try:
                        status = client.request(method, path, json=body).status_code
                    except httpx.HTTPError:
                        status = 0   # connection refused: the bridge itself is restarting
                    counts.setdefault(name, {}).setdefault(status, 0)
                    counts[name][status] += 1
                    if status >= 500 and status != 503:
                        results["bad_answers"].append({"t_s": round(elapsed, 1), "request": name, "status": status})
                sign = -sign
                for name, at in kill_at.items():
                    if at <= elapsed and name not in {k["node"] for k in results["kills"]}:
                        pid = stack_processes(stack).get(name)
                        if pid is not None:
                            os.kill(pid.pid, signal.SIGKILL)
                            results["kills"].append({"node": name, "pid": pid.pid, "t_s": round(elapsed, 1)})
                            pending_recovery[name] = time.monotonic()
                for name, killed in list(pending_recovery.items()):
                    if time.monotonic() - killed > 2.0 and all_ok(client):
                        kill = next(k for k in results["kills"] if k["node"] == name)
                        kill["all_ok_after_s"] = round(time.monotonic() - killed, 1)
                        del pending_recovery[name]
                if rss_minute2 is None and elapsed >= 120.0:
                    rss_minute2 = sum(m["rss_mb"] for m in memory(stack_processes(stack)).values())
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        results["rss_mb_minute_2"] = rss_minute2
        results["rss_mb_end"] = sum(m["rss_mb"] for m in memory(stack_processes(stack)).values())
        results["not_recovered"] = sorted(pending_recovery)
    finally:
        stack.stop()
    results["answers"] = counts
    results["load_average_at_end"] = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=18765, help="the bridge's loopback port (fixed across restarts)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak.json")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = run(args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    growth = None
    if results.get("rss_mb_minute_2"):
        growth = 100 * (results["rss_mb_end"] - results["rss_mb_minute_2"]) / results["rss_mb_minute_2"]
    print(f"soak ({results['when']}, load {results['load_average_at_start'][0]:.1f}): answers {results['answers']}")
    print(f"5xx other than 503: {len(results['bad_answers'])} (target 0) {results['bad_answers'][:5]}")
    for kill in results["kills"]:
        print(f"  killed {kill['node']} at {kill['t_s']} s: every component ok again after "
              f"{kill.get('all_ok_after_s', 'never')} s (target <= 10 s after the restart)")
    print(f"not recovered: {results['not_recovered']}; RSS {results.get('rss_mb_minute_2')} MB at minute 2 -> "
          f"{results['rss_mb_end']} MB at the end ({growth if growth is None else round(growth, 1)} %, target < 5 %)")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
