"""Router latency: p50 / p99 of Router.route (one prompt) and Router.route_batch, against the
bare ONNX Runtime encoder call on the same tokenised inputs, measured in the same run.

Baseline: `session.run` of the MiniLM int8 encoder (the same InferenceSession the router uses)
on feeds tokenised beforehand, so it is the floor the router cannot beat. The router adds
tokenisation, mean pooling, the gate (a second small ONNX session) and recording the decision
in SQLite. The ratio router / baseline is what the router's own code costs.

Prompts are the held-out router prompts (models/router/data/heldout.jsonl), cycled.

Run: .venv/bin/python bench/router.py [--single 300] [--batches 30] [--batch-size 32]
     [--out bench/results/router.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime

from embodied_ai.experts.router import Router, SentenceEmbedder, load_labelled_prompts

REPO = Path(__file__).resolve().parents[1]
HELDOUT = REPO / "models" / "router" / "data" / "heldout.jsonl"


def timed_pairs_ms(
    baseline: list[Callable[[], object]], candidate: list[Callable[[], object]], warmup: int
) -> tuple[list[float], list[float]]:
    """Time baseline[i] and candidate[i] back to back, alternating which goes first, so load
    from other processes on a shared machine falls on both alike."""
    for call in baseline[:warmup] + candidate[:warmup]:
        call()
    base_ms, cand_ms = [], []
    for i, (first, second) in enumerate(zip(baseline, candidate)):
        order = [(first, base_ms), (second, cand_ms)]
        for call, samples in order if i % 2 == 0 else reversed(order):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000.0)
    return base_ms, cand_ms


def summary(samples_ms: list[float], prompts_per_call: int = 1) -> dict[str, float]:
    values = np.array(samples_ms)
    return {
        "calls": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(values.mean()), 3),
        "prompts_per_s": round(prompts_per_call * 1000.0 / float(values.mean()), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=300, help="single-prompt calls per method")
    parser.add_argument("--batches", type=int, default=30, help="batch calls per method")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "router.json")
    args = parser.parse_args(argv)

    prompts = [e.prompt for e in load_labelled_prompts(HELDOUT).examples]
    embedder = SentenceEmbedder()
    session = embedder.session
    with tempfile.TemporaryDirectory() as state:
        router = Router.load(Path(state) / "router", embedder=embedder)
        singles = [prompts[i % len(prompts)] for i in range(args.single)]
        batches = [[prompts[(b * args.batch_size + j) % len(prompts)] for j in range(args.batch_size)]
                   for b in range(args.batches)]
        # Tokenise outside the timed region for the baseline: it measures the encoder alone.
        single_feeds = [embedder.encode([p]).feeds for p in singles]
        batch_feeds = [embedder.encode(batch).feeds for batch in batches]

        def raw(feeds: dict[str, np.ndarray]) -> Callable[[], object]:
            return lambda: session.run(["last_hidden_state"], feeds)

        single_raw, single_router = timed_pairs_ms(
            [raw(f) for f in single_feeds], [lambda p=p: router.route(p) for p in singles], warmup=10)
        batch_raw, batch_router = timed_pairs_ms(
            [raw(f) for f in batch_feeds], [lambda b=b: router.route_batch(b) for b in batches], warmup=2)
        results = {
            "single_baseline_session_run": summary(single_raw),
            "single_router_route": summary(single_router),
            "batch_baseline_session_run": summary(batch_raw, args.batch_size),
            "batch_router_route_batch": summary(batch_router, args.batch_size),
        }
        router.close()

    ratios = {
        "single_p50_router_over_baseline": round(
            results["single_router_route"]["p50_ms"] / results["single_baseline_session_run"]["p50_ms"], 2),
        "batch_p50_router_over_baseline": round(
            results["batch_router_route_batch"]["p50_ms"] / results["batch_baseline_session_run"]["p50_ms"], 2),
    }
    report = {
        "benchmark": "router",
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                    "intra_op_threads": embedder.session.get_session_options().intra_op_num_threads},
        "batch_size": args.batch_size,
        "results": results,
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, row in results.items():
        print(f"{name:32s} p50 {row['p50_ms']:8.2f} ms  p99 {row['p99_ms']:8.2f} ms  {row['prompts_per_s']:8.1f} prompts/s")
    print(f"router / baseline (p50): single {ratios['single_p50_router_over_baseline']}x, "
          f"batch {ratios['batch_p50_router_over_baseline']}x   -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
