"""Seed 002's ``GET /v1/ops/status``: is the system healthy, how long has it run, its jobs, its resource use and
what needs an operator (``bridge.alerts``).

Built from what the other routes read: ``GET /v1/health``'s components (``routes.monitoring``), the bridge's
CPU sampler (``GET /v1/metrics``), the jobs port's own filters (as ``GET /v1/jobs``) and the hardware port's
latest state (as ``GET /v1/hardware/sensors``). Service control (``ops/services``) is not here."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from embodied_ai.bridge.alerts import AlertLog, conditions
from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.hardware import HardwarePort, SensorSnapshot
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.resources import resource_use
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.monitoring import ESSENTIAL, health_components, health_status
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.ops import OpsAlert, OpsStatus, ResourceUtilization
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import EmbodiedError, GraphUnavailable
from embodied_ai.jobs.models import parse_time

router = APIRouter(prefix=deps.API_PREFIX, tags=["operations"], dependencies=[Depends(authorize)],
                   responses=error_responses(401, 429))
Status = Annotated[GraphStatus, Depends(deps.status)]
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
Hardware = Annotated[HardwarePort, Depends(deps.hardware)]
Metrics = Annotated[BridgeMetrics, Depends(deps.metrics)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]
FAILED_WINDOW = timedelta(hours=24)


def alert_log(request: Request) -> AlertLog:
    log: AlertLog = request.app.state.alerts
    return log


Alerts = Annotated[AlertLog, Depends(alert_log)]


def uptime_text(seconds: float) -> str:
    """Seed 002's uptime: "7d 14h 32m" (whole minutes; "0m" in the first minute)."""
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    return " ".join([*parts, f"{minutes}m"])


async def _count(jobs: JobsPort, status: str) -> int:
    _, total = await jobs.list_jobs(status, None, 1, 0)
    return total


async def failed_since(jobs: JobsPort, cutoff: datetime, page_size: int = MAX_PAGE) -> int:
    """Jobs that failed at or after ``cutoff`` (the pages are newest created first, and a job may fail long after
    its creation: every failed job is read; the id keeps a job that shifts the pages from counting twice)."""
    failed: set[int] = set()
    offset = 0
    while True:
        page, total = await jobs.list_jobs("failed", None, page_size, offset)
        failed.update(int(job["id"]) for job in page
                      if job.get("completed_at") and parse_time(job["completed_at"], "completed_at") >= cutoff)
        offset += len(page)
        if not page or offset >= total:
            return len(failed)


async def job_counts(jobs: JobsPort) -> tuple[int, int, int] | None:
    """(active, queued, failed in the last 24 h), or None while the jobs node cannot answer."""
    try:
        active, queued, pending = await asyncio.gather(*(_count(jobs, s) for s in ("running", "queued", "pending")))
        failed = await failed_since(jobs, datetime.now(timezone.utc) - FAILED_WINDOW)
    except EmbodiedError:   # away or too slow: the component alerts say which
        return None
    return active, queued + pending, failed


def latest_sensors(hardware: HardwarePort) -> SensorSnapshot | None:
    try:
        return hardware.sensors()
    except GraphUnavailable:   # no servo controller: its component alert says so
        return None


@router.get("/ops/status", summary="System status, uptime, jobs, resource use and alerts (seed 002)")
async def ops_status(request: Request, graph: Status, jobs: Jobs, hardware: Hardware, metrics: Metrics,
                     settings: Settings, alerts: Alerts) -> Envelope[OpsStatus]:
    components = health_components(request, graph)
    use = resource_use(metrics.system, settings.state_dir)
    counts = await job_counts(jobs)
    current = alerts.observe(conditions(components, ESSENTIAL, use.memory_percent, latest_sensors(hardware)))
    status = health_status(components)
    if current and status == "healthy":
        status = "degraded"
    uptime_s = time.monotonic() - request.app.state.started_at
    active, queued, failed = counts if counts is not None else (None, None, None)
    return ok(OpsStatus(
        system_status=status, uptime=uptime_text(uptime_s), uptime_seconds=uptime_s, active_jobs=active,
        queued_jobs=queued, failed_jobs_24h=failed,
        resource_utilization=ResourceUtilization(cpu=use.cpu_percent, memory=use.memory_percent,
                                                 disk=use.disk_percent, gpu=None),
        alerts=[OpsAlert(level=a.level, component=a.component, message=a.message, since=a.since) for a in current]))
