"""Training an expert as a job of the job system (seed 000's Training API on top of it).

A ``training`` job's config is seed 000's ``POST /training/start`` body (every number 0 means the
default) plus the resize shape; its id is the Robot API's integer job id. The job:

    prepare   the dataset's validated rows copied into the run's folder
              (``<state>/jobs/job-<id>/``), the expert marked ``training``
    train     the run (``training_runs.run_training``): METRIC lines, progress, a cancel stops it
              with a checkpoint saved; a job whose process was killed resumes from its checkpoint
    register  the trained weights as the expert's new current version (``versions``), then the
              expert is ``ready`` again (or back to what it was when the job fails or is cancelled)

Seed 000's status view (``status``) reads the run's ``status.json`` and the job's record: a
cancelled job is seed 000's ``stopped``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embodied_ai.distributed.requirements import Requirements
from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest, NotFound, validation_problems
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.registry import Expert, ExpertRegistry
from embodied_ai.experts.training import STATUS_FILE, TrainingConfig, TrainingJob, TrainingRequest, TrainingStatus
from embodied_ai.experts.training_runs import open_training_job, run_training
from embodied_ai.experts.versions import VersionWriter
from embodied_ai.jobs.models import Job, JobStatus, LogLevel
from embodied_ai.jobs.runner import JobCancelled, JobContext, JobKind

TRAINING_JOB = "training"
RUNS_DIR = "jobs"                 # <state>/jobs/job-<id>/: a training job's rows, checkpoints and status.json
DEFAULT_SAVE_STEPS = TrainingConfig().save_steps
BUSY = ("initializing", "ready", "disabled")   # the statuses an expert may start training from


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


class TrainingJobConfig(BaseModel):
    """A training job's request: seed 000's training fields (0 = the default) and the resize shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expert_id: int | str = Field(description="the expert's id or name")
    dataset_id: int = Field(default=0, ge=0, description="a registered dataset; 0 = the expert's latest")
    learning_rate: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    batch_size: int = Field(default=0, ge=0, le=1024)
    num_epochs: float = Field(default=0.0, ge=0.0, le=1000.0, allow_inf_nan=False, description="0 = 1 epoch")
    max_steps: int = Field(default=0, ge=0, le=10_000_000, description="0 = num_epochs decides")
    warmup_steps: int = Field(default=0, ge=0, le=1_000_000)
    gradient_accumulation: int = Field(default=0, ge=0, le=1024, description="0 = 1")
    use_lora: bool = Field(default=True, description="False: the expert's own model, trained from scratch")
    lora_rank: int = Field(default=0, ge=0, le=256)
    d_model: int = Field(default=0, ge=0, le=8192, description="use_lora False: the new shape; 0 = the expert's own")
    n_layers: int = Field(default=0, ge=0, le=128)
    n_heads: int = Field(default=0, ge=0, le=128)
    save_steps: int = Field(default=0, ge=0, le=1_000_000, description="a checkpoint every this many steps; "
                                                                        f"0 = {DEFAULT_SAVE_STEPS}")
    name: str = Field(default="", max_length=200, description="a label for the job list")
    distributed: bool = Field(default=False, description="data-parallel on the Ray cluster (jobs.backend ray)")
    n_clients: int = Field(default=1, ge=1, le=64, description="distributed: how many workers train it")
    requirements: Requirements = Field(default_factory=Requirements, description="distributed: what each "
                                                                                   "worker must have")
    url: str = Field(default="", max_length=2000, description="seed 003's model URL: recorded with the job")
    version: str = Field(default="", max_length=64, description="seed 003's model version: recorded with the job")

    @classmethod
    def parse(cls, config: dict[str, Any]) -> TrainingJobConfig:
        """The config, or InvalidRequest listing every problem."""
        try:
            parsed = cls.model_validate(config)
        except ValidationError as exc:
            problems = validation_problems(exc, "config")
            raise InvalidRequest("invalid training job", problems) from None
        problems = parsed.distributed_problems()
        if problems:
            raise InvalidRequest("invalid training job", problems)
        return parsed

    def distributed_problems(self) -> list[str]:
        if not self.distributed:
            return []
        problems = []
        if not self.use_lora:
            problems.append("distributed: distributed training adapts the base with LoRA (use_lora true)")
        batch = self.batch_size or TrainingConfig().batch_size
        if batch < self.n_clients:
            problems.append(f"batch_size: the global batch ({batch}) must hold at least one row per worker "
                            f"(n_clients {self.n_clients})")
        return problems

    def training_config(self, expert: Expert) -> TrainingConfig:
        """The run's TrainingConfig for ``expert``; EmbodiedError for a shape that cannot be built."""
        defaults = TrainingConfig()
        config = replace(
            defaults, learning_rate=self.learning_rate or defaults.learning_rate,
            batch_size=self.batch_size or defaults.batch_size, num_epochs=self.num_epochs or 1.0,
            max_steps=self.max_steps or -1, warmup_steps=self.warmup_steps,
            gradient_accumulation=self.gradient_accumulation or 1, use_lora=self.use_lora,
            lora_rank=self.lora_rank or defaults.lora_rank, save_steps=self.save_steps or defaults.save_steps,
            log_steps=1,   # progress at every step: what the status, the feedback and the METRIC lines show
            system_prompt=str(expert.config.get("system_prompt", "")))
        if self.use_lora:
            return config
        if self.d_model:
            return replace(config, scratch_shape=model_shape(self.d_model, self.n_layers, self.n_heads))
        if "d_model" not in expert.config:
            raise EmbodiedError(f"expert '{expert.name}' is a LoRA expert with no model shape: give d_model, "
                                "n_layers and n_heads (resize) to train a model of its own", ErrorCode.TRAINING_FAILED)
        shape = expert.config
        return replace(config, scratch_shape=model_shape(shape["d_model"], shape["n_layers"], shape["n_heads"]))


class TrainingDatasets(Protocol):
    """Where a training job's rows come from (the dataset registry)."""

    def training_file(self, dataset_id: int) -> Path:
        """The dataset's validated prompt/completion rows (JSONL); NotFound, or DATASET_INVALID when it
        has none."""

    def latest_for_expert(self, expert: str) -> int | None:
        """The newest dataset uploaded for ``expert`` (by name), if any."""


class DistributedRunner(Protocol):
    """Data-parallel training on a cluster (embodied_ai.distributed.training.DistributedTraining)."""

    def check(self, n_clients: int, requirements: Requirements) -> None:
        """Refuse now what cannot run: the cluster unreachable (503), more workers than it has (400)."""
        ...

    def run(self, ctx: JobContext, run: TrainingJob, n_clients: int, requirements: Requirements) -> TrainingStatus:
        ...


NO_CLUSTER = ("distributed training needs the ray backend: start with `embodied up --set jobs.backend=ray` "
              "(docs/distributed.md)")


class ExpertTraining:
    """The ``training`` job kind's body and checks, over the experts' registry in ``state_dir``."""

    def __init__(self, state_dir: Path, experts: ExpertRegistry, base: Callable[[], BuiltBase],
                 datasets: TrainingDatasets, on_version: Callable[[str, int], object] = lambda _name, _version: None,
                 distributed: DistributedRunner | None = None) -> None:
        """``base``: the shared base (built into the cache on first use, so only when a job trains);
        ``on_version(expert, version)``: after a job registered a version (the model registry's mirror);
        ``distributed``: where ``distributed`` jobs run (None: they are refused)."""
        self.runs_dir = state_dir / RUNS_DIR
        self.experts = experts
        self._base = base
        self._datasets = datasets
        self._on_version = on_version
        self._distributed = distributed

    def kind(self) -> JobKind:
        return JobKind(run=self.run, resumable=True, validate=self.validate,
                       describe=lambda job, _finished: self._describe(job))

    # -- checks at submit time -----------------------------------------------------------
    def validate(self, config: dict[str, Any]) -> None:
        """Refuse what would fail at once: a bad field, an unknown expert, an impossible shape, no dataset."""
        parsed = TrainingJobConfig.parse(config)
        expert = self.experts.get(str(parsed.expert_id))
        if expert.status == "training":
            raise EmbodiedError(f"expert '{expert.name}' is training: stop its job first", ErrorCode.EXPERT_NOT_READY)
        parsed.training_config(expert)
        self._dataset_id(parsed, expert)
        if parsed.distributed:
            if self._distributed is None:
                raise InvalidRequest("distributed training is not available", [f"distributed: {NO_CLUSTER}"])
            self._distributed.check(parsed.n_clients, parsed.requirements)

    def _dataset_id(self, config: TrainingJobConfig, expert: Expert) -> int:
        if config.dataset_id:
            try:
                self._datasets.training_file(config.dataset_id)   # refused now, not mid-job
            except NotFound as exc:   # seed 000 has no "not found" for datasets: its code is DATASET_INVALID
                raise EmbodiedError(str(exc), ErrorCode.DATASET_INVALID) from None
            return config.dataset_id
        latest = self._datasets.latest_for_expert(expert.name)
        if latest is None:
            raise EmbodiedError(f"expert '{expert.name}' has no dataset: upload one first", ErrorCode.DATASET_INVALID)
        return latest

    # -- the job's body -------------------------------------------------------------------
    def run_dir(self, job_id: int) -> Path:
        return self.runs_dir / f"job-{job_id}"

    def run(self, ctx: JobContext) -> dict[str, Any]:
        config = TrainingJobConfig.parse(ctx.job.config)
        prepared = ctx.run_step("prepare", lambda: self._prepare(ctx, config))
        expert, previous = str(prepared["expert"]), str(prepared["previous_status"])
        try:
            run = open_training_job(self.run_dir(ctx.job.id), lambda: self._never_prepared(ctx))
            status = self._train(ctx, config, run)
            registered = ctx.run_step("register", lambda: self._register(ctx, expert, run.request, status))
        except JobCancelled:
            if ctx.saw_cancel or not (ctx.saw_stop or ctx.saw_pause):   # a pause keeps the expert: the job resumes
                self._release(expert, previous)
            raise
        except BaseException:
            self._release(expert, previous)
            raise
        self._release(expert, "ready")
        return {"expert": expert, "version": registered["version"], "dataset_id": prepared["dataset_id"],
                "steps": status.current_step, "train_loss": status.current_loss,
                "val_loss": status.val_loss[-1] if status.val_loss else None}

    def _train(self, ctx: JobContext, config: TrainingJobConfig, run: TrainingJob) -> TrainingStatus:
        if not config.distributed:
            return run_training(ctx, run)
        if self._distributed is None:
            raise EmbodiedError(NO_CLUSTER, ErrorCode.BAD_REQUEST)
        return self._distributed.run(ctx, run, config.n_clients, config.requirements)

    def _prepare(self, ctx: JobContext, config: TrainingJobConfig) -> dict[str, Any]:
        from embodied_ai.experts.datasets import load_dataset

        expert = self.experts.get(str(config.expert_id))
        training = config.training_config(expert)
        dataset_id = self._dataset_id(config, expert)
        validated = load_dataset(self._datasets.training_file(dataset_id))
        folder = self.run_dir(ctx.job.id)
        previous = expert.status
        if not (folder / "request.json").is_file():   # else an earlier attempt was killed after making it
            self.experts.set_status(expert.id, "training", expected=BUSY)
            rows = folder.with_name(folder.name + ".rows.jsonl")
            folder.parent.mkdir(parents=True, exist_ok=True)
            from embodied_ai.experts.datasets import rows_to_jsonl

            rows.write_text(rows_to_jsonl(validated.rows))
            try:
                base = self._base()
                open_training_job(folder, lambda: TrainingRequest(
                    folder.name, expert.name, rows, base.train_hf_dir, training))
            except BaseException:
                self.experts.set_status(expert.id, previous)
                raise
            finally:
                rows.unlink(missing_ok=True)   # the run keeps its own copy
        ctx.log(LogLevel.INFO, f"expert '{expert.name}', dataset {dataset_id}: {validated.stats.rows} rows kept, "
                               f"{len(validated.errors)} invalid, {validated.stats.duplicates_removed} duplicates")
        return {"expert": expert.name, "previous_status": previous if previous != "training" else "ready",
                "dataset_id": dataset_id}

    def _never_prepared(self, ctx: JobContext) -> TrainingRequest:
        raise EmbodiedError(f"job {ctx.job.id}'s run folder is missing ({self.run_dir(ctx.job.id)}): its prepare "
                            "step finished but the folder was removed", ErrorCode.TRAINING_FAILED)

    def _register(self, ctx: JobContext, expert: str, request: TrainingRequest,
                  status: TrainingStatus) -> dict[str, Any]:
        note = f"trained by job {ctx.job.id}"
        current = self.experts.get(expert).current
        if current is not None and current.note == note:   # registered before a kill, not yet recorded
            return {"version": current.version}
        metrics = {"train_loss": status.current_loss, "validation_loss": status.val_loss[-1] if status.val_loss
                   else None, "steps": status.current_step}
        ctx.progress(1.0, "registering the trained version")
        writer = VersionWriter(self.experts, self._base())
        output = self.run_dir(ctx.job.id) / "output"
        if request.config.use_lora:
            version = writer.add_adapter(expert, output, metrics, note)
        else:
            version = writer.add_model(expert, output, dict(request.config.scratch_shape or {}), metrics, note)
        ctx.log(LogLevel.INFO, f"version {version} of '{expert}' registered")
        self._on_version(expert, version)
        return {"version": version}

    def _release(self, expert: str, status: str) -> None:
        try:
            record = self.experts.get(expert)
        except EmbodiedError:
            return   # deleted meanwhile
        if record.status == "training":
            self.experts.set_status(record.id, status if status != "ready" or record.current else "initializing")

    def release_idle_experts(self, unfinished: Iterable[Job]) -> list[str]:
        """Experts left ``training`` by jobs that are not coming back (failed while their process was
        down): ready again, or initializing without a version. ``unfinished``: the queued and running
        training jobs, which keep theirs."""
        busy = {str(job.config.get("expert_id")) for job in unfinished if job.type == TRAINING_JOB}
        released = []
        experts, _ = self.experts.list(status="training", limit=10_000)
        for expert in experts:
            if expert.name not in busy and str(expert.id) not in busy:
                self._release(expert.name, "ready")
                released.append(expert.name)
        return released

    # -- seed 000's view ------------------------------------------------------------------
    def status(self, job: Job) -> TrainingStatus:
        """The job as seed 000's ``GET /training/{id}/status`` shows it."""
        import json

        path = self.run_dir(job.id) / STATUS_FILE
        expert = str(job.config.get("expert_id", ""))
        run = TrainingStatus(**json.loads(path.read_text())) if path.is_file() else TrainingStatus(str(job.id), expert)
        result, error = job.result or {}, job.error or {}
        if job.status is JobStatus.RUNNING:
            seen = "stopping" if job.cancel_requested else run.status
            view = "registering" if seen == "completed" else seen if seen in ("running", "stopping") else "running"
        else:
            view = {JobStatus.PENDING: "queued", JobStatus.QUEUED: "queued", JobStatus.CANCELLED: "stopped",
                    JobStatus.PAUSED: "stopped", JobStatus.COMPLETED: "completed",
                    JobStatus.FAILED: "failed"}[job.status]
        return replace(run, job_id=str(job.id), expert=str(result.get("expert") or run.expert or expert), status=view,
                       error=str(error["message"]) if error.get("message") else run.error)

    def version_of(self, job: Job) -> int:
        return int((job.result or {}).get("version") or 0)

    def _describe(self, job: Job) -> dict[str, Any]:
        status = self.status(job)
        return {"expert": status.expert, "current_step": status.current_step, "total_steps": status.total_steps,
                "current_epoch": status.current_epoch, "current_loss": status.current_loss,
                "version": self.version_of(job) or None, "distributed": bool(job.config.get("distributed")),
                "n_clients": int(job.config.get("n_clients") or 1), "waiting_reason": status.waiting_reason}
