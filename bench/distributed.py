"""Distributed training's overhead: the same expert LoRA training job (same rows, global batch, steps and
learning rate) run by the job system with the local backend, then with the ray backend on 1 and on 2
workers, and the time a worker takes to join, measured in the same run.

Setup: a Ray cluster of two nodes on loopback (one CPU slot each, Ray's single-host mode, as the tests
start it), a state directory with one expert and a dataset of `--rows` rows, the experts' real base from
the cache. Each side is a `training` job of a JobSystem (the jobs node's core): `local` (the Hugging Face
Trainer in this process, one torch thread) and `ray` with `distributed: true, n_clients: 1 | 2` (Ray
Train's TorchTrainer, one torch thread per worker, a checkpoint every `--save-steps`).

Figures per side and repeat: the job's wall time from submit to completed (model loading, Ray's worker
start, checkpoints, registering the version), and the training rate: samples per second between the
first and the last METRIC line (steps 1..N: `(N - 1) * batch_size / seconds`), which leaves out the
start. Ratios: each ray side's training rate over the local side's (1.0: as fast; on 2 cores two
workers share the two cores with the driver, so no speed-up is expected: the ratio is the overhead),
per repeat, the headline their median; and the wall times' ratio. Sides run in a rotating order per
repeat, so a drift in the machine's load falls on all alike. Then `--joins` times `embodied worker join`
(a subprocess, the product's CLI) from its start to its node alive in Ray's view, stopped by its PID
after each. Load averages at the start, after each repeat and at the end.

Run: .venv/bin/python bench/distributed.py [--repeats 3] [--steps 12] [--rows 48] [--batch-size 8]
     [--joins 3] [--quick] [--out bench/results/distributed.json]
``--quick``: 1 repeat of 3 steps, 1 join: a smoke run whose figures say little.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import git_state, load  # noqa: E402

EXPERT = "bench_sums"
SIDES = ("local", "ray_1", "ray_2")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--save-steps", type=int, default=4)
    parser.add_argument("--joins", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "distributed.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.steps, args.joins, args.save_steps = 1, 3, 1, 3
    return args


def run_job(system: Any, side: str, args: argparse.Namespace) -> dict[str, Any]:
    """One training job of ``side`` to its end: wall time and the training rate from its METRIC lines."""
    from embodied_ai.database import MAX_PAGE
    from embodied_ai.jobs import LogLevel

    config: dict[str, Any] = {"expert_id": EXPERT, "batch_size": args.batch_size, "max_steps": args.steps,
                              "save_steps": args.save_steps, "warmup_steps": 0, "learning_rate": 1e-3}
    if side != "local":
        config.update(distributed=True, n_clients=int(side.split("_")[1]))
    started = time.monotonic()
    job = system.runner.submit("training", config)
    while not (job := system.store.get(job.id)).status.terminal:
        time.sleep(0.05)
    wall = time.monotonic() - started
    if job.status.value != "completed":
        raise SystemExit(f"{side}: job {job.id} {job.status.value}: {job.error}")
    metrics = [line for line in system.store.logs(job.id, limit=MAX_PAGE) if line.level is LogLevel.METRIC]
    first, last = (dt.datetime.fromisoformat(metrics[i].timestamp.replace("Z", "+00:00")) for i in (0, -1))
    seconds = (last - first).total_seconds()
    rate = (len(metrics) - 1) * args.batch_size / seconds if seconds > 0 else None
    return {"side": side, "job": job.id, "wall_s": round(wall, 2), "steps": len(metrics),
            "train_seconds": round(seconds, 2), "samples_per_s": round(rate, 2) if rate else None}


def time_join(address: str) -> float:
    """Seconds from `embodied worker join` starting to its node alive in Ray's view; then stopped by PID."""
    import ray

    before = {node["NodeID"] for node in ray.nodes()}
    started = time.monotonic()
    worker = subprocess.Popen([str(Path(sys.executable).with_name("embodied")), "worker", "join", address,
                               "--num-cpus", "1", "--node-ip-address", "127.0.0.1"],
                              env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while not any(node["Alive"] and node["NodeID"] not in before for node in ray.nodes()):
            if worker.poll() is not None or time.monotonic() - started > 120:
                raise SystemExit(f"the worker did not join: {worker.communicate()[0]}")
            time.sleep(0.05)
        joined = time.monotonic() - started
        worker.stdout.readline() if worker.stdout else None   # printed once it can be stopped cleanly
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    return joined


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from embodied_ai.distributed.cluster import RAY_NAMESPACE, import_ray
    from embodied_ai.experts.base_build import build_base
    from embodied_ai.jobs.config import JobsNodeConfig
    from embodied_ai.jobs.system import JobSystem

    ray = import_ray(loopback=True)
    from ray.cluster_utils import Cluster

    loads = {"start": load()}
    base = build_base()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                              "include_dashboard": False})
    cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, namespace=RAY_NAMESPACE, log_to_driver=False)
    runs: list[dict[str, Any]] = []
    joins: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            systems = {}
            for backend in ("local", "ray"):
                system = JobSystem.open(JobsNodeConfig(state_dir=str(Path(folder) / backend), poll_s=0.05,
                                                       backend=backend, ray_address=cluster.address),
                                        base=lambda: base)
                system.experts.create(EXPERT, "Sums", "math", status="ready")
                rows = "".join(json.dumps({"prompt": f"what is {i} plus {i % 7}", "completion": str(i + i % 7)})
                               + "\n" for i in range(args.rows))
                system.datasets.add(rows.encode(), "sums.jsonl", expert=EXPERT)
                system.start()
                systems[backend] = system
            try:
                for repeat in range(args.repeats):
                    order = SIDES[repeat % 3:] + SIDES[:repeat % 3]
                    for side in order:
                        run = run_job(systems["local" if side == "local" else "ray"], side, args)
                        runs.append({**run, "repeat": repeat})
                        print(f"repeat {repeat} {side}: {run['samples_per_s']} samples/s, {run['wall_s']} s")
                    loads[f"after_repeat_{repeat}"] = load()
                systems["ray"].cluster.workers()   # the product has joined and recorded its version
                for _ in range(args.joins):
                    joins.append(round(time_join(cluster.address), 2))
                    print(f"worker joined in {joins[-1]} s")
            finally:
                for system in systems.values():
                    system.close(timeout_s=60)
    finally:
        ray.shutdown()
        cluster.shutdown()
    loads["end"] = load()
    results = summarise(runs, joins, args, loads)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["headline"], indent=2))
    return 0


def summarise(runs: list[dict[str, Any]], joins: list[float], args: argparse.Namespace,
              loads: dict[str, list[float]]) -> dict[str, Any]:
    by_repeat: dict[int, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_repeat.setdefault(run["repeat"], {})[run["side"]] = run
    ratios: dict[str, list[float]] = {"ray_1": [], "ray_2": []}
    wall_ratios: dict[str, list[float]] = {"ray_1": [], "ray_2": []}
    for sides in by_repeat.values():
        local = sides["local"]
        for side in ratios:
            if local["samples_per_s"] and sides[side]["samples_per_s"]:
                ratios[side].append(round(sides[side]["samples_per_s"] / local["samples_per_s"], 3))
            wall_ratios[side].append(round(sides[side]["wall_s"] / local["wall_s"], 3))

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 3) if values else None
    rates = {side: median([r["samples_per_s"] for r in runs if r["side"] == side and r["samples_per_s"]])
             for side in SIDES}
    headline = {"samples_per_s": rates,
                "rate_ratio_vs_local": {side: median(values) for side, values in ratios.items()},
                "wall_ratio_vs_local": {side: median(values) for side, values in wall_ratios.items()},
                "join_s": median(joins), "load": loads}
    return {"bench": "distributed", "time": dt.datetime.now(dt.timezone.utc).isoformat(), **git_state(),
            "config": {key: value for key, value in vars(args).items() if key != "out"}, "cores": os.cpu_count(),
            "headline": headline, "ratios_per_repeat": ratios, "runs": runs, "joins_s": joins}


if __name__ == "__main__":
    sys.exit(main())
