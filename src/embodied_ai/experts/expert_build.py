"""The steps every expert's build script shares (``models/experts/<name>/build.py``).

A build script writes its dataset, then calls these: train a LoRA on the quantized base's own
decoded weights (``train_lora``), keep the result as float16 PEFT weights for committing
(``export_adapter``), load exactly that file into the ONNX engine the registry serves from
(``adapter_engine``) to measure it on the held-out split, and write ``metrics.json``
(``write_metrics``). What differs per expert is the dataset and the quality measure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied_ai.experts.adapters import compact_peft_adapter, write_onnx_adapter
from embodied_ai.experts.base_build import BuiltBase, build_base
from embodied_ai.experts.engine import InferenceEngine
from embodied_ai.experts.training import TrainingConfig, TrainingJob, TrainingRequest

ADAPTER_WEIGHTS = "adapter_model.safetensors"
# The TrainingConfig fields a card reports.
REPORTED_CONFIG = ("learning_rate", "batch_size", "lora_rank", "lora_alpha", "lora_modules", "lora_layers",
                   "warmup_steps", "max_length", "threads")


@dataclass(frozen=True)
class BuildArgs:
    out: Path
    tiny: bool
    adapter_from: Path | None
    work: Path
    base: BuiltBase
    started: float = field(default_factory=time.monotonic)


class BuildFailed(RuntimeError):
    """Training did not complete (stopped or failed); the build script exits non-zero."""


def parse_build_args(name: str, doc: str | None, here: Path, argv: Sequence[str] | None = None) -> BuildArgs:
    """The options every build script takes, and the cached base (built once if missing)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=here, help="where adapter/ and metrics.json go")
    parser.add_argument("--tiny", action="store_true", help="a few rows and steps (tests)")
    parser.add_argument("--adapter-from", type=Path, help="skip training: export and evaluate this PEFT folder")
    parser.add_argument("--work", type=Path, help="job folder (default: a temporary one); a rerun with the same "
                                                  "folder resumes from its newest checkpoint")
    args = parser.parse_args(list(argv) if argv is not None else None)
    base = build_base(progress=lambda line: print(f"base: {line}", flush=True))
    work = args.work or Path(tempfile.mkdtemp(prefix=f"{name}-"))
    args.out.mkdir(parents=True, exist_ok=True)
    return BuildArgs(args.out, args.tiny, args.adapter_from, work, base)


def train_lora(name: str, train: Path, base: BuiltBase, config: TrainingConfig, work: Path,
               validation: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Train (or resume) the job ``work/jobs/<name>``; the PEFT folder and what to report."""
    job = TrainingJob(TrainingRequest(name, name, train, base.train_hf_dir, config, validation), work / "jobs")
    job.on_progress = lambda s: print(f"step {s.current_step}/{s.total_steps} loss {s.current_loss} "
                                      f"eta {s.eta_seconds} s", flush=True)
    status = job.run(resume=job.latest_checkpoint() is not None)
    if status.status != "completed":
        raise BuildFailed(f"training {name} {status.status}: {status.error}")
    training = {
        "steps": status.current_step, "final_loss": status.current_loss,
        "seconds": round(status.elapsed_seconds),
        "seconds_per_step": round(status.elapsed_seconds / max(1, status.current_step), 2),
        f"loss_every_{config.log_steps}_steps": status.train_loss,
        "validation_loss": status.val_loss,
        "examples": sum(1 for line in train.read_text().splitlines() if line.strip()),
        "config": {k: v for k, v in config.__dict__.items() if k in REPORTED_CONFIG},
    }
    return job.output_dir, training


def build_adapter(name: str, args: BuildArgs, train: Path, config: TrainingConfig) -> tuple[Path, dict[str, Any]]:
    """Train (unless ``--adapter-from`` names a PEFT folder) and export: ``out/adapter`` and what
    to report of the training (empty when it was skipped). Raises BuildFailed."""
    peft_dir = args.adapter_from
    training: dict[str, Any] = {}
    if peft_dir is None:
        peft_dir, training = train_lora(name, train, args.base, config, args.work)
    return export_adapter(peft_dir, args.out), training


def export_adapter(peft_dir: Path, out: Path) -> Path:
    """``out/adapter``: the PEFT adapter in float16, what is committed and installed."""
    adapter_out = out / "adapter"
    if adapter_out.resolve() != peft_dir.resolve():
        shutil.rmtree(adapter_out, ignore_errors=True)
        compact_peft_adapter(peft_dir, adapter_out)
    return adapter_out


def adapter_engine(base: BuiltBase, adapter_dir: Path, name: str, work: Path) -> InferenceEngine:
    """An engine on the ONNX base with ``adapter_dir`` converted as the registry converts it."""
    onnx_adapter = write_onnx_adapter(adapter_dir, work / f"{name}.onnx_adapter", set(base.lora_inputs))
    engine = InferenceEngine(base.onnx_dir)
    engine.load_adapter(name, onnx_adapter)
    return engine


def adapter_sha256(adapter_dir: Path) -> str:
    """The checksum that ties measured figures to the adapter weights they were measured on."""
    return hashlib.sha256((adapter_dir / ADAPTER_WEIGHTS).read_bytes()).hexdigest()


def write_metrics(args: BuildArgs, metrics: dict[str, Any]) -> Path:
    """``out/metrics.json`` with the build time, the base it was measured on and the checksum
    of the adapter it measured (a test holds the committed figures to the committed weights)."""
    metrics = {**metrics, "build_seconds": round(time.monotonic() - args.started),
               "base": {"precision": args.base.recipe.precision, "key": args.base.key},
               "adapter_sha256": adapter_sha256(args.out / "adapter")}
    path = args.out / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return path
