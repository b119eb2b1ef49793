"""The job system as the jobs node serves it: requests and answers as JSON-ready values.

The node is wiring (ROS services and the run_job action call these); everything a request can
get wrong is checked here and raised as an EmbodiedError with every problem listed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import EmbodiedError, InvalidRequest
from embodied_ai.jobs.models import TERMINAL, Job, JobStatus
from embodied_ai.jobs.runner import JobRunner
from embodied_ai.jobs.store import JobStore

DEFAULT_PAGE = 50
DEFAULT_LOG_PAGE = 100
CONTROLS = ("pause", "resume", "stop")


def parse_config(config_json: str) -> dict[str, Any]:
    """A job's request: a JSON object ("" is an empty one)."""
    if not config_json.strip():
        return {}
    try:
        config = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise InvalidRequest("the job's config is not JSON", [f"config: {exc.msg} at character {exc.pos}"]) from None
    if not isinstance(config, dict):
        raise InvalidRequest("the job's config must be a JSON object", ["config: not an object"])
    return config


class JobsService:
    def __init__(self, store: JobStore, runner: JobRunner) -> None:
        self.store, self.runner = store, runner

    def submit(self, type: str, config_json: str = "", priority: int = 0, scheduled_at: str = "") -> Job:
        return self.runner.submit(type, parse_config(config_json), priority=priority,
                                  scheduled_at=scheduled_at.strip() or None)

    def get(self, job_id: int) -> Job:
        return self.store.get(job_id)

    def list_jobs(self, status: str = "", type: str = "", limit: int = 0, offset: int = 0) -> tuple[list[Job], int]:
        problems = []
        if status and status not in {s.value for s in JobStatus}:
            problems.append(f"status: '{status}' is not one of {', '.join(s.value for s in JobStatus)}")
        if problems:
            raise InvalidRequest("invalid job filter", problems)
        return self.store.list(status=status or None, type=type or None, limit=limit or DEFAULT_PAGE, offset=offset)

    def cancel(self, job_id: int) -> Job:
        return self.runner.cancel(job_id)

    def pause(self, job_id: int, reason: str = "") -> Job:
        return self.runner.pause(job_id, reason)

    def resume(self, job_id: int, reason: str = "") -> Job:
        return self.runner.resume(job_id, reason)

    def control(self, job_id: int, action: str, reason: str = "") -> Job:
        """seed 003's status change: ``pause``, ``resume`` or ``stop`` (a cancel)."""
        if action == "pause":
            return self.pause(job_id, reason)
        if action == "resume":
            return self.resume(job_id, reason)
        if action == "stop":
            return self.cancel(job_id)
        raise InvalidRequest(f"unknown action '{action}'", [f"action: '{action}' is not one of: {', '.join(CONTROLS)}"])

    def logs(self, job_id: int, after_seq: int = 0, limit: int = 0) -> tuple[list[dict[str, Any]], bool]:
        """Lines after ``after_seq``, and whether the job has ended with nothing more to come."""
        job = self.store.get(job_id)   # NotFound first
        lines = self.store.logs(job_id, after_seq=after_seq, limit=limit or DEFAULT_LOG_PAGE)
        # Ended only once the job is terminal and its last line has been read (the closing line
        # is written with the final status, in one transaction).
        ended = job.status in TERMINAL and not self.store.logs(job_id, after_seq=lines[-1].seq if lines else after_seq,
                                                               limit=1)
        return [line.to_dict() for line in lines], ended

    def view(self, job: Job) -> dict[str, Any]:
        """The job as clients see it: its fields, the steps it has finished, and its kind's own view
        of its progress (a pipeline's agents and their states)."""
        finished = self.store.finished_steps(job.id)
        kind = self.runner.kinds.get(job.type)
        detail: dict[str, Any] = {}
        if kind is not None and kind.describe is not None:
            try:
                detail = kind.describe(job, finished)
            except EmbodiedError:   # a stored config the kind no longer accepts: the job still shows
                detail = {}
        return {**job.to_dict(), "finished_steps": sorted(finished), "progress_detail": detail}

    def follow(self, job: Job, cancel_requested: Callable[[], bool], running: Callable[[], bool],
               period_s: float) -> Iterator[tuple[Job, str]]:
        """The job and its newest log line, at most every ``period_s``, until it ends or ``running()``
        turns false; once ``cancel_requested()`` the job is cancelled (a follower leaving is not a cancel)."""
        seen = 0
        while job.status not in TERMINAL and running():
            if cancel_requested() and not job.cancel_requested:
                job = self.cancel(job.id)
            lines = self.store.logs(job.id, after_seq=seen, limit=MAX_PAGE)
            seen = lines[-1].seq if lines else seen
            yield job, lines[-1].message if lines else ""
            time.sleep(period_s)
            job = self.get(job.id)

    @staticmethod
    def outcome(job: Job) -> tuple[int, str]:
        """An ended job's error code and message (0 and its status when it completed or was cancelled)."""
        error = job.error or {}
        return int(error.get("code", 0)), str(error.get("message", job.status.value))

    @staticmethod
    def to_json(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
