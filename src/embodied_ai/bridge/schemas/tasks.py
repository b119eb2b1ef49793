"""Seed 003's tasks (its "AI Farm" REST API) inside the Robot API's envelope: a task is a ``training``
job of the jobs node (embodied_ai.experts.training_jobs), its id the job's id as a string.

Seed 003's status names over the job system's: pending and queued are ``pending``, cancelled is
``stopped``; running, paused, completed and failed keep their names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.ports.jobs import JobView
from embodied_ai.bridge.schemas.common import Strict

TRAINING = "training"
# seed 003's status -> the job statuses it stands for
TASK_STATUSES: dict[str, tuple[str, ...]] = {
    "pending": ("pending", "queued"), "running": ("running",), "paused": ("paused",),
    "completed": ("completed",), "failed": ("failed",), "stopped": ("cancelled",),
}
JOB_TO_TASK = {job: task for task, jobs in TASK_STATUSES.items() for job in jobs}
# PUT /v1/tasks/{id}/status: the status asked -> the job system's control
STATUS_CONTROLS = {"paused": "pause", "running": "resume", "stopped": "stop"}
ENDED = ("completed", "failed", "cancelled")


def task_status(job: JobView) -> str:
    return JOB_TO_TASK.get(str(job["status"]), str(job["status"]))


class TrainingTaskRequirements(Strict):
    """Per worker; 0 (or absent) is the job's default."""

    min_gpu_memory: int = Field(default=0, ge=0, description="MB of GPU memory")
    min_cpu_cores: float = Field(default=0, ge=0, description="CPU cores (0: the default, 1)")
    min_ram: int = Field(default=0, ge=0, description="MB of RAM")


class TrainingTaskCreate(Strict):
    """Seed 003's create, plus ``dataset_id`` and ``max_steps``; 0 (or absent) is the job's default."""

    type: Literal["training"] = Field(description="only training tasks run here")
    name: str = Field(min_length=1, max_length=200, description="the expert to train (its name or id)")
    url: str | None = Field(default=None, max_length=2000, description="seed 003's model URL: recorded")
    version: str | None = Field(default=None, max_length=64, description="seed 003's model version: recorded")
    batch_size: int = Field(default=0, ge=0, le=1024)
    learning_rate: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    epochs: float = Field(default=0.0, ge=0.0, le=1000.0, allow_inf_nan=False)
    distributed: bool = Field(default=False, description="data-parallel on the Ray cluster (jobs.backend ray)")
    requirements: TrainingTaskRequirements | None = None
    n_clients: int = Field(default=0, ge=0, le=64, description="distributed: how many workers train it (0: 1)")
    dataset_id: int = Field(default=0, ge=0, description="a registered dataset; 0: the expert's latest")
    max_steps: int = Field(default=0, ge=0, description="0: the epochs decide")

    def config(self) -> dict[str, Any]:
        """The training job's config: zero and absent fields are left to the job's defaults."""
        config: dict[str, Any] = {"expert_id": self.name, "name": self.name, "distributed": self.distributed}
        for key, value in (("url", self.url), ("version", self.version),
                           ("batch_size", self.batch_size), ("learning_rate", self.learning_rate),
                           ("num_epochs", self.epochs), ("max_steps", self.max_steps),
                           ("dataset_id", self.dataset_id), ("n_clients", self.n_clients)):
            if value:
                config[key] = value
        requirements = self.requirements.model_dump(exclude_defaults=True) if self.requirements else {}
        if requirements:
            config["requirements"] = requirements
        return config


class TrainingTaskCreated(BaseModel):
    id: str = Field(description="the task's id: its job's, as a string")
    status: str
    created_at: str
    job_id: int


class TrainingTask(BaseModel):
    id: str
    type: Literal["training"] = "training"
    status: str = Field(description="pending | running | paused | completed | failed | stopped")
    progress: float = Field(description="0-100")
    created_at: str
    updated_at: str
    job_id: int


class TrainingTaskList(BaseModel):
    tasks: list[TrainingTask]
    total: int
    page: int
    limit: int
    pages: int


class TrainingTaskConfig(BaseModel):
    name: str
    batch_size: int
    learning_rate: float
    epochs: float
    distributed: bool
    n_clients: int
    dataset_id: int
    max_steps: int


class TrainingTaskDetail(TrainingTask):
    metrics: dict[str, Any] = Field(description="the latest loss and metric values")
    config: TrainingTaskConfig
    requirements: dict[str, Any]
    n_clients: int
    reason: str = Field(description="why it waits (its workers), or why it failed; empty otherwise")


class TrainingTaskStatusChange(Strict):
    status: str = Field(description="paused | running (resume) | stopped")
    reason: str = Field(default="", max_length=500)


class TrainingTaskStatusChanged(BaseModel):
    id: str
    status: str = Field(description="the task's status now: a running task pauses or stops at its next check")
    requested: str = Field(description="the status asked for")
    updated_at: str


def task_summary(job: JobView) -> TrainingTask:
    return TrainingTask(id=str(job["id"]), status=task_status(job), progress=_percent(job),
                       created_at=job["created_at"], updated_at=str(job.get("updated_at") or job["created_at"]),
                       job_id=int(job["id"]))


def task_detail(job: JobView, metrics: dict[str, Any]) -> TrainingTaskDetail:
    """A training job as seed 003's task; ``metrics`` are its latest METRIC line's values."""
    config, detail = job.get("config") or {}, job.get("progress_detail") or {}
    error = job.get("error") or {}
    n_clients = int(config.get("n_clients") or 1)
    latest = {"loss": detail.get("current_loss"), **metrics}
    return TrainingTaskDetail(
        **task_summary(job).model_dump(), metrics=latest,
        config=TrainingTaskConfig(name=str(config.get("name") or config.get("expert_id") or ""),
                          batch_size=int(config.get("batch_size") or 0),
                          learning_rate=float(config.get("learning_rate") or 0.0),
                          epochs=float(config.get("num_epochs") or 0.0), distributed=bool(config.get("distributed")),
                          n_clients=n_clients, dataset_id=int(config.get("dataset_id") or 0),
                          max_steps=int(config.get("max_steps") or 0)),
        requirements=dict(config.get("requirements") or {}), n_clients=n_clients,
        reason=str(detail.get("waiting_reason") or error.get("message") or ""))


def _percent(job: JobView) -> float:
    return round(100.0 * float(job.get("progress") or 0.0), 1)
