"""Monitoring API (the Robot API): system metrics and health. Values the bridge cannot measure
(no GPU, no expert registry in the graph) are null, not guessed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class SystemMetrics(BaseModel):
    cpu_usage: float
    ram_usage_gb: float
    ram_total_gb: float
    gpu_usage: float | None
    gpu_memory_gb: float | None


class ExpertCounts(BaseModel):
    total: int | None
    active: int | None
    training: int | None


class InferenceMetrics(BaseModel):
    requests_per_minute: float
    avg_latency_ms: float | None
    cache_hit_rate: float | None


class Metrics(BaseModel):
    system: SystemMetrics
    experts: ExpertCounts
    inference: InferenceMetrics


class Health(BaseModel):
    """Not enveloped, as in the Robot API."""

    status: Literal["healthy", "degraded", "unhealthy"]
    components: dict[str, str]
    uptime_seconds: float
