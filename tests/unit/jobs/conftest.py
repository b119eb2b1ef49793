"""Fixtures of the job system's tests: a store on a real SQLite file with a clock the test moves,
and a recorder of the store's events that a test waits on (no sleeps)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from embodied_ai.jobs import Job, JobStore


class Clock:
    """A UTC clock the test advances."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """Keeps every (job id, event, status) a store reports; ``wait`` blocks until one arrives."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, str]] = []
        self._changed = threading.Condition()

    def __call__(self, job: Job, event: str) -> None:
        with self._changed:
            self.events.append((job.id, event, job.status.value))
            self._changed.notify_all()

    def of(self, job_id: int) -> list[str]:
        with self._changed:
            return [event for i, event, _ in self.events if i == job_id]

    def wait(self, job_id: int, event: str, timeout: float = 5.0) -> None:
        with self._changed:
            seen = self._changed.wait_for(lambda: event in [e for i, e, _ in self.events if i == job_id], timeout)
        assert seen, f"no {event} for job {job_id} in {self.events}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "operations.sqlite"


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Iterator[JobStore]:
    store = JobStore(db_path, clock=clock)
    yield store
    store.close()


@pytest.fixture
def events(store: JobStore) -> Recorder:
    recorder = Recorder()
    store.on_event(recorder)
    return recorder
