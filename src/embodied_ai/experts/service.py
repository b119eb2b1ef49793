"""The experts service: registry + inference engine + router + training, as one object.

This is what the experts node and the REST bridge call. It decides which expert answers
(the router, or the caller's choice), keeps the engine's loaded experts in step with the
registry, counts usage and measured performance, and runs training jobs in threads with
the seed's rules: a busy expert cannot be trained twice, a serving expert cannot be
deleted, and every refusal carries a seed error code.
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.adapters import write_onnx_adapter
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.engine import GenerationRequest, GenerationResult, InferenceEngine, LatencyWindow
from embodied_ai.experts.paths import REPO_EXPERTS_DIR
from embodied_ai.experts.registry import Expert, ExpertRegistry
from embodied_ai.experts.training import TrainingConfig, TrainingJob, TrainingRequest, TrainingStatus

GENERAL = "general"
PERFORMANCE_EVERY_N_CALLS = 10


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
                                 config={"base_model": "SmolLM2-135M-Instruct", "system_prompt": manifest.get("system_prompt", ""),
                                         "max_tokens": manifest.get("max_tokens", 128)},
                                 quantization=manifest.get("quantization", "Q8"))
            metrics = manifest.get("metrics", {})
            measured = manifest_path.parent / "metrics.json"  # written by the expert's build script
            if measured.is_file():
                metrics = {**json.loads(measured.read_text()).get("held_out", {}), **metrics}
            if manifest["kind"] == "adapter":
                self._add_adapter_version(name, adapter_dir, metrics, note=f"default expert from {manifest_path.parent.name}")
            else:
                self.registry.add_version(name, "base", None, metrics=metrics, note="the shared base model")
            self.registry.set_status(name, "ready")
            installed.append(name)
        return installed

    def _add_adapter_version(self, name: str, peft_dir: Path, metrics: dict[str, Any], note: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            adapter = write_onnx_adapter(peft_dir, Path(scratch) / "adapter.onnx_adapter", set(self.base.lora_inputs))
            self.registry.add_version(name, "adapter", adapter, config={"peft": str(peft_dir)}, metrics=metrics, note=note)

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

    # -- training -----------------------------------------------------------------------
    def start_training(self, expert: str, dataset: Path, config: TrainingConfig,
                       validation: Path | None = None, on_done: Callable[[TrainingStatus], None] | None = None,
                       evaluate: Callable[[Path], dict[str, Any]] | None = None) -> TrainingJob:
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
        job.status.log(f"dataset: {validated.stats.rows} rows kept, {len(validated.errors)} invalid, "
                       f"{validated.stats.duplicates_removed} duplicates")
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
        if job is None:
            raise EmbodiedError(f"no running job {job_id}", ErrorCode.TRAINING_FAILED)
        job.stop()
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(wait_s)
        return job.status

    def training_status(self, job_id: str) -> TrainingStatus:
        job = self._jobs.get(job_id) or TrainingJob.load(self.state_dir / "jobs" / job_id)
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
                    if job.request.config.use_lora:
                        self._add_adapter_version(job.request.expert, job.output_dir, metrics,
                                                  note=f"trained by job {job.request.job_id}")
                    status_after = "ready"
            except EmbodiedError:
                pass  # the job's status says why
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

