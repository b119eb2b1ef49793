"""Rebuild the robot_control expert: dataset → LoRA on the int8 base's own weights → adapter
(float16 PEFT, committed) → held-out evaluation through ONNX Runtime GenAI with the action
schema as constrained decoding → metrics.json and the model card's numbers.

    .venv/bin/python models/experts/robot_control/build.py            # the committed adapter (~20 min on 2 busy cores)
    .venv/bin/python models/experts/robot_control/build.py --tiny --out /tmp/rc   # the test's configuration

Everything is seeded; the dataset builder is embodied_ai.experts.datasets_builtin.robot_control.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from embodied_ai.experts.adapters import compact_peft_adapter, write_onnx_adapter
from embodied_ai.experts.base_build import build_base
from embodied_ai.experts.datasets_builtin.robot_control import write_dataset
from embodied_ai.experts.engine import InferenceEngine
from embodied_ai.experts.evaluation import evaluate_robot_control, read_rows
from embodied_ai.experts.training import TrainingConfig, TrainingJob, TrainingRequest

HERE = Path(__file__).resolve().parent
# The committed adapter's recipe (measured run in card.md).
FULL = {"train_count": 2000, "held_out_count": 120, "max_steps": 120}
TINY = {"train_count": 24, "held_out_count": 4, "max_steps": 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="where adapter/ and metrics.json go")
    parser.add_argument("--tiny", action="store_true", help="a few rows and steps (tests)")
    parser.add_argument("--adapter-from", type=Path, help="skip training: export and evaluate this PEFT folder")
    parser.add_argument("--work", type=Path, help="job folder (default: a temporary one)")
    args = parser.parse_args(argv)
    recipe = TINY if args.tiny else FULL
    base = build_base(progress=lambda line: print(f"base: {line}", flush=True))
    work = args.work or Path(tempfile.mkdtemp(prefix="robot_control-"))
    data = write_dataset(work / "data", recipe["train_count"], recipe["held_out_count"], seed=0)

    started = time.monotonic()
    peft_dir = args.adapter_from
    training: dict[str, object] = {}
    if peft_dir is None:
        config = TrainingConfig(max_steps=recipe["max_steps"], save_steps=40, learning_rate=8e-4, warmup_steps=10)
        job = TrainingJob(TrainingRequest("robot_control", "robot_control", data["train"], base.train_hf_dir, config),
                          work / "jobs")
        job.on_progress = lambda s: print(f"step {s.current_step}/{s.total_steps} loss {s.current_loss} "
                                          f"eta {s.eta_seconds} s", flush=True)
        status = job.run(resume=job.latest_checkpoint() is not None)
        if status.status != "completed":
            print(f"training {status.status}: {status.error}", file=sys.stderr)
            return 1
        peft_dir = job.output_dir
        training = {"steps": status.current_step, "final_loss": status.current_loss,
                    "seconds": round(status.elapsed_seconds), "config": {
                        k: v for k, v in config.__dict__.items() if k in (
                            "learning_rate", "batch_size", "lora_rank", "lora_alpha", "lora_modules", "lora_layers",
                            "warmup_steps", "threads")}}

    adapter_out = args.out / "adapter"
    if adapter_out.resolve() != peft_dir.resolve():
        shutil.rmtree(adapter_out, ignore_errors=True)
        compact_peft_adapter(peft_dir, adapter_out)

    # Evaluate exactly what ships: the float16 adapter, converted as the registry converts it.
    onnx_adapter = write_onnx_adapter(adapter_out, work / "robot_control.onnx_adapter", set(base.lora_inputs))
    engine = InferenceEngine(base.onnx_dir)
    engine.load_adapter("robot_control", onnx_adapter)
    held_out = read_rows(data["held_out"])
    report = evaluate_robot_control(engine, "robot_control", held_out)
    base_report = evaluate_robot_control(engine, None, held_out[:30])  # the same schema, no adapter
    metrics = {
        "held_out": report.to_metrics(), "base_without_adapter": base_report.to_metrics(),
        "training": training, "failures": report.failures[:20], "build_seconds": round(time.monotonic() - started),
        "base": {"precision": base.recipe.precision, "key": base.key},
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"robot_control held-out exact {report.exact}/{report.examples} ({report.exact_rate:.1%}), "
          f"valid {report.valid}/{report.examples}; base without adapter exact {base_report.exact}/{base_report.examples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
