"""Seed 002's operations status (``GET /v1/ops/status``): the system's state, its jobs, resource use and alerts.
Values the bridge cannot measure (no GPU, the jobs node away) are null, not guessed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ResourceUtilization(BaseModel):
    cpu: float = Field(description="% of all cores")
    memory: float = Field(description="% of memory in use")
    disk: float = Field(description="% of the state directory's filesystem in use")
    gpu: float | None = Field(description="null: not measured")


class OpsAlert(BaseModel):
    level: Literal["warning", "critical"]
    component: str = Field(description="a component of GET /v1/health, memory, emergency_stop, or a joint")
    message: str
    since: datetime = Field(description="when the bridge first saw the condition (it holds until now)")


class OpsStatus(BaseModel):
    system_status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="GET /v1/health's status, degraded at least while any alert holds")
    uptime: str = Field(description="the bridge's, e.g. 7d 14h 32m", examples=["7d 14h 32m"])
    uptime_seconds: float
    active_jobs: int | None = Field(description="running; null while the jobs node is away")
    queued_jobs: int | None = Field(description="queued, or pending their scheduled time")
    failed_jobs_24h: int | None = Field(description="failed in the last 24 hours")
    resource_utilization: ResourceUtilization
    alerts: list[OpsAlert] = Field(description="critical first")
