"""Rebuild the math expert: generated arithmetic and linear equations with worked answers →
LoRA on the int8 base's own weights → adapter (float16 PEFT, committed) → final-answer accuracy
on held-out generated problems through ONNX Runtime GenAI → metrics.json (numbers in card.md).

    .venv/bin/python models/experts/math/build.py                      # the committed adapter
    .venv/bin/python models/experts/math/build.py --tiny --out /tmp/m  # the test's configuration

Held-out problems come from the same seeded generator after the training rows; no held-out
prompt equals a training prompt (the builder keeps prompts unique). Shared steps:
embodied_ai.experts.expert_build.
"""

from __future__ import annotations

import sys
from pathlib import Path

from embodied_ai.experts.datasets_builtin.math import write_dataset
from embodied_ai.experts.evaluation import EvaluationReport, evaluate_final_answers, read_rows
from embodied_ai.experts.expert_build import BuildFailed, adapter_engine, build_adapter, parse_build_args, write_metrics
from embodied_ai.experts.training import TrainingConfig

HERE = Path(__file__).resolve().parent
# The committed adapter's recipe (measured run in card.md).
FULL = {"train_count": 3000, "held_out_count": 100, "max_steps": 160, "lora_rank": 16, "lora_alpha": 32,
        "lora_layers": tuple(range(22, 30))}
TINY = {"train_count": 24, "held_out_count": 4, "max_steps": 2, "lora_rank": 8, "lora_alpha": 16,
        "lora_layers": tuple(range(22, 30))}


def main(argv: list[str] | None = None) -> int:
    args = parse_build_args("math", __doc__, HERE, argv)
    recipe = TINY if args.tiny else FULL
    data = write_dataset(args.work / "data", recipe["train_count"], recipe["held_out_count"], seed=0)

    config = TrainingConfig(max_steps=recipe["max_steps"], save_steps=50, learning_rate=8e-4, warmup_steps=20,
                            lora_rank=recipe["lora_rank"], lora_alpha=recipe["lora_alpha"],
                            lora_layers=recipe["lora_layers"])
    try:
        adapter, training = build_adapter("math", args, data["train"], config)
    except BuildFailed as failed:
        print(failed, file=sys.stderr)
        return 1

    engine = adapter_engine(args.base, adapter, "math", args.work)
    held_out = read_rows(data["held_out"])
    report = evaluate_final_answers(engine, "math", held_out)
    base_report = evaluate_final_answers(engine, None, held_out[:30])  # the bare base, same prompts
    kinds = {"equation": [r for r in held_out if "x" in r["prompt"]],
             "arithmetic": [r for r in held_out if "x" not in r["prompt"]]}
    failed = {f["prompt"] for f in report.failures}

    def measured(r: EvaluationReport) -> dict[str, object]:  # "valid" here: an answer was stated at all
        kept = {k: v for k, v in r.to_metrics().items() if k != "valid_json"}
        return {**kept, "answer_stated": round(r.valid_rate, 4)}
    write_metrics(args, {
        "held_out": {**measured(report),
                     **{f"accuracy_{kind}": round(sum(r["prompt"] not in failed for r in rows) / max(1, len(rows)), 4)
                        for kind, rows in kinds.items()},
                     **{f"examples_{kind}": len(rows) for kind, rows in kinds.items()}},
        "base_without_adapter": measured(base_report),
        "training": training, "failures": report.failures[:20],
        "base_failures": base_report.failures[:5]})
    print(f"math held-out final answer {report.exact}/{report.examples} ({report.exact_rate:.1%}), answer stated "
          f"{report.valid}/{report.examples}; base without adapter {base_report.exact}/{base_report.examples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
