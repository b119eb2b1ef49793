"""Training API (the Robot API): training jobs, served by the jobs node."""

from __future__ import annotations

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict


class TrainingStart(Strict):
    expert_id: int = Field(ge=0)
    dataset_id: int = Field(ge=0, description="from /datasets/upload; 0 = the expert's latest dataset")
    learning_rate: float = Field(default=1e-4, gt=0, le=1.0, allow_inf_nan=False)
    batch_size: int = Field(default=4, ge=1, le=1024)
    num_epochs: int = Field(default=1, ge=1, le=1000)
    warmup_steps: int = Field(default=0, ge=0, le=1_000_000)
    gradient_accumulation: int = Field(default=1, ge=1, le=1024)
    use_lora: bool = True
    lora_rank: int = Field(default=8, ge=1, le=256)


class TrainingJob(BaseModel):
    job_id: int
    status: str
    estimated_time_hours: float | None = None


class TrainingStatus(BaseModel):
    job_id: int
    status: str = Field(description="queued | running | stopping | registering (making the new version) | stopped "
                                    "| completed | failed")
    current_epoch: int = Field(description="the epoch under way (1-based; 0 before the first step)")
    total_epochs: int
    current_loss: float | None = None
    best_loss: float | None = None
    train_loss: list[float] = []
    val_loss: list[float] = []
    eta_hours: float | None = None
    recent_logs: list[str] = []
    expert: str | None = None
    current_step: int = 0
    total_steps: int = 0
    checkpoint_saved: bool = False
    version: int | None = Field(default=None, description="the expert version the job made, once completed")
    error: str | None = None


class TrainingStopped(BaseModel):
    status: str
    checkpoint_saved: bool
