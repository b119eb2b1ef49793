"""Rebuild the robot_control expert: dataset → LoRA on the int8 base's own weights → adapter
(float16 PEFT, committed) → evaluation through ONNX Runtime GenAI with the action schema as
constrained decoding, on the builder's held-out split and on ``novel_phrasings.jsonl`` (commands
written by hand in words the templates never use) → metrics.json and the model card's numbers.

    .venv/bin/python models/experts/robot_control/build.py            # the committed adapter (card.md: time)
    .venv/bin/python models/experts/robot_control/build.py --tiny --out /tmp/rc   # the test's configuration

Everything is seeded; the dataset builder is embodied_ai.experts.datasets_builtin.robot_control,
the shared steps are embodied_ai.experts.expert_build.
"""

from __future__ import annotations

import sys
from pathlib import Path

from embodied_ai.experts.datasets_builtin.robot_control import write_dataset
from embodied_ai.experts.evaluation import evaluate_robot_control, read_rows
from embodied_ai.experts.expert_build import BuildFailed, adapter_engine, build_adapter, parse_build_args, write_metrics
from embodied_ai.experts.training import TrainingConfig

HERE = Path(__file__).resolve().parent
NOVEL_PHRASINGS = HERE / "novel_phrasings.jsonl"
# The committed adapter's recipe (measured run in card.md).
FULL = {"train_count": 4000, "held_out_count": 120, "max_steps": 360, "lora_rank": 16, "lora_alpha": 32,
        "lora_layers": tuple(range(22, 30))}
TINY = {"train_count": 24, "held_out_count": 4, "max_steps": 2, "lora_rank": 8, "lora_alpha": 16,
        "lora_layers": tuple(range(22, 30))}


def main(argv: list[str] | None = None) -> int:
    args = parse_build_args("robot_control", __doc__, HERE, argv)
    recipe = TINY if args.tiny else FULL
    data = write_dataset(args.work / "data", recipe["train_count"], recipe["held_out_count"], seed=0)

    config = TrainingConfig(max_steps=recipe["max_steps"], save_steps=40, learning_rate=8e-4, warmup_steps=20,
                            lora_rank=recipe["lora_rank"], lora_alpha=recipe["lora_alpha"],
                            lora_layers=recipe["lora_layers"])
    try:
        adapter, training = build_adapter("robot_control", args, data["train"], config)
    except BuildFailed as failed:
        print(failed, file=sys.stderr)
        return 1

    # Evaluate exactly what ships: the float16 adapter, converted as the registry converts it.
    engine = adapter_engine(args.base, adapter, "robot_control", args.work)
    held_out = read_rows(data["held_out"])
    report = evaluate_robot_control(engine, "robot_control", held_out)
    novel_rows = read_rows(NOVEL_PHRASINGS)
    novel = evaluate_robot_control(engine, "robot_control", novel_rows[:4] if args.tiny else novel_rows)
    base_report = evaluate_robot_control(engine, None, held_out[:30])  # the same schema, no adapter
    write_metrics(args, {"held_out": report.to_metrics(), "novel_phrasings": novel.to_metrics(),
                         "base_without_adapter": base_report.to_metrics(), "training": training,
                         "failures": report.failures[:20], "novel_failures": novel.failures})
    print(f"robot_control held-out exact {report.exact}/{report.examples} ({report.exact_rate:.1%}), "
          f"valid {report.valid}/{report.examples}; novel phrasings exact {novel.exact}/{novel.examples} "
          f"({novel.exact_rate:.1%}); base without adapter exact {base_report.exact}/{base_report.examples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
