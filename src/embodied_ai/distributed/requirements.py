"""What a worker must have to take part in a task (seed 003's ``requirements``), and whether the
cluster can place a task's workers now, and if not, why."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.distributed.cluster import GPU_MEMORY_RESOURCE, RayNode

MB = 1024 * 1024


class Requirements(BaseModel):
    """Per worker, in seed 003's units (MB, cores)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_gpu_memory: int = Field(default=0, ge=0, le=10_000_000, description="MB of GPU memory")
    min_cpu_cores: float = Field(default=1, gt=0, le=1024, allow_inf_nan=False, description="CPU cores")
    min_ram: int = Field(default=0, ge=0, le=100_000_000, description="MB of RAM")

    def ray_resources(self) -> dict[str, float]:
        """Ray Train's ``resources_per_worker``: Ray then places each worker only where they fit."""
        resources: dict[str, float] = {"CPU": float(self.min_cpu_cores)}
        if self.min_ram:
            resources["memory"] = float(self.min_ram * MB)
        if self.min_gpu_memory:
            resources[GPU_MEMORY_RESOURCE] = float(self.min_gpu_memory)
        return resources

    def describe(self) -> str:
        parts = [f"{self.min_cpu_cores:g} CPU cores"]
        if self.min_ram:
            parts.append(f"{self.min_ram} MB RAM")
        if self.min_gpu_memory:
            parts.append(f"{self.min_gpu_memory} MB GPU memory")
        return ", ".join(parts)

    def slots(self, node: RayNode, free: bool) -> int:
        """How many workers ``node`` can hold: with its whole resources, or with what is free now."""
        cpu, ram = (node.available_cpu, node.available_ram_mb) if free else (node.cpu_cores, node.ram_mb)
        gpu_memory = node.gpu_memory_mb   # Ray's free view of a custom resource is not read here
        counts = [math.floor(cpu / self.min_cpu_cores + 1e-9)]
        if self.min_ram:
            counts.append(math.floor(ram / self.min_ram))
        if self.min_gpu_memory:
            counts.append(math.floor(gpu_memory / self.min_gpu_memory))
        return max(0, min(counts))


def placement_problem(nodes: Sequence[RayNode], requirements: Requirements, workers: int) -> str | None:
    """Why ``workers`` workers with ``requirements`` cannot start now (None: they can). A cluster
    that could never hold them says what its largest node has; a busy one says what is taken."""
    alive = [node for node in nodes if node.alive]
    if sum(requirements.slots(node, free=False) for node in alive) < workers:
        fitting = sum(1 for node in alive if requirements.slots(node, free=False) > 0)
        largest = max(alive, key=lambda node: (node.cpu_cores, node.ram_mb), default=None)
        has = (f"the largest has {largest.cpu_cores:g} CPU cores, {largest.ram_mb:.0f} MB RAM, "
               f"{largest.gpu_memory_mb:.0f} MB GPU memory" if largest else "it has no alive node")
        return (f"waiting for {workers} workers with {requirements.describe()} each: {fitting} of the cluster's "
                f"{len(alive)} alive nodes can hold one ({has}); join a worker that has them")
    if sum(requirements.slots(node, free=True) for node in alive) < workers:
        return (f"waiting for {workers} workers with {requirements.describe()} each: the nodes that have them "
                "are busy with other tasks")
    return None
