"""Monitoring API: system metrics (now, and seed 001's over time), health with components, and Prometheus
/metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Literal

import psutil
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.experts import ExpertFilter, ExpertsPort
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.models import SeriesData
from embodied_ai.bridge.schemas.monitoring import (
    ExpertCounts,
    Health,
    InferenceMetrics,
    Metrics,
    MetricsHistory,
    SystemMetrics,
    SystemUsage,
    TrainingTotals,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.system_samples import Series
from embodied_ai.bridge.training_figures import training_figures
from embodied_ai.errors import GraphUnavailable

router = APIRouter(prefix=deps.API_PREFIX, tags=["monitoring"])
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
Status = Annotated[GraphStatus, Depends(deps.status)]
BridgeMetricsDep = Annotated[BridgeMetrics, Depends(deps.metrics)]
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
    jobs: Jobs, metrics: BridgeMetricsDep,
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
        training=training))


@router.get("/health", summary="Health with components (not enveloped, as in the Robot API)",
            responses={503: {"model": Health, "description": "the servo controller is not reachable"}})
async def health(request: Request, graph: Status) -> JSONResponse:
    components = {**graph.components(), "api_keys": "ok" if os.access(request.app.state.security.keys.path, os.R_OK)
                  else "unreadable", "gpu": gpu_component()}
    status: Literal["healthy", "degraded", "unhealthy"]
    if components.get(ESSENTIAL) != "ok":
        status = "unhealthy"
    elif any(v != "ok" for k, v in components.items() if k != "gpu"):
        status = "degraded"
    else:
        status = "healthy"
    body = Health(status=status, components=components,
                  uptime_seconds=time.monotonic() - request.app.state.started_at)
    return JSONResponse(body.model_dump(), status_code=503 if status == "unhealthy" else 200)


@router.get("/health/live", summary="Liveness: the HTTP server answers (touches nothing else)")
async def live() -> dict[str, str]:
    return {"status": "alive"}


prometheus = APIRouter(tags=["monitoring"])


@prometheus.get("/metrics", summary="Prometheus exposition", response_class=Response,
                dependencies=[Depends(authorize)], responses={200: {"content": {"text/plain": {}}},
                                                              **error_responses(401, 429)})
async def prometheus_metrics(metrics: BridgeMetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
