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


ServiceStatus = Literal["running", "starting", "stopped", "restarting"]


class OpsService(BaseModel):
    """A service of the graph (seed 002's ``ops/services``): a node, and the process that hosts it."""

    name: str = Field(description="the node", examples=["perception"])
    process: str = Field(description="its process; a container process hosts several nodes", examples=["sensing"])
    nodes: list[str] = Field(description="every node of the process: they stop and start together")
    status: ServiceStatus = Field(description=(
        "running; starting: its process runs but its components are not all ok yet; stopped: stopped on request "
        "(not respawned until started) or exited; restarting: a restart on request, or a crash's back-off"))
    pid: int | None = Field(description="null while its process is not running")
    restarts: int = Field(description="respawns after crashes and restarts on request, since `embodied up`")
    uptime_seconds: float | None = Field(description="its process's; null while it is not running")
    health: str | None = Field(description=(
        "ok when every component of GET /v1/health it serves is ok, else the first one's state "
        "(starting, unavailable, not built); null: it serves none"))
    components: dict[str, str] = Field(description="the components of GET /v1/health it serves, and their state")


class ServiceControlRequest(BaseModel):
    """Seed 002's body of ``POST /v1/ops/services/{name}/{action}``; every field may be left out."""

    force: bool = Field(default=False, description=(
        "stop (or restart) with SIGKILL at once, without SIGINT and its grace period; never overrides a refusal"))
    wait_for_health: bool = Field(default=True, description=(
        "answer once every node the action started is healthy again, or after timeout_s"))
    timeout_s: float = Field(default=60.0, gt=0, le=300, description="how long wait_for_health waits, s")


class ServiceControlled(BaseModel):
    """What a start, stop or restart did (seed 002's service, action, status and message)."""

    service: str
    action: Literal["start", "stop", "restart"]
    status: ServiceStatus = Field(description="the service's, when the answer was made")
    message: str
    affects: list[str] = Field(description="every node the action stopped or started: the whole process")
    healthy: bool | None = Field(description=(
        "whether every node it started was healthy when the answer was made; null for a stop"))
    details: OpsService


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
    services: list[OpsService] | None = Field(default=None, description=(
        "each node's process, as GET /v1/ops/services; null while the launcher's node does not answer"))
