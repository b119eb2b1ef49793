"""Seed 002's detailed health (``GET /v1/health/comprehensive``): the machine, the jobs node's database, the
model files the product ships, and ``GET /v1/health``'s components."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NetworkIO(BaseModel):
    """The machine's counters since boot (psutil), all interfaces."""

    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int


class SystemResources(BaseModel):
    cpu_usage: float = Field(description="% of all cores")
    memory_usage: float = Field(description="% of memory in use")
    disk_usage: float = Field(description="% of the state directory's filesystem in use")
    disk_path: str = Field(description="where disk_usage was measured: the state directory (or its nearest "
                                       "existing parent)")
    network_io: NetworkIO


class DatabaseCheck(BaseModel):
    """The jobs node's database, through the cheapest call that reads it (a one-job page of GET /v1/jobs)."""

    status: Literal["connected", "unavailable"]
    latency_ms: float | None = Field(description="the call's round trip; null when it failed")
    detail: str = Field(default="", description="why it is unavailable")


class ModelFileCheck(BaseModel):
    model: str = Field(description="the manifest's name, or experts_base")
    part: str = Field(description="fp32 | int8 | gate | embedding | tokenizer | weights | adapter | onnx")
    path: str
    status: Literal["ok", "missing"]
    size_bytes: int | None = Field(description="a folder's: every file in it")
    detail: str = Field(default="", description="why it is missing")


class ComprehensiveHealth(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="GET /v1/health's status, degraded at least while the database or a model file is missing")
    version: str
    uptime_seconds: float
    system_metrics: SystemResources
    database: DatabaseCheck
    components: dict[str, str] = Field(description="GET /v1/health's components")
    model_files: list[ModelFileCheck]
