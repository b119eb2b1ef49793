"""The Jobs and Logs APIs' contract (seeds 004 and 002, inside the Robot API's envelope).

One POST /v1/jobs takes both seeds' bodies: seed 004's ``{pipeline_config}`` (a pipeline job)
and seed 002's ``{name, type, service, parameters, priority, scheduled_at}``. Job ids are
integers (seed 000's training jobs keep theirs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied_ai.bridge.ports.jobs import JobView, LogLineView
from embodied_ai.bridge.schemas.common import Pagination

PIPELINE = "pipeline"
# Seed 002's words for priorities; the job system orders by integer, higher first.
PRIORITIES = {"low": -10, "normal": 0, "high": 10, "urgent": 20}


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline_config: dict[str, Any] | None = Field(default=None, description="seed 004: a pipeline (a DAG of agents)")
    type: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$",
                             description="seed 002: the job's kind; 'pipeline' when pipeline_config is given")
    name: str | None = Field(default=None, max_length=200)
    service: str | None = Field(default=None, max_length=64, description="seed 002: the service the job uses")
    parameters: dict[str, Any] | None = Field(default=None, description="seed 002: the kind's parameters")
    priority: int | Literal["low", "normal", "high", "urgent"] = Field(default="normal")
    scheduled_at: datetime | None = Field(default=None, description="not before this time (with a time zone)")

    @model_validator(mode="after")
    def _one_kind(self) -> JobCreate:
        if self.pipeline_config is None and self.type is None:
            raise ValueError("give pipeline_config (a pipeline) or type (with its parameters)")
        if self.pipeline_config is not None and self.type not in (None, PIPELINE):
            raise ValueError(f"pipeline_config is a '{PIPELINE}' job, not '{self.type}'")
        if self.scheduled_at is not None and self.scheduled_at.tzinfo is None:
            raise ValueError("scheduled_at needs a time zone, e.g. 2026-01-01T12:00:00Z")
        return self

    def job_type(self) -> str:
        return PIPELINE if self.pipeline_config is not None else str(self.type)

    def config(self) -> dict[str, Any]:
        """What the job system stores as the job's request."""
        config: dict[str, Any] = dict(self.parameters or {})
        if self.pipeline_config is not None:
            config["pipeline_config"] = self.pipeline_config
        for key in ("name", "service"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config

    def priority_value(self) -> int:
        return PRIORITIES[self.priority] if isinstance(self.priority, str) else self.priority


class JobError(BaseModel):
    code: int
    message: str
    problems: list[str] = []


class PipelineStep(BaseModel):
    agent_name: str
    agent_class: str
    state: Literal["pending", "running", "completed", "failed", "skipped"]
    upstream: list[str] = []


class PipelineEdge(BaseModel):
    from_agent: str
    to_agent: str


class JobProgress(BaseModel):
    percentage: float = Field(description="0-100")
    completed_agents: list[str] = Field(default=[], description="a pipeline's finished steps, in run order")
    current_agent: str | None = Field(default=None, description="a pipeline's step running now")
    total_agents: int | None = None
    steps: list[PipelineStep] = Field(default=[], description="a pipeline's steps and their states (its DAG)")
    edges: list[PipelineEdge] = []


class JobData(BaseModel):
    job_id: int
    name: str | None
    type: str
    status: str = Field(description="pending | queued | running | completed | failed | cancelled")
    priority: int
    created_at: str
    started_at: str | None
    completed_at: str | None
    scheduled_at: str | None
    progress: JobProgress
    result: dict[str, Any] | None
    error: JobError | None
    attempts: int
    cancel_requested: bool


class JobList(BaseModel):
    jobs: list[JobData]
    pagination: Pagination


class LogLine(BaseModel):
    seq: int = Field(description="the SSE event id: Last-Event-ID resumes after it")
    timestamp: str
    agent: str
    level: Literal["INFO", "WARN", "ERROR", "METRIC"]
    message: str
    step: int | None = None
    epoch: float | None = None
    loss: float | None = None
    values: dict[str, Any] = {}


class LogHistory(BaseModel):
    run_id: int
    logs: list[LogLine]
    ended: bool = Field(description="the job has ended and every line is in")


def job_data(job: JobView) -> JobData:
    config = job.get("config") or {}
    detail = job.get("progress_detail") or {}
    return JobData(
        job_id=job["id"], name=config.get("name"), type=job["type"], status=job["status"], priority=job["priority"],
        created_at=job["created_at"], started_at=job.get("started_at"), completed_at=job.get("completed_at"),
        scheduled_at=job.get("scheduled_at"),
        progress=JobProgress(percentage=round(100.0 * float(job.get("progress") or 0.0), 1),
                             completed_agents=detail.get("completed_agents", list(job.get("finished_steps") or [])),
                             current_agent=detail.get("current_agent"), total_agents=detail.get("total_agents"),
                             steps=detail.get("steps", []), edges=detail.get("edges", [])),
        result=job.get("result"), error=JobError(**job["error"]) if job.get("error") else None,
        attempts=job.get("attempts", 0), cancel_requested=bool(job.get("cancel_requested")))


def log_line(line: LogLineView) -> LogLine:
    return LogLine(**{k: v for k, v in line.items() if k != "job_id"})
