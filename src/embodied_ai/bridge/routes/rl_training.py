"""Seed 001's Training API: reinforcement-learning tasks as jobs of the jobs node (``rl_training``,
``rl_reconcile``), beside seed 000's training of experts (``/v1/training/start`` and its status)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.jobs import JobsPort, JobView
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok, utc_now
from embodied_ai.bridge.schemas.rl_training import (
    Reconciled,
    ReconcileMetrics,
    TaskCancelled,
    TaskCreate,
    TaskCreated,
    TaskStatus,
    task_status,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout, NotFound

router = APIRouter(prefix=deps.API_PREFIX, tags=["skills"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 409, 429, 503, 504))
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
TaskId = Annotated[str, Path(pattern=r"^[0-9]{1,18}$", description="the task's id (seed 001 types it as a string)")]
RL_TRAINING, RL_RECONCILE = "rl_training", "rl_reconcile"
POLL_S = 0.25
CANCEL_WAIT_S = 30.0      # a cancelled task saves its checkpoint before it ends
RECONCILE_WAIT_S = 600.0  # reconcile answers with its figures, as seed 001 does


async def _task(jobs: JobsPort, task_id: str) -> JobView:
    job = await jobs.get(int(task_id))
    if job["type"] != RL_TRAINING:
        raise NotFound(f"task {task_id} is a {job['type']} job, not a training task")
    return job


async def _until_ended(jobs: JobsPort, job: JobView, wait_s: float) -> JobView:
    deadline = time.monotonic() + wait_s
    while job["status"] not in ("completed", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise GraphTimeout(f"job {job['id']} did not end within {wait_s:.0f} s (it goes on; GET it later)")
        await asyncio.sleep(POLL_S)
        job = await jobs.get(int(job["id"]))
    return job


@router.post("/training", status_code=201, summary="Create a reinforcement-learning training task (seed 001)")
async def create_task(body: TaskCreate, jobs: Jobs) -> Envelope[TaskCreated]:
    job = await jobs.submit(RL_TRAINING, body.config(), 0, None)
    return ok(TaskCreated(task_id=str(job["id"]), status="created", created_at=job["created_at"]))


@router.get("/training/{task_id}", summary="A training task's status and episode metrics (seed 001)")
async def get_task(task_id: TaskId, jobs: Jobs) -> Envelope[TaskStatus]:
    return ok(task_status(await _task(jobs, task_id)))


@router.post("/training/{task_id}/cancel", summary="Cancel a training task (its last checkpoint is kept)")
async def cancel_task(task_id: TaskId, jobs: Jobs) -> Envelope[TaskCancelled]:
    await _task(jobs, task_id)
    job = await _until_ended(jobs, await jobs.cancel(int(task_id)), CANCEL_WAIT_S)
    status = task_status(job)
    return ok(TaskCancelled(task_id=task_id, status=status.status, updated_at=status.updated_at))


@router.post("/training/{task_id}/reconcile", summary="Measure a trained policy on fresh, perturbed episodes")
async def reconcile(task_id: TaskId, jobs: Jobs, sample_size: Annotated[int, Query(ge=1, le=100_000)],
                    group_id: Annotated[str | None, Query(max_length=200)] = None) -> Envelope[Reconciled]:
    task = await _task(jobs, task_id)
    if task["status"] != "completed":
        raise NotFound(f"task {task_id} is {task_status(task).status}: it has no trained model to reconcile")
    config: dict[str, Any] = {"task_id": int(task_id), "sample_size": sample_size}
    if group_id is not None:
        config["group_id"] = group_id
    job = await _until_ended(jobs, await jobs.submit(RL_RECONCILE, config, 0, None), RECONCILE_WAIT_S)
    if job["status"] != "completed":
        error = job.get("error") or {}
        code = int(error.get("code", 0))
        raise EmbodiedError(f"reconcile of task {task_id} ended {job['status']}: {error.get('message', '')}",
                            ErrorCode(code) if code in ErrorCode._value2member_map_ else ErrorCode.TRAINING_FAILED)
    result = job.get("result") or {}
    model_id = result.get("model_id") or (task.get("result") or {}).get("model_id")
    return ok(Reconciled(
        task_id=task_id, model_type=result.get("model_type") or (task.get("config") or {}).get("model_type"),
        metrics=ReconcileMetrics(**{k: v for k, v in (result.get("metrics") or {}).items()
                                    if k in ReconcileMetrics.model_fields}),
        sample_size=int(result.get("sample_size") or sample_size), group_id=group_id,
        timestamp=str(result.get("timestamp") or utc_now().isoformat()), model_id=model_id,
        model_weights_path=f"{deps.API_PREFIX}/models/{model_id}/download?format=onnx_policy" if model_id else None,
        details={k: v for k, v in result.items() if k not in ("metrics",)}))
