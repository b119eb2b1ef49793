"""Fixtures of the model registry's tests: a registry and a performance log on one real SQLite
file (the operations database they share), with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from embodied_ai.model_registry import ModelRegistry, PerformanceLog


class Clock:
    """A UTC clock the test advances."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "operations.sqlite"


@pytest.fixture
def registry(db_path: Path, clock: Clock) -> Iterator[ModelRegistry]:
    registry = ModelRegistry(db_path, clock=clock)
    yield registry
    registry.close()


@pytest.fixture
def perf(db_path: Path, clock: Clock) -> Iterator[PerformanceLog]:
    log = PerformanceLog(db_path, clock=clock)
    yield log
    log.close()
