"""The experts service: registry + inference engine + router + training, as one object.

This is what the experts node and the REST bridge call. It decides which expert answers
(the router, or the caller's choice), keeps the engine's loaded experts in step with the
registry, counts usage and measured performance, and runs training jobs in threads with
the Robot API's rules: a busy expert cannot be trained twice, a serving expert cannot be
deleted, and every refusal carries an error code of the Robot API.

An expert is either a LoRA adapter on the shared base (created without a shape) or its own
small Llama-shaped model trained from scratch (created with d_model / n_layers / n_heads or a
size preset). Resizing (the Robot API's POST /experts/{id}/resize) trains a new version of the
expert from scratch at the new shape on its latest dataset; a finished scratch model is
exported to ONNX by ORT GenAI's model builder at the expert's quantization and served by
the engine as a model of its own.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.adapters import write_onnx_adapter
from embodied_ai.experts.base_build import BaseRecipe, BuiltBase, build_base, run_builder
from embodied_ai.experts.config import ExpertsNodeConfig
from embodied_ai.experts.engine import GenerationRequest, GenerationResult, InferenceEngine, LatencyWindow
from embodied_ai.experts.paths import REPO_EXPERTS_DIR
from embodied_ai.experts.registry import DatasetRecord, Expert, ExpertRegistry, JobRecord
from embodied_ai.experts.training import TrainingConfig, TrainingJob, TrainingRequest, TrainingStatus

if TYPE_CHECKING:
    from embodied_ai.experts.router import RetrainResult

GENERAL = "general"
PERFORMANCE_EVERY_N_CALLS = 10
BASE_MODEL = "SmolLM2-135M-Instruct"
# Shapes of the Robot API SDK's size presets (experts trained from scratch).
SIZE_PRESETS: dict[str, dict[str, int]] = {
    "small": {"d_model": 256, "n_layers": 4, "n_heads": 4},
    "medium": {"d_model": 512, "n_layers": 8, "n_heads": 8},
    "large": {"d_model": 768, "n_layers": 12, "n_heads": 12},
}
# The builder's precision per registry quantization. The CPU execution provider has no fp16
# kernels, so FP16 experts are built at fp32 here.
PRECISION = {"Q8": "int8", "Q4": "int4", "FP16": "fp32"}
BYTES_PER_PARAMETER = {"Q8": 1.0, "Q4": 0.5, "FP16": 2.0}
ROW_ERRORS_REPORTED = 20
UNFINISHED = ("queued", "running", "stopping")  # a job that can still be stopped
SETTABLE_STATUSES = ("ready", "disabled")        # what a caller may set; the rest belong to training


def model_shape(d_model: int, n_layers: int, n_heads: int) -> dict[str, int]:
    """A from-scratch model's shape (Llama layout, d_ff = 4 d_model), checked before training."""
    if min(d_model, n_layers, n_heads) < 1:
        raise EmbodiedError("d_model, n_layers and n_heads must be positive", ErrorCode.EXPERT_CREATION_FAILED)
    if d_model % n_heads or (d_model // n_heads) % 2:
        raise EmbodiedError(f"d_model {d_model} must split into {n_heads} heads of an even size (rotary "
                            "embeddings)", ErrorCode.EXPERT_CREATION_FAILED)
    if d_model % 32:
        raise EmbodiedError(f"d_model {d_model} must be a multiple of 32 (the quantized MatMul block)",
                            ErrorCode.EXPERT_CREATION_FAILED)
    return {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads, "d_ff": 4 * d_model}


def parameter_count(hidden: int, layers: int, heads: int, kv_heads: int, d_ff: int, vocab: int,
                    tied_embeddings: bool = True) -> int:
    """Weights of a Llama-shaped decoder (norms included)."""
    kv = hidden // heads * kv_heads
    per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * d_ff + 2 * hidden
    embeddings = vocab * hidden * (1 if tied_embeddings else 2)
    return layers * per_layer + embeddings + hidden


@dataclass(frozen=True)
class StartedJob:
    """A training job that was started: the Robot API's integer id and the running job."""

    id: int
    job: TrainingJob


@dataclass(frozen=True)
class RegisteredDataset:
    record: DatasetRecord
    row_errors: list[str]           # "row N: why" for the first ROW_ERRORS_REPORTED bad rows

    @property
    def summary(self) -> str:
        record = self.record
        return f"{record.rows} rows kept, {record.invalid_rows} invalid, {record.duplicates_removed} duplicates removed"


@dataclass(frozen=True)
class Routed:
    expert: str
    confidence: float
    fallback: bool
    candidates: list[str]
    scores: list[float]


@dataclass(frozen=True)
class ServedResult:
    result: GenerationResult
    route: Routed


class ExpertService:
    def __init__(self, state_dir: Path, base: BuiltBase, memory_budget_mb: float = 512.0,
                 router: Any | None = None, engine: InferenceEngine | None = None) -> None:
        self.state_dir = state_dir
        self.base = base
        self.registry = ExpertRegistry(state_dir)
        self.engine = engine or InferenceEngine(base.onnx_dir, memory_budget_mb)
        self.router = router
        self._serving: dict[str, int] = {}
        self._serving_lock = threading.Lock()
        self._latency: dict[str, LatencyWindow] = {}
        self._jobs: dict[str, TrainingJob] = {}
        self._threads: dict[str, threading.Thread] = {}
        # Folders whose files register_dataset and retrain_router may read (callers come over
        # ROS or HTTP, so a path anywhere else on the disk is refused).
        self.dataset_roots: list[Path] = [state_dir / "datasets"]

    # -- default experts ----------------------------------------------------------------
    def install_defaults(self, source: Path = REPO_EXPERTS_DIR) -> list[str]:
        """Register the experts shipped in models/experts/ that the registry does not have yet."""
        installed = []
        for manifest_path in sorted(source.glob("*/manifest.yaml")):
            manifest = yaml.safe_load(manifest_path.read_text())
            name = manifest["name"]
            try:
                self.registry.get(name)
                continue
            except EmbodiedError:
                pass
            adapter_dir = manifest_path.parent / "adapter"
            if manifest["kind"] == "adapter" and not (adapter_dir / "adapter_config.json").is_file():
                continue  # not trained yet (the build script writes it)
            self.registry.create(name, manifest.get("domain", ""), manifest.get("category", ""),
                                 config={"base_model": BASE_MODEL, "system_prompt": manifest.get("system_prompt", ""),
                                         "max_tokens": manifest.get("max_tokens", 128)},
                                 quantization=manifest.get("quantization", "Q8"))
            metrics = manifest.get("metrics", {})
            measured = manifest_path.parent / "metrics.json"  # written by the expert's build script
            if measured.is_file():
                metrics = {**json.loads(measured.read_text()).get("held_out", {}), **metrics}
            if manifest["kind"] == "adapter":
                self._add_adapter_version(name, adapter_dir, metrics,
                                          note=f"default expert from {manifest_path.parent.name}")
            else:
                self.registry.add_version(name, "base", None, metrics=metrics, note="the shared base model")
            self.registry.set_status(name, "ready")
            installed.append(name)
        return installed

    def _add_adapter_version(self, name: str, peft_dir: Path, metrics: dict[str, Any], note: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            adapter = write_onnx_adapter(peft_dir, Path(scratch) / "adapter.onnx_adapter", set(self.base.lora_inputs))
            self.registry.add_version(name, "adapter", adapter, config={"peft": str(peft_dir)}, metrics=metrics,
                                      note=note)

    def _add_model_version(self, name: str, hf_dir: Path, config: TrainingConfig, metrics: dict[str, Any],
                           note: str) -> None:
        """A model trained from scratch → ONNX (ORT GenAI's builder, at the expert's quantization)
        → the expert's new current version; its config takes the new shape."""
        from transformers import AutoTokenizer

        record = self.registry.get(name)
        shape = dict(config.scratch_shape or {})
        precision = PRECISION.get(record.quantization, "int8")
        with tempfile.TemporaryDirectory() as scratch:
            model_dir, onnx_dir = Path(scratch) / "hf", Path(scratch) / "model"
            shutil.copytree(hf_dir, model_dir)
            AutoTokenizer.from_pretrained(self.base.train_hf_dir).save_pretrained(model_dir)  # the builder wants it
            run_builder(model_dir, onnx_dir, Path(scratch) / "builder_cache",
                        BaseRecipe(precision=precision, with_lora_inputs=False), adapter_dir=None)
            self.registry.add_version(name, "model", onnx_dir, config={**shape, "precision": precision},
                                      metrics=metrics, note=note)
        self.registry.update(name, config={**{k: v for k, v in record.config.items() if k != "base_model"}, **shape})

    # -- routing and generation ---------------------------------------------------------
    def route(self, prompt: str) -> Routed:
        if not prompt or not prompt.strip():
            raise EmbodiedError("the prompt is empty", ErrorCode.INFERENCE_FAILED)
        if self.router is None:
            return Routed(GENERAL, 1.0, True, [GENERAL], [1.0])
        decision = self.router.route(prompt)
        known = self._ready_names()
        expert = decision.expert if decision.expert in known else GENERAL
        ordered = list(decision.scores.items())
        return Routed(expert, float(decision.confidence), bool(decision.fallback or expert != decision.expert),
                      [n for n, _ in ordered], [float(s) for _, s in ordered])

    def _ready_names(self) -> set[str]:
        experts, _ = self.registry.list(status="ready", limit=10_000)
        return {e.name for e in experts}

    def generate(self, request: GenerationRequest, expert: str = "",
                 on_text: Callable[[str, int], None] | None = None,
                 cancel: threading.Event | None = None) -> ServedResult:
        if not request.prompt or not request.prompt.strip():
            raise EmbodiedError("the prompt is empty", ErrorCode.INFERENCE_FAILED)
        routed = self.route(request.prompt) if not expert else Routed(expert, 1.0, False, [expert], [1.0])
        record = self.registry.get(routed.expert)
        if record.status != "ready":
            raise EmbodiedError(f"expert '{record.name}' is {record.status}", ErrorCode.EXPERT_NOT_READY)
        engine_name = self._ensure_loaded(record)
        if not request.system:
            request = replace(request, system=record.config.get("system_prompt", ""))
        with self._serving_lock:
            self._serving[record.name] = self._serving.get(record.name, 0) + 1
        try:
            result = self.engine.generate(request, engine_name, on_text, cancel)
        finally:
            with self._serving_lock:
                self._serving[record.name] -= 1
        result.expert = record.name
        self._record(record, result)
        return ServedResult(result, replace(routed, expert=record.name))

    def _ensure_loaded(self, record: Expert) -> str | None:
        kind, path = self.registry.artifact(record.id)
        if kind == "base":
            return None
        name = f"{record.name}@v{record.current_version}"
        if name not in self.engine.loaded:
            assert path is not None
            if kind == "adapter":
                self.engine.load_adapter(name, path)
            else:
                self.engine.load_model(name, path)
        return name

    def _record(self, record: Expert, result: GenerationResult) -> None:
        self.registry.record_usage(record.id)
        window = self._latency.setdefault(record.name, LatencyWindow())
        window.add(result.total_ms)
        if len(window.samples_ms) % PERFORMANCE_EVERY_N_CALLS == 1:
            import psutil

            self.registry.update(record.id, performance={
                "inference_speed_tokens_per_sec": round(result.tokens_per_second, 1),
                "time_to_first_token_ms": round(result.time_to_first_token_ms, 1),
                "latency_p50_ms": round(window.percentile(50) or 0.0, 1),
                "latency_p95_ms": round(window.percentile(95) or 0.0, 1),
                "memory_usage_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
                "measured": True, "samples": len(window.samples_ms)})

    # -- load / unload / delete ---------------------------------------------------------
    def set_loaded(self, key: str, loaded: bool) -> str:
        record = self.registry.get(key)
        if loaded:
            if record.status != "ready":
                raise EmbodiedError(f"expert '{record.name}' is {record.status}", ErrorCode.EXPERT_NOT_READY)
            self._ensure_loaded(record)
            return f"expert '{record.name}' loaded"
        unloaded = [n for n in self.engine.loaded if n.split("@")[0] == record.name and self.engine.unload(n)]
        return f"expert '{record.name}' unloaded" if unloaded else f"expert '{record.name}' was not loaded"

    def serving(self, name: str) -> int:
        with self._serving_lock:
            return self._serving.get(name, 0)

    def delete(self, key: str, hard: bool = False) -> None:
        record = self.registry.get(key, include_deleted=hard)
        if self.serving(record.name):
            raise EmbodiedError(f"expert '{record.name}' is serving {self.serving(record.name)} request(s); "
                                "retry when it is idle", ErrorCode.EXPERT_NOT_READY)
        if record.status == "training":
            raise EmbodiedError(f"expert '{record.name}' is training; stop the job first", ErrorCode.EXPERT_NOT_READY)
        if record.deleted_at is None:
            self.set_loaded(str(record.id), False)
        self.registry.delete(record.id, hard)

    # -- create and describe ------------------------------------------------------------
    def create_expert(self, name: str, domain: str, category: str = "general", quantization: str = "Q8",
                      shape: dict[str, int] | None = None, size: str | None = None,
                      base_model: str | None = None) -> Expert:
        """Register an expert ('initializing' until a training job gives it a version): a LoRA
        adapter on the shared base without a shape, else its own model of that shape."""
        if size is not None:
            if size not in SIZE_PRESETS:
                raise EmbodiedError(f"size must be one of {', '.join(SIZE_PRESETS)}", ErrorCode.EXPERT_CREATION_FAILED)
            shape = {**SIZE_PRESETS[size], **(shape or {})}
        if base_model and base_model.lower() not in (BASE_MODEL.lower(), "smollm2-135m"):
            raise EmbodiedError(f"base model {base_model!r} is not available: experts share {BASE_MODEL}",
                                ErrorCode.EXPERT_CREATION_FAILED)
        if shape:
            missing = {"d_model", "n_layers", "n_heads"} - set(shape)
            if missing:
                raise EmbodiedError(f"a model shape needs {', '.join(sorted(missing))} too",
                                    ErrorCode.EXPERT_CREATION_FAILED)
            config: dict[str, Any] = model_shape(shape["d_model"], shape["n_layers"], shape["n_heads"])
        else:
            config = {"base_model": BASE_MODEL, "max_tokens": 128}
        return self.registry.create(name, domain, category, config=config, quantization=quantization)

    def update_expert(self, key: str, domain: str = "", category: str = "", status: str = "") -> Expert:
        """Change what a caller may change ("" leaves a field as it is): domain, category, and the
        status between ready and disabled; never while it trains (the job sets the status when it
        ends), and ready only with a trained version."""
        expert = self.registry.get(key)
        changes = {k: v for k, v in (("domain", domain), ("category", category)) if v}
        if changes:
            expert = self.registry.update(expert.id, **changes)
        if status:
            if status not in SETTABLE_STATUSES:
                raise EmbodiedError("status may be set to ready or disabled", ErrorCode.EXPERT_CREATION_FAILED)
            if status == "ready" and expert.current is None:
                raise EmbodiedError(f"expert '{expert.name}' has no trained version yet", ErrorCode.EXPERT_NOT_READY)
            expert = self.registry.set_status(expert.id, status, expected=SETTABLE_STATUSES)
        return expert

    def summary(self) -> str:
        """The experts and their status, the base and the execution providers (the node's ready line)."""
        experts, _ = self.registry.list(limit=1000)
        return (f"experts {', '.join(f'{e.name} ({e.status})' for e in experts)}; base {self.base.onnx_dir}; "
                f"providers {self.engine.providers or ['cpu']}")

    def _base_config(self) -> dict[str, Any]:
        return json.loads((self.base.train_hf_dir / "config.json").read_text())

    def total_params(self, expert: Expert) -> int | None:
        """Parameters the expert runs with: its own model's, or the shared base's for an adapter."""
        base = self._base_config()
        vocab = int(base["vocab_size"])
        if "d_model" in expert.config:
            c = expert.config
            return parameter_count(c["d_model"], c["n_layers"], c["n_heads"], c["n_heads"], c["d_ff"], vocab)
        return parameter_count(base["hidden_size"], base["num_hidden_layers"], base["num_attention_heads"],
                               base.get("num_key_value_heads", base["num_attention_heads"]),
                               base["intermediate_size"], vocab, bool(base.get("tie_word_embeddings", True)))

    def estimated_size_gb(self, expert: Expert) -> float:
        """The expert's own weights on disk: its model at its quantization, or a LoRA adapter
        (fp32, TrainingConfig's default rank, layers and projections)."""
        if "d_model" in expert.config:
            params = self.total_params(expert) or 0
            return round(params * BYTES_PER_PARAMETER.get(expert.quantization, 1.0) / 1e9, 4)
        base, config = self._base_config(), TrainingConfig()
        hidden, d_ff = base["hidden_size"], base["intermediate_size"]
        kv = hidden // base["num_attention_heads"] * base.get("num_key_value_heads", base["num_attention_heads"])
        widths = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv), "v_proj": (hidden, kv),
                  "o_proj": (hidden, hidden), "gate_proj": (hidden, d_ff), "up_proj": (hidden, d_ff),
                  "down_proj": (d_ff, hidden)}
        layers = len(config.lora_layers) if config.lora_layers else base["num_hidden_layers"]
        params = layers * sum(config.lora_rank * sum(widths[m]) for m in config.lora_modules)
        return round(params * 4 / 1e9, 4)

    # -- datasets -----------------------------------------------------------------------
    def check_dataset_path(self, path: Path) -> Path:
        """``path`` resolved, if it lies inside one of ``dataset_roots`` (else DATASET_INVALID)."""
        resolved = path.expanduser().resolve()
        if not any(resolved.is_relative_to(root.expanduser().resolve()) for root in self.dataset_roots):
            raise EmbodiedError(f"{path} is outside the dataset folders ({', '.join(map(str, self.dataset_roots))})",
                                ErrorCode.DATASET_INVALID)
        if not resolved.is_file():
            raise EmbodiedError(f"no dataset file at {path}", ErrorCode.DATASET_INVALID)
        return resolved

    def register_dataset(self, path: Path, expert: str, name: str) -> RegisteredDataset:
        """Validate a JSONL / TXT / CSV file and keep its good rows for ``expert``'s training.

        Bad rows are reported by number and left out; a file with no usable row is refused
        (DATASET_INVALID) with its problem rows named.
        """
        from embodied_ai.experts.datasets import DatasetInvalidError, load_dataset, rows_to_jsonl

        record = self.registry.get(expert)
        source = self.check_dataset_path(path)
        try:
            validated = load_dataset(source)
        except DatasetInvalidError:
            raise
        except ValueError as exc:  # e.g. an unknown suffix
            raise EmbodiedError(str(exc), ErrorCode.DATASET_INVALID) from exc
        folder = self.state_dir / "datasets"
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / f"registered-{uuid.uuid4().hex}.jsonl"
        stored.write_text(rows_to_jsonl(validated.rows))
        stats = validated.stats
        dataset = self.registry.add_dataset(record.id, name, str(stored.relative_to(self.state_dir)), stats.format,
                                            stats.rows, stats.invalid_rows, stats.duplicates_removed,
                                            stats.size_bytes)
        return RegisteredDataset(dataset, [str(e) for e in validated.errors[:ROW_ERRORS_REPORTED]])

    def dataset_path(self, dataset: DatasetRecord) -> Path:
        return self.state_dir / dataset.path

    # -- the router ---------------------------------------------------------------------
    def retrain_router(self, training_data: Path, num_epochs: int | None = None) -> RetrainResult:
        """Retrain the router's gate on a labelled-prompt file inside the dataset folders."""
        if self.router is None:
            raise EmbodiedError("this experts node runs without a router (use_router false)", ErrorCode.TRAINING_FAILED)
        retrained: RetrainResult = self.router.retrain(self.check_dataset_path(training_data), num_epochs)
        return retrained

    # -- training by registered dataset, resize, jobs by number ---------------------------
    def train(self, expert: str, dataset_id: int | None, config: TrainingConfig,
              on_progress: Callable[[TrainingStatus], None] | None = None,
              on_done: Callable[[TrainingStatus], None] | None = None) -> StartedJob:
        """Train on a registered dataset (None: the expert's latest). ``config.use_lora`` False
        trains the expert's own model from scratch, at ``config.scratch_shape`` or its own shape."""
        record = self.registry.get(expert)
        if dataset_id is None:
            dataset = self.registry.latest_dataset(record.id)
            if dataset is None:
                raise EmbodiedError(f"expert '{record.name}' has no dataset: upload one first",
                                    ErrorCode.DATASET_INVALID)
        else:
            dataset = self.registry.dataset(dataset_id)
        if not config.use_lora and config.scratch_shape is None:
            if "d_model" not in record.config:
                raise EmbodiedError(f"expert '{record.name}' is a LoRA expert with no model shape: give "
                                    "d_model, n_layers and n_heads (resize) to train a model of its own",
                                    ErrorCode.TRAINING_FAILED)
            config = replace(config, scratch_shape=model_shape(
                record.config["d_model"], record.config["n_layers"], record.config["n_heads"]))
        job = self.start_training(record.name, self.dataset_path(dataset), config, on_done=on_done,
                                  on_progress=on_progress, dataset_id=dataset.id)
        return StartedJob(self.registry.job(job.request.job_id).id, job)

    def resize(self, expert: str, d_model: int, n_layers: int, n_heads: int,
               config: TrainingConfig | None = None,
               on_progress: Callable[[TrainingStatus], None] | None = None,
               on_done: Callable[[TrainingStatus], None] | None = None) -> StartedJob:
        """A new version of ``expert`` at another size (the Robot API's resize): its own model of the
        new shape, trained from scratch on the expert's latest dataset and quantized like it.
        The current version keeps serving until the new one is registered."""
        shape = model_shape(d_model, n_layers, n_heads)
        config = replace(config or TrainingConfig(), use_lora=False, scratch_shape=shape)
        return self.train(expert, None, config, on_progress=on_progress, on_done=on_done)

    def job(self, job_id: int) -> tuple[JobRecord, TrainingStatus]:
        key = self.registry.job(job_id).job_key
        status = self.training_status(key)
        # The record is read after the status: once the status says "completed" the version is
        # set, and a record read before could still lack it.
        return self.registry.job(job_id), status

    def recover_interrupted(self) -> list[str]:
        """After a restart of the process that ran them: jobs left unfinished are marked
        stopped (their checkpoints can resume) and their experts leave 'training'. Call only
        from the process that owns the state directory's training."""
        recovered = []
        for status_file in sorted((self.state_dir / "jobs").glob("*/status.json")):
            job = TrainingJob.load(status_file.parent)
            if job.status.status in UNFINISHED and job.request.job_id not in self._jobs:
                job.status.status = "stopped"
                job.status.log("interrupted: the experts process ended while it ran")
                job._save_status()
                recovered.append(job.request.job_id)
        experts, _ = self.registry.list(status="training", limit=10_000)
        for expert in experts:
            if not any(j.request.expert == expert.name for j in self._jobs.values()):
                self.registry.set_status(expert.id, "ready" if expert.current_version else "initializing")
        return recovered

    # -- training -----------------------------------------------------------------------
    def start_training(self, expert: str, dataset: Path, config: TrainingConfig,
                       validation: Path | None = None, on_done: Callable[[TrainingStatus], None] | None = None,
                       evaluate: Callable[[Path], dict[str, Any]] | None = None,
                       on_progress: Callable[[TrainingStatus], None] | None = None,
                       dataset_id: int | None = None) -> TrainingJob:
        """Start a job in a thread; the expert is 'training' until it ends (then 'ready')."""
        from embodied_ai.experts.datasets import load_dataset, rows_to_jsonl

        record = self.registry.get(expert)
        validated = load_dataset(dataset)  # raises DATASET_INVALID; bad rows are reported, good kept
        previous = record.status
        self.registry.set_status(record.id, "training", expected=("initializing", "ready", "disabled"))
        job_id = f"{record.name}-{uuid.uuid4().hex[:8]}"
        clean = self.state_dir / "uploads" / f"{job_id}.jsonl"
        clean.parent.mkdir(parents=True, exist_ok=True)
        clean.write_text(rows_to_jsonl(validated.rows))
        config = replace(config, system_prompt=config.system_prompt or record.config.get("system_prompt", ""))
        job = TrainingJob(TrainingRequest(job_id, record.name, clean, self.base.train_hf_dir, config, validation),
                          self.state_dir / "jobs")
        self.registry.add_job(job_id, record.id, dataset_id, "lora" if config.use_lora else "scratch")
        job.status.log(f"dataset: {validated.stats.rows} rows kept, {len(validated.errors)} invalid, "
                       f"{validated.stats.duplicates_removed} duplicates")
        if on_progress is not None:
            job.on_progress = on_progress
        self._start(job, previous, resume=False, on_done=on_done, evaluate=evaluate)
        return job

    def resume_training(self, job_id: str, on_done: Callable[[TrainingStatus], None] | None = None,
                        evaluate: Callable[[Path], dict[str, Any]] | None = None) -> TrainingJob:
        job = self._jobs.get(job_id) or TrainingJob.load(self.state_dir / "jobs" / job_id)
        if job.status.status not in ("stopped", "failed"):
            raise EmbodiedError(f"job {job_id} is {job.status.status}; only a stopped job resumes",
                                ErrorCode.TRAINING_FAILED)
        record = self.registry.get(job.request.expert)
        previous = record.status
        self.registry.set_status(record.id, "training", expected=("initializing", "ready", "disabled"))
        self._start(job, previous, resume=True, on_done=on_done, evaluate=evaluate)
        return job

    def stop_training(self, job_id: str, wait_s: float = 600.0) -> TrainingStatus:
        job = self._jobs.get(job_id)
        if job is None or job.status.status not in UNFINISHED:
            state = job.status.status if job is not None else "not running in this process"
            raise EmbodiedError(f"job {job_id} is {state}; only a queued or running job stops",
                                ErrorCode.TRAINING_FAILED)
        job.stop()
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(wait_s)
        return job.status

    def training_status(self, job_id: str) -> TrainingStatus:
        """The job's status; "registering" while a finished run is being turned into a version
        (an ONNX export takes a while), so "completed" always means the version exists."""
        job = self._jobs.get(job_id) or TrainingJob.load(self.state_dir / "jobs" / job_id)
        thread = self._threads.get(job_id)
        if job.status.status == "completed" and thread is not None and thread.is_alive() \
                and not self.registry.job(job_id).version:
            return replace(job.status, status="registering")
        return job.status

    def _start(self, job: TrainingJob, previous_status: str, resume: bool,
               on_done: Callable[[TrainingStatus], None] | None,
               evaluate: Callable[[Path], dict[str, Any]] | None) -> None:
        self._jobs[job.request.job_id] = job

        def run() -> None:
            status_after = previous_status
            try:
                status = job.run(resume=resume)
                if status.status == "completed":
                    metrics = evaluate(job.output_dir) if evaluate else {}
                    metrics.setdefault("validation_loss", status.val_loss[-1] if status.val_loss else None)
                    metrics.setdefault("train_loss", status.current_loss)
                    note = f"trained by job {job.request.job_id}"
                    if job.request.config.use_lora:
                        self._add_adapter_version(job.request.expert, job.output_dir, metrics, note=note)
                    else:
                        self._add_model_version(job.request.expert, job.output_dir, job.request.config, metrics,
                                                note=note)
                    self.registry.set_job_version(job.request.job_id,
                                                  self.registry.get(job.request.expert).current_version)
                    status_after = "ready"
            except EmbodiedError:
                pass  # the job's status says why
            except Exception as exc:  # noqa: BLE001 - registering the result failed: the job says why
                job.status.status, job.status.error = "failed", f"{type(exc).__name__}: {exc}"
                job.status.log(f"registering the trained version failed: {exc}")
                job._save_status()
            finally:
                self.registry.set_status(job.request.expert, status_after)
                if on_done is not None:
                    on_done(job.status)

        thread = threading.Thread(target=run, name=f"train-{job.request.job_id}", daemon=True)
        self._threads[job.request.job_id] = thread
        thread.start()

    def close(self) -> None:
        for job in self._jobs.values():
            job.stop()
        for thread in self._threads.values():
            thread.join(30)
        self.registry.close()


@dataclass(frozen=True)
class OpenedService:
    service: ExpertService
    recovered_jobs: list[str]     # jobs a previous process left unfinished, now stopped (resumable)
    installed: list[str]          # default experts registered by this start


def open_service(config: ExpertsNodeConfig, progress: Callable[[str], None] = lambda _line: None) -> OpenedService:
    """The service as the experts node runs it: the base built into the cache if it is not there
    yet (once, ~1-2 min; ``progress`` gets the builder's lines), the router, the registry in the
    state directory with the default experts. The caller owns the state's training: jobs a
    previous process left unfinished are marked stopped."""
    state = config.resolved_state_dir()
    base = build_base(BaseRecipe(precision=config.base_precision), progress=progress)
    router = None
    if config.use_router:
        from embodied_ai.experts.router import Router  # the embedder and the gate: only when routing

        router = Router.load(state / "router")
    service = ExpertService(state, base, config.memory_budget_mb, router)
    service.dataset_roots = config.dataset_roots() or service.dataset_roots
    try:
        return OpenedService(service, service.recover_interrupted(), service.install_defaults())
    except BaseException:
        service.close()
        raise
