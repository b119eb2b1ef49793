"""A JobsPort's list over a real job store whose clock the test moves, for figures that depend on when
jobs ran (training durations): the test claims and ends the jobs itself, as a worker would."""

from __future__ import annotations

from pathlib import Path

from embodied_ai.bridge.ports.jobs import JobView
from embodied_ai.jobs import Job, JobStore
from tests.unit.jobs.conftest import Clock


class StoredJobs:
    def __init__(self, db_path: Path) -> None:
        self.clock = Clock()
        self.store = JobStore(db_path, clock=self.clock)
        self.pages: list[tuple[str | None, str | None, int, int]] = []   # every list_jobs call

    def close(self) -> None:
        self.store.close()

    def completed(self, kind: str, seconds: float) -> Job:
        """A job of ``kind`` that ran for ``seconds`` and completed."""
        job = self.running(kind)
        self.clock.advance(seconds)
        return self.store.complete(job.id)

    def running(self, kind: str) -> Job:
        submitted = self.store.submit(kind, priority=1)      # before any job left queued
        claimed = self.store.claim([kind])
        assert claimed is not None and claimed.id == submitted.id
        return claimed

    def queued(self, kind: str) -> Job:
        return self.store.submit(kind)

    def failed(self, kind: str) -> Job:
        return self.store.fail(self.running(kind).id, 500, "broke")

    def pending(self, kind: str) -> Job:
        return self.store.submit(kind, scheduled_at="2999-01-01T00:00:00Z")

    async def list_jobs(self, status: str | None, type: str | None, limit: int,
                        offset: int) -> tuple[list[JobView], int]:
        self.pages.append((status, type, limit, offset))
        jobs, total = self.store.list(status, type, limit, offset)
        return [job.to_dict() for job in jobs], total
