"""Seed 002's ``GET /v1/ops/status``: is the system healthy, how long has it run, its jobs, its resource use and
what needs an operator (``bridge.alerts``).

Built from what the other routes read: ``GET /v1/health``'s components (``routes.monitoring``), the bridge's
CPU sampler (``GET /v1/metrics``), the jobs port's own filters (as ``GET /v1/jobs``) and the hardware port's
latest state (as ``GET /v1/hardware/sensors``).

Seed 002's ``ops/services``: each node of the graph as a service, its process's state from the launcher's node
(the services port) and its health from the components of ``GET /v1/health`` it serves; a start, stop or restart
is the launcher's to do, and the answer waits (``wait_for_health``) until the nodes it started are healthy. The
bridge refuses to stop or restart its own process: nothing could start it again through this API."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Request

from embodied_ai.bridge.alerts import AlertLog, conditions
from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.hardware import HardwarePort, SensorSnapshot
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.ports.services import ServicesPort, ServiceState
from embodied_ai.bridge.resources import resource_use
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.monitoring import ESSENTIAL, health_components, health_status
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.ops import (
    OpsAlert,
    OpsService,
    OpsStatus,
    ResourceUtilization,
    ServiceControlled,
    ServiceControlRequest,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import Conflict, EmbodiedError, GraphUnavailable
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


def services_port(request: Request) -> ServicesPort:
    return deps.ports(request).services


Services = Annotated[ServicesPort, Depends(services_port)]
# Components of GET /v1/health named otherwise than the node that serves them (launch/robot.yaml); every
# other component is named after its node.
COMPONENT_NODES = {"speech_recognition": "asr", "speech_synthesis": "tts", "router": "experts"}
BRIDGE_NODE = "rest_bridge"
HEALTH_POLL_S = 0.25


def served_components(node: str, components: dict[str, str]) -> dict[str, str]:
    """The components of GET /v1/health that ``node`` serves, and their state."""
    return {name: state for name, state in components.items() if COMPONENT_NODES.get(name, name) == node}


def ops_service(state: ServiceState, components: dict[str, str]) -> OpsService:
    """A service with its health: a running process whose components are not all ok yet is starting."""
    served = served_components(state.name, components)
    health = next((s for s in served.values() if s != "ok"), "ok") if served else None
    status = "starting" if state.status == "running" and health not in (None, "ok") else state.status
    return OpsService(name=state.name, process=state.process, nodes=list(state.nodes), status=status, pid=state.pid,
                      restarts=state.restarts, uptime_seconds=state.uptime_s, health=health, components=served)


async def service_list(services: ServicesPort, components: dict[str, str]) -> list[OpsService] | None:
    """Every service, or None while the launcher's node does not answer."""
    try:
        return [ops_service(state, components) for state in await services.list_services()]
    except EmbodiedError:
        return None


def unhealthy(nodes: tuple[str, ...], components: dict[str, str]) -> list[str]:
    """'component: state' for each component of ``nodes`` that is not ok."""
    return [f"{name}: {state}" for node in nodes for name, state in served_components(node, components).items()
            if state != "ok"]


async def wait_until_healthy(request: Request, graph: GraphStatus, nodes: tuple[str, ...],
                             timeout_s: float) -> list[str]:
    """Wait until every component of ``nodes`` is ok, at most ``timeout_s``; what is still not ok."""
    deadline = time.monotonic() + timeout_s
    while (problems := unhealthy(nodes, health_components(request, graph))) and time.monotonic() < deadline:
        await asyncio.sleep(min(HEALTH_POLL_S, max(0.0, deadline - time.monotonic())))
    return problems


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
                     settings: Settings, alerts: Alerts, services: Services) -> Envelope[OpsStatus]:
    components = health_components(request, graph)
    use = resource_use(metrics.system, settings.state_dir)
    counts = await job_counts(jobs)
    current = alerts.observe(conditions(components, ESSENTIAL, use.memory_percent, latest_sensors(hardware)))
    status = health_status(components)
    if current and status == "healthy":
        status = "degraded"
    uptime_s = time.monotonic() - request.app.state.started_at
    service_states = await service_list(services, components)
    active, queued, failed = counts if counts is not None else (None, None, None)
    return ok(OpsStatus(
        system_status=status, uptime=uptime_text(uptime_s), uptime_seconds=uptime_s, active_jobs=active,
        queued_jobs=queued, failed_jobs_24h=failed,
        resource_utilization=ResourceUtilization(cpu=use.cpu_percent, memory=use.memory_percent,
                                                 disk=use.disk_percent, gpu=None),
        alerts=[OpsAlert(level=a.level, component=a.component, message=a.message, since=a.since) for a in current],
        services=service_states))


@router.get("/ops/services", summary="Each node of the graph as a service: its process, state and health (seed 002)",
            responses=error_responses(503, 504))
async def ops_services(request: Request, graph: Status, services: Services) -> Envelope[list[OpsService]]:
    components = health_components(request, graph)
    return ok([ops_service(state, components) for state in await services.list_services()])


@router.post("/ops/services/{name:path}/{action}", summary="Start, stop or restart a service (seed 002)",
             responses=error_responses(400, 404, 409, 503, 504))
async def control_service(
    request: Request, graph: Status, services: Services,
    name: Annotated[str, Path(max_length=200, description="a node (or its process): its whole process acts")],
    action: Literal["start", "stop", "restart"],
    body: Annotated[ServiceControlRequest | None, Body()] = None,
) -> Envelope[ServiceControlled]:
    body = body or ServiceControlRequest()
    if action != "start":
        target = next((s for s in await services.list_services() if name in (s.name, s.process)), None)
        if target is not None and BRIDGE_NODE in target.nodes:
            raise Conflict(f"{action} of '{name}' refused: it would stop the REST bridge that answers this request, "
                           "and nothing could start it again through the API")
    outcome = await services.control(name, action, body.force)
    healthy: bool | None = None
    if action == "stop":
        message = (f"stopped {', '.join(outcome.affects)} (process {outcome.service.process}); "
                   "not respawned until started")
    else:
        problems = (await wait_until_healthy(request, graph, outcome.affects, body.timeout_s) if body.wait_for_health
                    else unhealthy(outcome.affects, health_components(request, graph)))
        healthy = not problems
        done = f"{action}ed {', '.join(outcome.affects)} (process {outcome.service.process}, pid {outcome.service.pid})"
        message = (f"{done}; healthy" if healthy else
                   f"{done}; not healthy after {body.timeout_s:g} s: {'; '.join(problems)}" if body.wait_for_health
                   else f"{done}; not healthy yet: {'; '.join(problems)}")
    latest = next((s for s in await services.list_services() if s.name == outcome.service.name), outcome.service)
    details = ops_service(latest, health_components(request, graph))
    return ok(ServiceControlled(service=name, action=action, status=details.status, message=message,
                                affects=list(outcome.affects), healthy=healthy, details=details))
