"""Monitoring API (the Robot API): system metrics and health. Values the bridge cannot measure
(no GPU, no expert registry in the graph) are null, not guessed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.models import SeriesData


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


class SystemUsage(BaseModel):
    cpu_usage: SeriesData = Field(description="fraction of all CPU cores busy, 0..1, mean per interval")
    memory_usage: SeriesData = Field(description="fraction of memory in use, 0..1, mean per interval")


class TrainingTotals(BaseModel):
    active_tasks: int = Field(description="training, pipeline and rl_training jobs queued or running")
    completed_tasks: int = Field(description="training, pipeline and rl_training jobs completed")
    average_training_time: str | None = Field(description="the completed ones' mean duration, e.g. 2h5m, 40s")
    average_training_time_s: float | None


class ClusterTotals(BaseModel):
    """The cluster distributed training runs on (seed 003's clients): GET /v1/clients lists them."""

    backend: str = Field(description="local (this machine alone) | ray")
    workers: int
    online: int = Field(description="online and idle")
    busy: int = Field(description="running a task")


class MetricsHistory(BaseModel):
    """Seed 001's system metrics (without its kubernetes block: the runtime does not run on Kubernetes)."""

    interval: str = Field(description="1m | 5m | 1h")
    start_time: str = Field(description="the first interval's start")
    end_time: str = Field(description="the last interval's end")
    system: SystemUsage = Field(description="sampled by the bridge every 10 s (kept 24 h); an interval without a "
                                            "sample is left out")
    training: TrainingTotals | None = Field(description="null while the jobs node is away")
    cluster: ClusterTotals | None = Field(default=None, description="null while the jobs node (or its cluster) "
                                                                    "is away")
