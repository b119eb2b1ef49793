"""Seed 003's clients (the cluster's workers) and a task's metrics inside the Robot API's envelope, with
the jobs node's fields (embodied_ai.distributed.service.ClusterService): a worker's ``status`` is
online, busy or offline; its resources are in cores, MB and percent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ClientData(BaseModel):
    model_config = ConfigDict(extra="allow")   # whatever else the cluster reports of a worker

    id: str
    client_id: str
    address: str | None = None
    status: str = Field(description="online | busy | offline")
    is_head: bool = False
    joined_as_worker: bool = False
    version: str | None = None
    hostname: str | None = None
    resources: dict[str, Any] = Field(description="cpu_cores, cpu_usage, ram_mb, ram_usage, gpus, gpu_memory_mb, "
                                                  "gpu_usage, ...")
    last_seen: str | None = None
    tasks: list[int] = Field(default=[], description="the ids of the tasks running on it")
    performance: dict[str, Any] = Field(default={}, description="completed_tasks, failed_tasks, average_time_s, "
                                                                "success_rate")


class ClientList(BaseModel):
    backend: str = Field(description="local (this machine alone) | ray")
    clients: list[ClientData]
    total: int
    page: int
    limit: int
    pages: int


class ClusterTaskMetrics(BaseModel):
    model_config = ConfigDict(extra="allow")

    task_id: int
    status: str = Field(description="the job's status")
    progress: float = Field(description="0-100")
    metrics: dict[str, Any] = Field(description="the latest metric line: step, epoch, loss and its values")
    history: list[dict[str, Any]] = Field(description="every loss: step, epoch, loss, timestamp")
    workers: list[dict[str, Any]] = Field(description="its workers: client_id, rank, world_size, started_at, "
                                                      "ended_at, outcome")
