"""One job system for every long-running piece of work (training, pipelines, batch inference):
jobs persisted in SQLite with a per-job log, run by worker threads, recovered after a crash.

The names below are loaded on first use, so that `embodied` (whose `jobs` commands live in
``embodied_ai.jobs.cli``) does not load the store for `embodied up`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embodied_ai.database import MAX_PAGE
    from embodied_ai.jobs.models import EVENTS, INTERNAL_ERROR, TERMINAL, Job, JobStatus, LogLevel, LogLine
    from embodied_ai.jobs.runner import JobCancelled, JobContext, JobKind, JobRunner
    from embodied_ai.jobs.store import JobStore

_WHERE = {
    **dict.fromkeys(("EVENTS", "INTERNAL_ERROR", "TERMINAL", "Job", "JobStatus", "LogLevel", "LogLine"),
                    "embodied_ai.jobs.models"),
    **dict.fromkeys(("JobCancelled", "JobContext", "JobKind", "JobRunner"), "embodied_ai.jobs.runner"),
    "MAX_PAGE": "embodied_ai.database", "JobStore": "embodied_ai.jobs.store",
}

__all__ = [
    "EVENTS", "INTERNAL_ERROR", "MAX_PAGE", "TERMINAL", "Job", "JobCancelled", "JobContext", "JobKind", "JobRunner",
    "JobStatus", "JobStore", "LogLevel", "LogLine",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
