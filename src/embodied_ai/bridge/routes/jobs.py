"""Jobs API (seeds 004 and 002) and jobs' logs (seed 004's Logs API), over the jobs node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from embodied_ai.bridge.errors import describe, error_body, error_responses
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.paging import paginate
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.jobs import JobCreate, JobData, JobList, LogHistory, job_data, log_line
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import Conflict, EmbodiedError, InvalidRequest, NotFound

router = APIRouter(prefix=deps.API_PREFIX, tags=["jobs"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 409, 429, 503, 504))
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FOLLOW_PERIOD_S = 0.5   # how often a live log stream asks for new lines
RESULT_FILE_KINDS = ("batch_inference", "batch_processing")
RESULTS_MEDIA_TYPE = "application/x-ndjson"


@router.post("/jobs", status_code=201, summary="Submit a job (a pipeline, or any kind the jobs node runs)")
async def submit_job(body: JobCreate, jobs: Jobs) -> Envelope[JobData]:
    scheduled = body.scheduled_at.isoformat() if body.scheduled_at else None
    try:
        return ok(job_data(await jobs.submit(body.job_type(), body.config(), body.priority_value(), scheduled)))
    except InvalidRequest as exc:
        if body.pipeline_config is not None:
            exc.seed_code = "CONFIG_ERROR"   # seed 004's code for a pipeline_config that does not validate
        raise


@router.get("/jobs", summary="Jobs, newest first")
async def list_jobs(
    request: Request, response: Response, jobs: Jobs,
    status: Annotated[str | None, Query(pattern=r"^(pending|queued|running|completed|failed|cancelled)$")] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Envelope[JobList]:
    page, total = await jobs.list_jobs(status, type, limit, offset)
    return ok(JobList(jobs=[job_data(job) for job in page],
                      pagination=paginate(request, response, limit, offset, len(page), total)))


@router.get("/jobs/{job_id}", summary="A job: status, progress, result or error")
async def get_job(job_id: JobId, jobs: Jobs) -> Envelope[JobData]:
    return ok(job_data(await jobs.get(job_id)))


@router.get("/jobs/{job_id}/results", summary="A batch job's results file (JSON lines), once it completed",
            response_class=FileResponse, responses={200: {"content": {RESULTS_MEDIA_TYPE: {}}}})
async def download_results(job_id: JobId, jobs: Jobs) -> FileResponse:
    """A ``batch_inference`` or ``batch_processing`` job's one-line-per-item results (the robot and the
    bridge share the state directory, as for model downloads); 404 for a job without a results file,
    409 until it has completed."""
    job = await jobs.get(job_id)
    result = job.get("result") or {}
    if job["type"] not in RESULT_FILE_KINDS:
        raise NotFound(f"job {job_id} is a {job['type']} job: only batch jobs have a results file")
    if job["status"] != "completed":
        raise Conflict(f"job {job_id} is {job['status']}: its results are downloadable once it completed")
    path = FsPath(str(result.get("output_file") or ""))
    if not path.is_file():
        raise NotFound(f"job {job_id}'s results file is not on this machine ({path})")
    return FileResponse(path, media_type=RESULTS_MEDIA_TYPE, filename=f"job-{job_id}-results.jsonl")


@router.delete("/jobs/{job_id}", summary="Cancel a job (409 once it has ended)")
async def cancel_job(job_id: JobId, jobs: Jobs) -> Envelope[JobData]:
    return ok(job_data(await jobs.cancel(job_id)))


@router.get("/logs/history/{run_id}", summary="A job's log lines, oldest first")
async def log_history(
    run_id: JobId, jobs: Jobs,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, description="only lines after this sequence number")] = 0,
) -> Envelope[LogHistory]:
    lines, ended = await jobs.logs(run_id, after, limit)
    return ok(LogHistory(run_id=run_id, logs=[log_line(line) for line in lines], ended=ended))


@router.get("/logs/stream/{run_id}", summary="A job's log lines live (Server-Sent Events)",
            response_description="one `message` event per line (its id is the line's sequence number; "
                                 "reconnect with Last-Event-ID to resume), then one `end` event when the job ends",
            responses={200: {"content": {"text/event-stream": {}}}})
async def log_stream(
    run_id: JobId, jobs: Jobs,
    last_event_id: Annotated[int, Header(alias="Last-Event-ID", ge=0)] = 0,
) -> Response:
    # The first page here: an unknown job or a missing jobs node is a plain 404 / 503 answer.
    lines, ended = await jobs.logs(run_id, last_event_id, 1000)

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal lines, ended
        seen = last_event_id
        try:
            while True:
                for line in lines:
                    seen = line["seq"]
                    yield ServerSentEvent(data=log_line(line).model_dump_json(), id=str(seen))
                if ended:
                    yield ServerSentEvent(data=json.dumps({"run_id": run_id, "last_seq": seen}), event="end")
                    return
                if not lines:
                    await asyncio.sleep(FOLLOW_PERIOD_S)
                lines, ended = await jobs.logs(run_id, seen, 1000)
        except EmbodiedError as exc:
            yield ServerSentEvent(data=json.dumps(error_body(int(exc.code), describe(exc.code), exc.message),
                                                  default=str), event="error")

    return EventSourceResponse(events(), ping=15)
