"""The job system as the jobs node serves it: JSON configs checked with every problem listed, and
each job shown with its kind's own view of its progress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.jobs import Job, JobContext, JobKind, JobRunner, JobStore
from embodied_ai.jobs.service import JobsService


def two_steps(ctx: JobContext) -> dict[str, Any]:
    for name in ("first", "second"):
        ctx.run_step(name, lambda: {})
    return {}


def describe(job: Job, finished: Any) -> dict[str, Any]:
    return {"completed_agents": sorted(finished), "total_agents": 2}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobsService]:
    store = JobStore(tmp_path / "operations.sqlite")
    runner = JobRunner(store, {"steps": JobKind(two_steps, resumable=True, describe=describe),
                               "plain": JobKind(two_steps)}, poll_s=0.05)
    runner.start()
    yield JobsService(store, runner)
    runner.stop(5.0)
    store.close()


def test_a_job_is_shown_with_its_kinds_view_of_its_progress(service: JobsService) -> None:
    job = service.submit("steps", '{"name": "demo"}')
    deadline = time.monotonic() + 5
    while (job := service.get(job.id)).status.value != "completed":
        assert time.monotonic() < deadline, job
        service.store.wait_for_update(job.id, 0, job.status, 0.1)
    view = service.view(job)
    assert view["status"] == "completed" and view["finished_steps"] == ["first", "second"]
    assert view["progress_detail"] == {"completed_agents": ["first", "second"], "total_agents": 2}
    plain = service.submit("plain")
    assert service.view(plain)["progress_detail"] == {}


def test_bad_configs_and_filters_list_every_problem(service: JobsService) -> None:
    with pytest.raises(InvalidRequest) as not_json:
        service.submit("steps", "{oops")
    assert not_json.value.problems and "config" in not_json.value.problems[0]
    with pytest.raises(InvalidRequest):
        service.submit("steps", "[1, 2]")
    with pytest.raises(InvalidRequest) as bad_filter:
        service.list_jobs(status="sleeping")
    assert "sleeping" in bad_filter.value.problems[0]


def test_follow_reports_until_the_job_ends_and_cancels_when_asked(service: JobsService) -> None:
    job = service.submit("steps")
    seen = list(service.follow(job, lambda: False, lambda: True, 0.01))
    assert seen and service.get(job.id).status.value == "completed"
    assert service.outcome(service.get(job.id)) == (0, "completed")
    later = service.submit("steps", scheduled_at="2999-01-01T00:00:00Z")
    followed = list(service.follow(later, lambda: True, lambda: True, 0.01))
    assert followed and service.get(later.id).status.value == "cancelled"
