"""REST bridge benchmark: what the bridge adds on top of the graph, measured in one run.

Starts the graph (servo controller, sensors, experts, REST bridge on a free loopback port, no
rate limit) on a private DDS domain, then, each for a bounded time on loopback:
  - requests/s and p50/p99 latency of GET /v1/hardware/sensors (cached state) against the
    same server's idle endpoint GET /v1/health/live (the baseline: FastAPI + uvicorn alone);
  - a short POST /v1/inference/generate (8 tokens), if the experts node comes up;
  - SSE time to first token (POST /v1/inference/generate/stream to the first `message`
    event) against the generate action's first feedback seen by a plain rclpy client.
Prints ratios and writes bench/results/bridge.json. Stops everything it started, by PID.

    .venv/bin/python bench/bridge.py [--seconds 5] [--concurrency 8] [--generations 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "bridge.json"
PROFILE = REPO / "launch" / "fastdds_localhost.xml"
PROMPT = "What is two plus two?"


def dds_environment(domain_id: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               FASTDDS_DEFAULT_PROFILES_FILE=str(PROFILE), FASTRTPS_DEFAULT_PROFILES_FILE=str(PROFILE),
               PYTHONUNBUFFERED="1")
    return env


class Graph:
    """`embodied up` with the nodes this benchmark needs; its output is kept for the URL."""

    def __init__(self, domain_id: int, state_dir: str) -> None:
        nodes = ["servo_controller", "sensors", "experts", "rest_bridge"]
        argv = [sys.executable, "-m", "embodied_ai.cli", "up", *[a for n in nodes for a in ("--only", n)],
                "--set", "rest_bridge.port=0", "--set", f"rest_bridge.state_dir={state_dir}",
                "--set", 'rest_bridge.anonymous_rate_limit=""']  # unlimited
        self.output: list[str] = []
        self.popen = subprocess.Popen(argv, env=dds_environment(domain_id), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        threading.Thread(target=lambda: self.output.extend(line.rstrip() for line in self.popen.stdout),
                         daemon=True).start()

    def url(self, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(r"\[rest_bridge\]: serving on (http://[\d.]+:\d+)", "\n".join(self.output)):
                return match.group(1)
            time.sleep(0.2)
        raise RuntimeError("the bridge did not start:\n" + "\n".join(self.output[-30:]))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def summary(latencies_s: list[float], elapsed_s: float) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies_s)
    return {"requests": len(ms), "requests_per_s": len(ms) / elapsed_s, "p50_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))], "mean_ms": statistics.fmean(ms)}


async def load(url: str, path: str, seconds: float, concurrency: int) -> dict[str, float]:
    """``concurrency`` clients in a closed loop for ``seconds``: bounded by construction."""
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await client.get(path)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {**summary(latencies, elapsed), "errors": errors}


async def generations(url: str, count: int) -> dict[str, float]:
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        started = time.perf_counter()
        for _ in range(count):
            t0 = time.perf_counter()
            response = await client.post("/v1/inference/generate", json={"prompt": PROMPT, "max_tokens": 8})
            response.raise_for_status()
            latencies.append(time.perf_counter() - t0)
        return summary(latencies, time.perf_counter() - started)


async def sse_first_token(url: str, count: int) -> list[float]:
    firsts: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for attempt in range(count):
            t0 = time.perf_counter()
            async with aconnect_sse(client, "POST", "/v1/inference/generate/stream",
                                    json={"prompt": PROMPT, "max_tokens": 8}) as source:
                async for event in source.aiter_sse():  # read to the end: the generation finishes normally
                    if event.event == "message" and len(firsts) == attempt:
                        firsts.append(time.perf_counter() - t0)
    return firsts


def action_first_feedback(domain_id: int, count: int) -> list[float]:
    """The same request straight to the generate action with rclpy: goal sent -> first feedback."""
    os.environ.update({k: v for k, v in dds_environment(domain_id).items() if k.startswith(("ROS_", "FAST"))})
    import rclpy
    from embodied_interfaces.action import Generate

    from embodied_ros.kit.action_client import ThreadSafeActionClient as ActionClient

    rclpy.init()
    node = rclpy.create_node("bench_bridge_client")
    client = ActionClient(node, Generate, "generate")
    assert client.wait_for_server(30.0), "no generate action"
    firsts = []
    try:
        for _ in range(count):
            first: list[float] = []
            t0 = time.perf_counter()
            goal = client.send_goal_async(Generate.Goal(prompt=PROMPT, max_tokens=8),
                                          feedback_callback=lambda _: first or first.append(time.perf_counter() - t0))
            rclpy.spin_until_future_complete(node, goal, timeout_sec=60)
            result = goal.result().get_result_async()
            rclpy.spin_until_future_complete(node, result, timeout_sec=120)
            firsts.append(first[0])
    finally:
        node.destroy_node()
        rclpy.shutdown()
    return firsts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per load phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--generations", type=int, default=10)
    args = parser.parse_args()
    domain_id = random.Random().randrange(100, 232)
    results: dict[str, object] = {"domain_id": domain_id, "seconds": args.seconds, "concurrency": args.concurrency,
                                  "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as state_dir:
        graph = Graph(domain_id, state_dir)
        try:
            url = graph.url()
            with httpx.Client(base_url=url, timeout=10) as client:
                deadline = time.monotonic() + 30
                while client.get("/v1/hardware/sensors").status_code != 200:
                    assert time.monotonic() < deadline, "the bridge never saw the servo controller"
                    time.sleep(0.2)
            experts_up = False
            deadline = time.monotonic() + 180  # the experts node loads its models first
            while time.monotonic() < deadline and not experts_up:
                experts_up = httpx.get(f"{url}/v1/health", timeout=10).json()["components"].get("experts") == "ok"
                time.sleep(1.0)
            # Load phases after the experts node has loaded its models: a machine at rest.
            idle = asyncio.run(load(url, "/v1/health/live", args.seconds, args.concurrency))
            sensors = asyncio.run(load(url, "/v1/hardware/sensors", args.seconds, args.concurrency))
            results.update(idle_endpoint=idle, sensors=sensors,
                           sensors_vs_idle_throughput=sensors["requests_per_s"] / idle["requests_per_s"],
                           sensors_vs_idle_p99=sensors["p99_ms"] / idle["p99_ms"])
            print(f"idle    {idle['requests_per_s']:8.0f} req/s  p50 {idle['p50_ms']:.2f} ms  "
                  f"p99 {idle['p99_ms']:.2f} ms")
            print(f"sensors {sensors['requests_per_s']:8.0f} req/s  p50 {sensors['p50_ms']:.2f} ms  "
                  f"p99 {sensors['p99_ms']:.2f} ms  ({results['sensors_vs_idle_throughput']:.2f}x idle throughput)")
            if not experts_up:
                results["generate"] = "unavailable: the experts node did not come up within 180 s"
                print(results["generate"])
            else:
                generate = asyncio.run(generations(url, args.generations))
                sse = asyncio.run(sse_first_token(url, args.generations))
                action = action_first_feedback(domain_id, args.generations)
                results.update(generate=generate, sse_first_token_ms=statistics.median(sse) * 1000,
                               action_first_feedback_ms=statistics.median(action) * 1000,
                               sse_vs_action_first_token=statistics.median(sse) / statistics.median(action))
                print(f"generate (8 tokens) {generate['requests_per_s']:.2f} req/s  p50 {generate['p50_ms']:.0f} ms  "
                      f"p99 {generate['p99_ms']:.0f} ms")
                print(f"first token: SSE {results['sse_first_token_ms']:.1f} ms vs action feedback "
                      f"{results['action_first_feedback_ms']:.1f} ms ({results['sse_vs_action_first_token']:.2f}x)")
        finally:
            graph.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
