"""Training API: training jobs, over the experts node (datasets are uploaded through routes/datasets.py)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.experts import ExpertsPort, TrainingProgress, TrainingSpec
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.training import TrainingJob, TrainingStart, TrainingStatus, TrainingStopped
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=deps.API_PREFIX, tags=["training"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 413, 422, 429, 503, 504))
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
JobId = Annotated[int, Path(ge=0, le=2**63 - 1)]


def hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, 4) if seconds is not None else None


def whole_epochs(epochs: float) -> int:
    """1.0 is the first epoch done, 1.25 the second under way (float32 noise is not an epoch)."""
    return math.ceil(epochs - 1e-6)


def training_status_of(job: TrainingProgress) -> TrainingStatus:
    return TrainingStatus(
        job_id=job.job_id, status=job.status, current_epoch=whole_epochs(job.current_epoch) if job.current_step else 0,
        total_epochs=whole_epochs(job.total_epochs), current_loss=job.current_loss, best_loss=job.best_loss,
        train_loss=job.train_loss, val_loss=job.val_loss, eta_hours=hours(job.eta_s), recent_logs=job.recent_logs,
        expert=job.expert, current_step=job.current_step, total_steps=job.total_steps,
        checkpoint_saved=job.checkpoint_saved, version=job.version, error=job.error)


@router.post("/training/start", status_code=201, summary="Start training an expert")
async def start_training(body: TrainingStart, experts: Experts) -> Envelope[TrainingJob]:
    job = await experts.start_training(TrainingSpec(
        expert_id=body.expert_id, dataset_id=body.dataset_id, learning_rate=body.learning_rate,
        batch_size=body.batch_size, num_epochs=body.num_epochs, warmup_steps=body.warmup_steps,
        gradient_accumulation=body.gradient_accumulation, use_lora=body.use_lora, lora_rank=body.lora_rank))
    return ok(TrainingJob(job_id=job.job_id, status=job.status, estimated_time_hours=hours(job.eta_s)))


@router.get("/training/{job_id}/status", summary="A training job's progress")
async def training_status(job_id: JobId, experts: Experts) -> Envelope[TrainingStatus]:
    return ok(training_status_of(await experts.training_status(job_id)))


@router.post("/training/{job_id}/stop", summary="Stop a training job (a checkpoint is saved)")
async def stop_training(job_id: JobId, experts: Experts) -> Envelope[TrainingStopped]:
    stopped = await experts.stop_training(job_id)
    return ok(TrainingStopped(status=stopped.status, checkpoint_saved=stopped.checkpoint_saved))
