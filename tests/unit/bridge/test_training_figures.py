"""The training figures of GET /v1/metrics over a real job store: which jobs count as active and
completed, the mean duration of the completed ones over every page, and the human duration."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.bridge.training_figures import TRAINING_KINDS, human_duration, training_figures
from tests.unit.bridge.stored_jobs import StoredJobs


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[StoredJobs]:
    stored = StoredJobs(tmp_path / "operations.sqlite")
    yield stored
    stored.close()


def test_no_jobs_no_average(jobs: StoredJobs) -> None:
    figures = asyncio.run(training_figures(jobs))
    assert (figures.active_tasks, figures.completed_tasks) == (0, 0)
    assert figures.average_training_time_s is None and figures.average_training_time is None


def test_only_the_training_kinds_count_and_the_mean_spans_every_page(jobs: StoredJobs) -> None:
    for kind, seconds in (("training", 3600), ("training", 2 * 3600), ("pipeline", 300), ("rl_training", 60),
                          ("rl_training", 140)):
        jobs.completed(kind, seconds)
    jobs.completed("count", 99_999)                  # not a training kind
    jobs.running("training")
    jobs.queued("pipeline")
    jobs.queued("rl_training")
    jobs.queued("batch_inference")
    jobs.pending("training")                          # waits for its time: not active
    jobs.failed("training")                           # ended without completing: neither

    figures = asyncio.run(training_figures(jobs, page_size=1))
    assert (figures.active_tasks, figures.completed_tasks) == (3, 5)
    assert figures.average_training_time_s == pytest.approx((3600 + 7200 + 300 + 60 + 140) / 5)   # 2260 s
    assert figures.average_training_time == "37m40s"
    # Every completed page of each kind was read, through the port's own filters.
    completed_pages = sorted((kind, offset) for status, kind, _, offset in jobs.pages if status == "completed")
    assert completed_pages == [("pipeline", 0), ("rl_training", 0), ("rl_training", 1), ("training", 0),
                               ("training", 1)]
    assert {kind for _, kind, _, _ in jobs.pages} == set(TRAINING_KINDS)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "0s"), (40, "40s"), (40.6, "41s"), (300, "5m"), (330, "5m30s"), (7200, "2h"), (7290, "2h1m"),
    (93_600, "26h")])
def test_durations_read_as_the_seed_writes_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
