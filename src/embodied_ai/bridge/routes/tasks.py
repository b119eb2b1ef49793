"""Seed 003's tasks API: distributed training tasks as ``training`` jobs of the jobs node (create, list,
follow, pause / resume / stop, delete); status names as schemas.tasks maps them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.cluster import ClusterPort
from embodied_ai.bridge.ports.jobs import JobsPort, JobView
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.paging import MAX_PAGE_NUMBER, paginate_pages
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.tasks import (
    ENDED,
    STATUS_CONTROLS,
    TASK_STATUSES,
    TRAINING,
    TrainingTaskCreate,
    TrainingTaskCreated,
    TrainingTaskDetail,
    TrainingTaskList,
    TrainingTaskStatusChange,
    TrainingTaskStatusChanged,
    task_detail,
    task_status,
    task_summary,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import InvalidRequest, NotFound

router = APIRouter(prefix=deps.API_PREFIX, tags=["tasks"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 409, 429, 503, 504))
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
Cluster = Annotated[ClusterPort, Depends(deps.cluster)]
TaskId = Annotated[str, Path(pattern=r"^[0-9]{1,18}$", description="the task's id (its job's)")]
STATUS_PATTERN = "^(" + "|".join(TASK_STATUSES) + ")$"


async def training_job(jobs: JobsPort, task_id: str) -> JobView:
    """The task's job; NotFound for an unknown id and for a job that is not a training job."""
    job = await jobs.get(int(task_id))
    if job["type"] != TRAINING:
        raise NotFound(f"{task_id} is a {job['type']} job, not a training task")
    return job


@router.post("/tasks", status_code=201, summary="Create a training task (seed 003)")
async def create_task(body: TrainingTaskCreate, jobs: Jobs) -> Envelope[TrainingTaskCreated]:
    """A ``training`` job of the expert ``name``; refused at once (400 listing every problem) for a bad
    field, an unknown expert or an impossible distributed request."""
    job = await jobs.submit(TRAINING, body.config(), 0, None)
    return ok(TrainingTaskCreated(id=str(job["id"]), status=task_status(job), created_at=job["created_at"],
                          job_id=int(job["id"])))


@router.get("/tasks", summary="Training tasks, newest first (seed 003's paging: page, limit)")
async def list_tasks(
    request: Request, response: Response, jobs: Jobs,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN, description="seed 003's status name")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
) -> Envelope[TrainingTaskList]:
    offset = (page - 1) * limit
    shown, total = await _training_jobs(jobs, TASK_STATUSES[status] if status else (None,), limit, offset)
    pages = paginate_pages(request, response, page, limit, total)
    return ok(TrainingTaskList(tasks=[task_summary(job) for job in shown], total=total, page=page, limit=limit,
                               pages=pages))


async def _training_jobs(jobs: JobsPort, statuses: tuple[str | None, ...], limit: int,
                         offset: int) -> tuple[list[JobView], int]:
    """A page of training jobs in any of ``statuses``, newest first, and how many there are."""
    if len(statuses) == 1:
        return await jobs.list_jobs(statuses[0], TRAINING, limit, offset)
    merged: list[JobView] = []
    total = 0
    for status in statuses:   # each status's first offset + limit jobs hold the merged page
        page, count = await jobs.list_jobs(status, TRAINING, min(offset + limit, MAX_PAGE), 0)
        merged += page
        total += count
    merged.sort(key=lambda job: int(job["id"]), reverse=True)
    return merged[offset:offset + limit], total


@router.get("/tasks/{task_id}", summary="A task: status, progress, latest metrics, config and requirements")
async def get_task(task_id: TaskId, jobs: Jobs, cluster: Cluster) -> Envelope[TrainingTaskDetail]:
    job = await training_job(jobs, task_id)
    metrics: dict[str, Any] = (await cluster.task_metrics(int(job["id"]))).get("metrics") or {}
    return ok(task_detail(job, metrics))


@router.put("/tasks/{task_id}/status", summary="Pause, resume (running) or stop a task")
async def set_task_status(task_id: TaskId, body: TrainingTaskStatusChange,
                          jobs: Jobs) -> Envelope[TrainingTaskStatusChanged]:
    """``paused``: a running task stops at its next check with its checkpoint; ``running``: a paused task
    continues from it under the same id; ``stopped``: cancelled. 409 when the task cannot do that now."""
    action = STATUS_CONTROLS.get(body.status)
    if action is None:
        raise InvalidRequest(f"unknown task status '{body.status}'",
                             [f"status: '{body.status}' is not one of: {', '.join(STATUS_CONTROLS)}"])
    await training_job(jobs, task_id)
    job = await jobs.control(int(task_id), action, body.reason)
    return ok(TrainingTaskStatusChanged(id=str(job["id"]), status=task_status(job), requested=body.status,
                                updated_at=str(job.get("updated_at") or job["created_at"])))


@router.delete("/tasks/{task_id}", status_code=204, response_class=Response,
               summary="Delete a task: stops it unless it has ended (its record stays in /v1/jobs)")
async def delete_task(task_id: TaskId, jobs: Jobs) -> Response:
    job = await training_job(jobs, task_id)
    if job["status"] not in ENDED:
        await jobs.control(int(task_id), "stop", "deleted")
    return Response(status_code=204)
