"""Monitoring API: system metrics, health with components, and Prometheus /metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Literal

import psutil
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.experts import ExpertFilter, ExpertsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.monitoring import ExpertCounts, Health, InferenceMetrics, Metrics, SystemMetrics
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import GraphUnavailable

router = APIRouter(prefix=deps.API_PREFIX, tags=["monitoring"])
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
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
    system = SystemMetrics(cpu_usage=psutil.cpu_percent(interval=None),
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
