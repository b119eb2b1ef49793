"""The job system's records: a job, its status, and one line of its log.

Timestamps are UTC ISO-8601 strings of fixed width with milliseconds ("2024-05-01T12:00:00.123Z"):
fixed width so that SQLite compares them as text in the right order (``scheduled_at <= now``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from embodied_ai.errors import InvalidRequest

# The code of a job that failed on something that is not an EmbodiedError (a bug, a crash of its
# process): HTTP's "internal error", as the REST bridge answers it.
INTERNAL_ERROR = 500

# Events a job's listeners receive (JobStore.on_event): webhooks subscribe to the terminal ones,
# the WebSocket channel to all of them.
JOB_SUBMITTED = "job.submitted"
JOB_STARTED = "job.started"
JOB_PROGRESS = "job.progress"
JOB_REQUEUED = "job.requeued"      # back to queued: resumed after its process stopped
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_CANCELLED = "job.cancelled"
JOB_PAUSED = "job.paused"
EVENTS: tuple[str, ...] = (JOB_SUBMITTED, JOB_STARTED, JOB_PROGRESS, JOB_REQUEUED, JOB_COMPLETED, JOB_FAILED,
                           JOB_CANCELLED, JOB_PAUSED)


class JobStatus(str, Enum):
    PENDING = "pending"        # scheduled_at is in the future
    QUEUED = "queued"          # due; waits for a worker
    RUNNING = "running"
    PAUSED = "paused"          # stopped with its checkpoint; waits for a resume
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @classmethod
    def parse(cls, value: str | JobStatus) -> JobStatus:
        """The status named ``value``; InvalidRequest listing the statuses otherwise."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise InvalidRequest(f"unknown job status '{value}'", [f"status: '{value}' is not one of: {names}"]) \
                from None


TERMINAL: frozenset[JobStatus] = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class LogLevel(str, Enum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    METRIC = "METRIC"        # carries step / epoch / loss / values

    @classmethod
    def parse(cls, value: str | LogLevel) -> LogLevel:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(level.value for level in cls)
            raise InvalidRequest(f"unknown log level '{value}'", [f"level: '{value}' is not one of: {names}"]) \
                from None


@dataclass(frozen=True)
class Job:
    id: int                              # AUTOINCREMENT: stable, never reused
    type: str                            # the job kind: "training", "pipeline", ...
    status: JobStatus
    priority: int                        # higher runs first
    scheduled_at: str | None             # run not before this time
    progress: float                      # 0..1
    config: dict[str, Any]               # the request
    result: dict[str, Any] | None
    error: dict[str, Any] | None         # {code, message} (and problems, when there are several)
    created_at: str
    started_at: str | None               # of the latest attempt
    completed_at: str | None
    updated_at: str
    attempts: int                        # how many times a worker claimed it
    cancel_requested: bool               # a running job was asked to stop
    pause_requested: bool = False        # a running job was asked to pause (stop with its checkpoint)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the REST bridge's ``data``)."""
        return {
            "id": self.id, "type": self.type, "status": self.status.value, "priority": self.priority,
            "scheduled_at": self.scheduled_at, "progress": self.progress, "config": self.config,
            "result": self.result, "error": self.error, "created_at": self.created_at,
            "started_at": self.started_at, "completed_at": self.completed_at, "updated_at": self.updated_at,
            "attempts": self.attempts, "cancel_requested": self.cancel_requested,
            "pause_requested": self.pause_requested,
        }


@dataclass(frozen=True)
class LogLine:
    job_id: int
    seq: int                             # 1, 2, ... per job: the SSE event id (Last-Event-ID resumes after it)
    timestamp: str
    level: LogLevel
    agent: str                           # the pipeline agent that wrote it; "" for the job itself
    message: str
    step: int | None = None              # METRIC lines
    epoch: float | None = None
    loss: float | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "seq": self.seq, "timestamp": self.timestamp, "level": self.level.value,
            "agent": self.agent, "message": self.message, "step": self.step, "epoch": self.epoch,
            "loss": self.loss, "values": self.values,
        }


def format_time(moment: datetime) -> str:
    """``moment`` (timezone-aware) as the store writes it."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(value: str | datetime, name: str) -> datetime:
    """An ISO-8601 time with a timezone (a naive one would be read in whichever zone the host has)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            # Python 3.10's fromisoformat does not read "Z".
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except (ValueError, AttributeError):
            raise InvalidRequest(f"{name} is not an ISO-8601 time",
                                 [f"{name}: '{value}' is not an ISO-8601 time such as 2024-05-01T12:00:00Z"]) \
                from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRequest(f"{name} has no timezone", [f"{name}: '{value}' needs a timezone, e.g. a trailing Z"])
    return moment


def to_json(value: Any, name: str) -> str:
    """``value`` as strict JSON (no NaN or Infinity, which JSON clients cannot read); InvalidRequest otherwise."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{name} is not JSON", [f"{name}: {exc}"]) from None


def json_object(value: Any, name: str) -> str:
    """A JSON object (dict) as text; InvalidRequest for anything else."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be a JSON object",
                             [f"{name}: expected a JSON object, got {type(value).__name__}"])
    return to_json(value, name)


def finite_or_none(value: float | None) -> float | None:
    """A diverged loss (NaN, inf) kept as "no value" rather than refused: a log line must not fail its job."""
    return None if value is None or not math.isfinite(value) else float(value)


def finite_values(value: Any) -> Any:
    """``value`` with every NaN / infinity replaced by None (a METRIC line's values may carry a diverged loss)."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {str(k): finite_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_values(v) for v in value]
    return value
