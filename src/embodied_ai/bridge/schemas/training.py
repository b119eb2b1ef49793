"""Training API (seed 000): dataset upload and training jobs, served by the experts node."""

from __future__ import annotations

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict


class DatasetInfo(BaseModel):
    dataset_id: int
    num_samples: int
    size_mb: float
    status: str


class TrainingStart(Strict):
    expert_id: int = Field(ge=0)
    dataset_id: int = Field(ge=0)
    learning_rate: float = Field(1e-4, gt=0, le=1.0, allow_inf_nan=False)
    batch_size: int = Field(4, ge=1, le=1024)
    num_epochs: int = Field(1, ge=1, le=1000)
    warmup_steps: int = Field(0, ge=0, le=1_000_000)
    gradient_accumulation: int = Field(1, ge=1, le=1024)
    use_lora: bool = True
    lora_rank: int = Field(8, ge=1, le=256)


class TrainingJob(BaseModel):
    job_id: int
    status: str
    estimated_time_hours: float | None = None


class TrainingStatus(BaseModel):
    job_id: int
    status: str
    current_epoch: int
    total_epochs: int
    current_loss: float | None = None
    best_loss: float | None = None
    train_loss: list[float] = []
    val_loss: list[float] = []
    eta_hours: float | None = None
    recent_logs: list[str] = []


class TrainingStopped(BaseModel):
    status: str
    checkpoint_saved: bool
