"""Monitoring API: system metrics (now, and seed 001's over time), health with components, and Prometheus
/metrics."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Annotated, Literal

import psutil
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from embodied_ai import __version__
from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.model_files import product_model_files
from embodied_ai.bridge.ports.cluster import ClusterPort
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.experts import ExpertFilter, ExpertsPort
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.resources import resource_use
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.models import SeriesData
from embodied_ai.bridge.schemas.monitoring import (
    ClusterTotals,
    ExpertCounts,
    Health,
    InferenceMetrics,
    Metrics,
    MetricsHistory,
    SystemMetrics,
    SystemUsage,
    TrainingTotals,
)
from embodied_ai.bridge.schemas.system_health import (
    ComprehensiveHealth,
    DatabaseCheck,
    ModelFileCheck,
    NetworkIO,
    SystemResources,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.system_samples import Series
from embodied_ai.bridge.training_figures import training_figures
from embodied_ai.errors import EmbodiedError, GraphUnavailable

router = APIRouter(prefix=deps.API_PREFIX, tags=["monitoring"])
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
Cluster = Annotated[ClusterPort, Depends(deps.cluster)]
Status = Annotated[GraphStatus, Depends(deps.status)]
BridgeMetricsDep = Annotated[BridgeMetrics, Depends(deps.metrics)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]
GIB = 1024 ** 3
ESSENTIAL = "servo_controller"  # without it the robot cannot be driven: unhealthy


def gpu_component() -> str:
    return "ok" if Path("/dev/nvidia0").exists() or Path("/dev/nvhost-ctrl").exists() else "absent"


@router.get("/monitoring/metrics", summary="System, expert and inference metrics",
            dependencies=[Depends(authorize)], responses=error_responses(401, 429))
async def monitoring_metrics(experts: Experts, metrics: BridgeMetricsDep) -> Envelope[Metrics]:
    memory = psutil.virtual_memory()
    system = SystemMetrics(cpu_usage=metrics.system.current().cpu * 100.0,
                           ram_usage_gb=(memory.total - memory.available) / GIB, ram_total_gb=memory.total / GIB,
                           gpu_usage=None, gpu_memory_gb=None)
    try:
        page = await experts.list_experts(ExpertFilter(limit=500))
        statuses = [e.status for e in page.experts]
        counts = ExpertCounts(total=page.total, active=statuses.count("ready"), training=statuses.count("training"))
    except GraphUnavailable:
        counts = ExpertCounts(total=None, active=None, training=None)
    per_minute, latency = metrics.inference.summary()
    inference = InferenceMetrics(requests_per_minute=per_minute, avg_latency_ms=latency, cache_hit_rate=None)
    return ok(Metrics(system=system, experts=counts, inference=inference))


def _series(series: Series) -> SeriesData:
    return SeriesData(values=list(series.values), timestamps=list(series.timestamps))


@router.get("/metrics", summary="CPU and memory use over time, and training jobs' figures (seed 001)",
            dependencies=[Depends(authorize)], responses=error_responses(400, 401, 429))
async def metrics_history(
    jobs: Jobs, metrics: BridgeMetricsDep, cluster: Cluster,
    start_time: Annotated[str | None, Query(max_length=64, description="ISO-8601 with a time zone; default: 60 "
                                                                        "intervals before end_time")] = None,
    end_time: Annotated[str | None, Query(max_length=64, description="ISO-8601 with a time zone; default now")] = None,
    interval: Annotated[str, Query(max_length=16, description="1m | 5m | 1h")] = "1m",
) -> Envelope[MetricsHistory]:
    # The window is checked here, so that 400 lists its every problem (interval included) at once.
    series = metrics.system.series(start_time, end_time, interval)
    try:
        figures = await training_figures(jobs)
        training = TrainingTotals(active_tasks=figures.active_tasks, completed_tasks=figures.completed_tasks,
                                  average_training_time=figures.average_training_time,
                                  average_training_time_s=figures.average_training_time_s)
    except GraphUnavailable:
        training = None   # as /v1/monitoring/metrics' experts: the bridge's own figures still answer
    return ok(MetricsHistory(
        interval=series.window.interval, start_time=series.window.start_time, end_time=series.window.end_time,
        system=SystemUsage(cpu_usage=_series(series.cpu_usage), memory_usage=_series(series.memory_usage)),
        training=training, cluster=await cluster_totals(cluster)))


async def cluster_totals(cluster: ClusterPort) -> ClusterTotals | None:
    """The cluster's workers by status; None while the jobs node or its cluster cannot answer."""
    try:
        backend, workers = await cluster.workers()
    except EmbodiedError:
        return None
    statuses = [worker.get("status") for worker in workers]
    return ClusterTotals(backend=backend, workers=len(workers), online=statuses.count("online"),
                         busy=statuses.count("busy"))


HealthStatus = Literal["healthy", "degraded", "unhealthy"]


def health_components(request: Request, graph: GraphStatus) -> dict[str, str]:
    """Each component of GET /v1/health -> "ok" or what it is instead (also read by /v1/health/comprehensive and
    /v1/ops/status)."""
    return {**graph.components(), "api_keys": "ok" if os.access(request.app.state.security.keys.path, os.R_OK)
            else "unreadable", "gpu": gpu_component()}


def health_status(components: dict[str, str]) -> HealthStatus:
    """Unhealthy without the servo controller; degraded while any other component (but the GPU) is not ok."""
    if components.get(ESSENTIAL) != "ok":
        return "unhealthy"
    if any(v != "ok" for k, v in components.items() if k != "gpu"):
        return "degraded"
    return "healthy"


@router.get("/health", summary="Health with components (not enveloped, as in the Robot API)",
            responses={503: {"model": Health, "description": "the servo controller is not reachable"}})
async def health(request: Request, graph: Status) -> JSONResponse:
    components = health_components(request, graph)
    status = health_status(components)
    body = Health(status=status, components=components,
                  uptime_seconds=time.monotonic() - request.app.state.started_at)
    return JSONResponse(body.model_dump(), status_code=503 if status == "unhealthy" else 200)


@router.get("/health/live", summary="Liveness: the HTTP server answers (touches nothing else)")
async def live() -> dict[str, str]:
    return {"status": "alive"}


async def database_check(jobs: JobsPort) -> DatabaseCheck:
    """The jobs node's database answers the cheapest call that reads it: a one-job page."""
    started = time.perf_counter()
    try:
        await jobs.list_jobs(None, None, 1, 0)
    except EmbodiedError as exc:
        return DatabaseCheck(status="unavailable", latency_ms=None, detail=exc.message)
    return DatabaseCheck(status="connected", latency_ms=(time.perf_counter() - started) * 1000.0)


@router.get("/health/comprehensive", summary="Health in detail: machine, database, model files, components "
                                              "(seed 002)", dependencies=[Depends(authorize)],
            responses=error_responses(401, 429))
async def comprehensive_health(request: Request, graph: Status, jobs: Jobs, metrics: BridgeMetricsDep,
                               settings: Settings) -> Envelope[ComprehensiveHealth]:
    components = health_components(request, graph)
    use = resource_use(metrics.system, settings.state_dir)
    network = psutil.net_io_counters()
    database = await database_check(jobs)
    files = await asyncio.to_thread(product_model_files)
    status = health_status(components)
    if status == "healthy" and (database.status != "connected" or any(f.status != "ok" for f in files)):
        status = "degraded"
    return ok(ComprehensiveHealth(
        status=status, version=__version__, uptime_seconds=time.monotonic() - request.app.state.started_at,
        system_metrics=SystemResources(
            cpu_usage=use.cpu_percent, memory_usage=use.memory_percent, disk_usage=use.disk_percent,
            disk_path=use.disk_path,
            network_io=NetworkIO(bytes_sent=network.bytes_sent, bytes_received=network.bytes_recv,
                                 packets_sent=network.packets_sent, packets_received=network.packets_recv)),
        database=database, components=components,
        model_files=[ModelFileCheck(model=f.model, part=f.part, path=f.path, status=f.status,
                                    size_bytes=f.size_bytes, detail=f.detail) for f in files]))


prometheus = APIRouter(tags=["monitoring"])


@prometheus.get("/metrics", summary="Prometheus exposition", response_class=Response,
                dependencies=[Depends(authorize)], responses={200: {"content": {"text/plain": {}}},
                                                              **error_responses(401, 429)})
async def prometheus_metrics(metrics: BridgeMetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
