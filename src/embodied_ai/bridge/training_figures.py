"""Seed 001's training figures (``GET /v1/metrics``' ``training`` block): how many training jobs are active,
how many completed, and how long a completed one took on average; read through the jobs port with the
jobs node's own filters (``list_jobs`` by status and type), as ``GET /v1/jobs`` reads them.

The training kinds are the job system's ``training`` (an expert, seed 000), ``pipeline`` (seed 004) and
``rl_training`` (a policy, seed 001). Active is queued or running (a pending job waits for its
``scheduled_at``); a job's duration is from its latest start to its completion.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from embodied_ai.bridge.ports.jobs import JobsPort, JobView
from embodied_ai.database import MAX_PAGE
from embodied_ai.jobs.models import parse_time

TRAINING_KINDS = ("training", "pipeline", "rl_training")
ACTIVE_STATUSES = ("queued", "running")
COMPLETED = "completed"


@dataclass(frozen=True)
class TrainingFigures:
    active_tasks: int
    completed_tasks: int
    average_training_time_s: float | None       # None without a completed job

    @property
    def average_training_time(self) -> str | None:
        return None if self.average_training_time_s is None else human_duration(self.average_training_time_s)


def human_duration(seconds: float) -> str:
    """Seed 001's way of writing a duration ("2h", "5m", "40s"): its two largest units, rounded to the second."""
    remaining = round(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts[:2]) or "0s"


def _duration_s(job: JobView) -> float | None:
    if not job.get("started_at") or not job.get("completed_at"):
        return None
    elapsed = parse_time(job["completed_at"], "completed_at") - parse_time(job["started_at"], "started_at")
    return max(0.0, elapsed.total_seconds())


async def _count(jobs: JobsPort, status: str, kind: str) -> int:
    _, total = await jobs.list_jobs(status, kind, 1, 0)
    return total


async def _completed(jobs: JobsPort, kind: str, page_size: int) -> tuple[int, dict[int, float]]:
    """How many jobs of ``kind`` completed, and each one's duration by id (newest first pages: a job that
    completes meanwhile shifts the pages, and the id keeps it from counting twice)."""
    durations: dict[int, float] = {}
    page, total = await jobs.list_jobs(COMPLETED, kind, page_size, 0)
    offset = 0
    while True:
        for job in page:
            if (duration := _duration_s(job)) is not None:
                durations[int(job["id"])] = duration
        offset += len(page)
        if not page or offset >= total:
            return total, durations
        page, _ = await jobs.list_jobs(COMPLETED, kind, page_size, offset)


async def training_figures(jobs: JobsPort, page_size: int = MAX_PAGE) -> TrainingFigures:
    """The figures over every job of the training kinds; GraphUnavailable while the jobs node is away."""
    active = await asyncio.gather(*(_count(jobs, status, kind) for kind in TRAINING_KINDS
                                    for status in ACTIVE_STATUSES))
    completed = await asyncio.gather(*(_completed(jobs, kind, page_size) for kind in TRAINING_KINDS))
    durations = [duration for _, by_id in completed for duration in by_id.values()]
    return TrainingFigures(active_tasks=sum(active), completed_tasks=sum(total for total, _ in completed),
                           average_training_time_s=sum(durations) / len(durations) if durations else None)
