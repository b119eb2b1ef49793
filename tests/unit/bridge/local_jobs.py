"""The JobsPort over a real job system in this process (SQLite store, runner threads), for the
routes' tests: the jobs node serves the same JobsService over ROS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from embodied_ai.bridge.ports.jobs import JobView, LogLineView
from embodied_ai.jobs import JobContext, JobKind, JobRunner, JobStore
from embodied_ai.jobs.service import JobsService


def count_to(ctx: JobContext) -> dict[str, Any]:
    """A small real job: counts to config['to'], a step and a log line each, honouring cancel."""
    to = int(ctx.job.config.get("to", 3))
    for n in range(1, to + 1):
        ctx.raise_if_cancelled()
        ctx.run_step(f"count_{n}", lambda n=n: {"n": n})
        ctx.log("METRIC", f"counted {n}", agent="counter", step=n, loss=1.0 / n)
        ctx.progress(n / to)
        if ctx.job.config.get("slow"):
            time.sleep(0.2)
    return {"counted": to}


class LocalJobs:
    def __init__(self, directory: Path) -> None:
        self.store = JobStore(directory / "operations.sqlite")
        self.runner = JobRunner(self.store, {"count": JobKind(count_to, resumable=True)}, poll_s=0.1)
        self.service = JobsService(self.store, self.runner)
        self.runner.start()

    def close(self) -> None:
        self.runner.stop(timeout=5.0)
        self.store.close()

    async def submit(self, type: str, config: dict[str, Any], priority: int, scheduled_at: str | None) -> JobView:
        return self.service.view(self.service.runner.submit(type, config, priority=priority, scheduled_at=scheduled_at))

    async def get(self, job_id: int) -> JobView:
        return self.service.view(self.service.get(job_id))

    async def list_jobs(self, status: str | None, type: str | None, limit: int,
                        offset: int) -> tuple[list[JobView], int]:
        jobs, total = self.service.list_jobs(status or "", type or "", limit, offset)
        return [self.service.view(job) for job in jobs], total

    async def cancel(self, job_id: int) -> JobView:
        return self.service.view(self.service.cancel(job_id))

    async def logs(self, job_id: int, after_seq: int, limit: int) -> tuple[list[LogLineView], bool]:
        return self.service.logs(job_id, after_seq, limit)
