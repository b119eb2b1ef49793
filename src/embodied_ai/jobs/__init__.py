"""One job system for every long-running piece of work (training, pipelines, batch inference):
jobs persisted in SQLite with a per-job log, run by worker threads, recovered after a crash."""

from embodied_ai.jobs.models import EVENTS, INTERNAL_ERROR, TERMINAL, Job, JobStatus, LogLevel, LogLine
from embodied_ai.jobs.runner import JobCancelled, JobContext, JobKind, JobRunner
from embodied_ai.jobs.store import MAX_PAGE, JobStore

__all__ = [
    "EVENTS", "INTERNAL_ERROR", "MAX_PAGE", "TERMINAL", "Job", "JobCancelled", "JobContext", "JobKind", "JobRunner",
    "JobStatus", "JobStore", "LogLevel", "LogLine",
]
