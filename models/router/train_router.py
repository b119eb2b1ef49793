"""Train the router's gate on the labelled prompts and measure it on the held-out set.

Embeds the prompts with all-MiniLM-L6-v2 (int8 ONNX, the same embedder the router runs),
fits the gate with torch, exports it to ONNX (IR 10) and scores the exported file under ONNX
Runtime on the held-out prompts, whose phrasings never occur in training (build_dataset.py).

    python models/router/build_dataset.py            # data/train.jsonl, data/heldout.jsonl
    python models/router/train_router.py             # gate.onnx + metrics.json next to this file
    python models/router/train_router.py --out-dir /tmp/gate --epochs 3   # a quick try
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from embodied_ai.experts.router.embedding import SentenceEmbedder
from embodied_ai.experts.router.examples import load_labelled_prompts
from embodied_ai.experts.router.gate import GateSession, GateTrainingConfig, train_gate
from embodied_ai.experts.router.router import RouterConfig
from embodied_ai.experts.router.storage import atomic_write_json

HERE = Path(__file__).resolve().parent


def evaluate(
    gate: GateSession, prompts: list[str], embeddings: np.ndarray, labels: list[str], threshold: float
) -> dict:
    """Top-1 accuracy of the gate alone (no fallback), per expert, with the confusion counts,
    and how often the fallback would have been used at `threshold`."""
    probabilities = gate.probabilities(embeddings)
    predicted = [gate.experts[i] for i in probabilities.argmax(axis=1)]
    confidence = probabilities.max(axis=1)
    correct = [p == t for p, t in zip(predicted, labels)]
    per_expert = {}
    for expert in gate.experts:
        rows = [i for i, label in enumerate(labels) if label == expert]
        per_expert[expert] = {
            "examples": len(rows),
            "accuracy": round(float(np.mean([correct[i] for i in rows])), 4) if rows else None,
            "confused_with": dict(Counter(predicted[i] for i in rows if not correct[i]).most_common()),
        }
    return {
        "examples": len(labels),
        "accuracy": round(float(np.mean(correct)), 4),
        "per_expert": per_expert,
        "threshold": threshold,
        "fallback_rate": round(float(np.mean(confidence < threshold)), 4),
        "mean_confidence": round(float(confidence.mean()), 4),
        "errors": [
            {"prompt": p, "expected": t, "predicted": q, "confidence": round(float(c), 3)}
            for p, t, q, c, ok in zip(prompts, labels, predicted, confidence, correct) if not ok
        ][:50],
    }



def main(argv: list[str] | None = None) -> int:
    defaults = GateTrainingConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=HERE / "data" / "train.jsonl")
    parser.add_argument("--heldout", type=Path, default=HERE / "data" / "heldout.jsonl")
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where gate.onnx and metrics.json go")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--hidden-units", type=int, default=defaults.hidden_units)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threshold", type=float, default=RouterConfig().threshold)
    args = parser.parse_args(argv)

    train_rows = load_labelled_prompts(args.train)
    heldout_rows = load_labelled_prompts(args.heldout)
    for name, loaded in (("train", train_rows), ("heldout", heldout_rows)):
        for error in loaded.errors:
            print(f"{name} row {error.row}: {error.message}", file=sys.stderr)

    embedder = SentenceEmbedder()
    started = time.perf_counter()
    train_embeddings = embedder.embed([e.prompt for e in train_rows.examples])
    heldout_prompts = [e.prompt for e in heldout_rows.examples]
    heldout_embeddings = embedder.embed(heldout_prompts)
    embed_seconds = time.perf_counter() - started
    print(f"embedded {len(train_embeddings) + len(heldout_embeddings)} prompts in {embed_seconds:.1f} s")

    config = GateTrainingConfig(hidden_units=args.hidden_units, epochs=args.epochs, seed=args.seed)
    trained = train_gate(train_embeddings, [e.expert for e in train_rows.examples], config=config)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    gate_path = args.out_dir / "gate.onnx"
    gate = GateSession(trained.onnx_bytes)
    gate.save(gate_path)

    heldout_labels = [e.expert for e in heldout_rows.examples]
    unknown = sorted(set(heldout_labels) - set(gate.experts))
    if unknown:
        raise SystemExit(f"held-out set names experts the gate was not trained on: {unknown}")
    heldout_metrics = evaluate(gate, heldout_prompts, heldout_embeddings, heldout_labels, args.threshold)
    metrics = {
        "gate": gate_path.name,
        "experts": gate.experts,
        "training": trained.metrics.to_dict(),
        "training_config": config.__dict__,
        "heldout": heldout_metrics,
        "embedding_seconds": round(embed_seconds, 2),
        "python": platform.python_version(),  # the python expert's prompts come from this stdlib
    }
    atomic_write_json(args.out_dir / "metrics.json", metrics)
    print(
        f"gate -> {gate_path} ({gate_path.stat().st_size} bytes); train accuracy "
        f"{trained.metrics.train_accuracy:.4f}, validation {trained.metrics.validation_accuracy}, "
        f"held-out accuracy {heldout_metrics['accuracy']:.4f} on {heldout_metrics['examples']} prompts"
    )
    for expert, row in heldout_metrics["per_expert"].items():
        print(f"  {expert}: {row['accuracy']} ({row['examples']}) confused with {row['confused_with']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
