"""The experts port: the experts node's registry (experts and their versions), and training as
jobs of the jobs node.

Values the registry does not know are None here (no parameters counted yet, no quantization,
a NaN loss); the HTTP layer shapes them into the API's answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ExpertStatus = Literal["initializing", "training", "ready", "disabled"]


@dataclass(frozen=True)
class ExpertFilter:
    category: str = ""  # "" = any
    status: str = ""  # "" = any
    sort_by: str = "name"  # name | accuracy | speed
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class ExpertRecord:
    """One expert as the registry holds it."""

    id: int
    name: str
    domain: str
    category: str
    status: ExpertStatus
    config: dict[str, object]
    metrics: dict[str, float]  # the measured ones (finite numbers only)
    performance: dict[str, float]  # e.g. inference_speed_tokens_per_sec
    total_calls: int
    last_used: str | None  # ISO 8601
    quantization: str | None
    total_params: int | None
    kind: str | None  # adapter | model | base; None until a first version is trained
    current_version: int
    created_at: str | None  # ISO 8601


@dataclass(frozen=True)
class ExpertList:
    experts: list[ExpertRecord]
    total: int  # matching experts before paging


@dataclass(frozen=True)
class ExpertSpec:
    """A new expert. Shape fields 0 / "" leave the choice to the registry."""

    name: str
    domain: str
    category: str = "general"
    size: str = ""  # "" | small | medium | large: a shape preset
    d_model: int = 0
    n_layers: int = 0
    n_heads: int = 0
    quantization: str = "Q8"
    base_model: str = ""  # "" = the shared base


@dataclass(frozen=True)
class ExpertCreated:
    expert: ExpertRecord
    estimated_size_gb: float | None


@dataclass(frozen=True)
class ExpertChanges:
    """"" leaves a field as it is."""

    domain: str = ""
    category: str = ""
    status: str = ""  # "" | ready | disabled


@dataclass(frozen=True)
class ExpertDeleted:
    expert_id: int
    status: str  # deleted | hard_deleted


@dataclass(frozen=True)
class ModelShape:
    d_model: int
    n_layers: int
    n_heads: int


@dataclass(frozen=True)
class ResizeStarted:
    """The training job that makes the expert's new version at another shape."""

    expert_id: int
    expert_name: str
    job_id: int


@dataclass(frozen=True)
class TrainingSpec:
    expert_id: int
    dataset_id: int  # 0 = the expert's latest dataset
    learning_rate: float
    batch_size: int
    num_epochs: int
    warmup_steps: int
    gradient_accumulation: int
    use_lora: bool
    lora_rank: int


@dataclass(frozen=True)
class TrainingStarted:
    job_id: int
    status: str
    eta_s: float | None  # None when unknown


@dataclass(frozen=True)
class TrainingProgress:
    """A job's state as the jobs node reports it (right after the job ended, and after a
    restart of the bridge)."""

    job_id: int
    status: str  # queued | running | stopping | registering | stopped | completed | failed
    expert: str
    current_step: int
    total_steps: int
    current_epoch: float  # fractional: 1.5 = half way through the second epoch
    total_epochs: float
    current_loss: float | None
    best_loss: float | None
    train_loss: list[float]
    val_loss: list[float]
    eta_s: float | None
    recent_logs: list[str]
    checkpoint_saved: bool
    version: int | None  # the version the job made, once completed
    error: str | None


@dataclass(frozen=True)
class TrainingStopped:
    status: str
    checkpoint_saved: bool


class ExpertsPort(Protocol):
    async def list_experts(self, query: ExpertFilter) -> ExpertList: ...

    async def get_expert(self, expert: str) -> ExpertRecord:
        """``expert``: its id or its name."""
        ...

    async def create_expert(self, spec: ExpertSpec) -> ExpertCreated: ...

    async def update_expert(self, expert: str, changes: ExpertChanges) -> ExpertRecord: ...

    async def delete_expert(self, expert: str, hard_delete: bool) -> ExpertDeleted: ...

    async def resize_expert(self, expert: str, shape: ModelShape) -> ResizeStarted:
        """Starts a job training a new version from scratch at ``shape`` on the latest dataset."""
        ...

    async def start_training(self, spec: TrainingSpec) -> TrainingStarted:
        """Answers once the job is queued (refused at once when it would fail); its progress goes out
        as ``training`` events."""
        ...

    async def training_status(self, job_id: int) -> TrainingProgress: ...

    async def stop_training(self, job_id: int) -> TrainingStopped:
        """Answers once the job has stopped (after saving a checkpoint)."""
        ...
