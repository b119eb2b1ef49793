"""The job system as the bridge reaches it (the jobs node): jobs and their logs, as the jobs
node shows them (JSON-ready dicts: embodied_ai.jobs.models.Job.to_dict and LogLine.to_dict)."""

from __future__ import annotations

from typing import Any, Protocol

JobView = dict[str, Any]
LogLineView = dict[str, Any]


class JobsPort(Protocol):
    async def submit(self, type: str, config: dict[str, Any], priority: int, scheduled_at: str | None) -> JobView:
        """InvalidRequest (400) listing every problem when the job is refused before it runs."""
        ...

    async def get(self, job_id: int) -> JobView:
        """NotFound (404) for an unknown id."""
        ...

    async def list_jobs(self, status: str | None, type: str | None, limit: int,
                        offset: int) -> tuple[list[JobView], int]:
        """A page of jobs, newest first, and how many match over all pages."""
        ...

    async def cancel(self, job_id: int) -> JobView:
        """Conflict (409) when the job has already ended."""
        ...

    async def control(self, job_id: int, action: str, reason: str) -> JobView:
        """seed 003's status change: ``pause``, ``resume`` or ``stop`` (a cancel); InvalidRequest for another
        action, Conflict (409) when the job cannot do that now (a kind that cannot pause, an ended job)."""
        ...

    async def logs(self, job_id: int, after_seq: int, limit: int) -> tuple[list[LogLineView], bool]:
        """Lines after ``after_seq`` (oldest first) and whether the job has ended with no more to come."""
        ...
