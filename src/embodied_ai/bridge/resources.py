"""The machine's resource use now: CPU (the bridge's own sampler, ``system_samples``), memory, and the disk that
holds the state directory. Read by ``/v1/health/comprehensive`` and ``/v1/ops/status``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

from embodied_ai.bridge.system_samples import SystemSampler


@dataclass(frozen=True)
class ResourceUse:
    cpu_percent: float       # of all cores, since the sampler's previous sample
    memory_percent: float    # not available to new processes
    disk_percent: float      # of the filesystem that holds disk_path
    disk_path: str


def existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest parent that exists (the state directory may not be created yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def resource_use(sampler: SystemSampler, state_dir: Path) -> ResourceUse:
    disk = existing_ancestor(state_dir)
    return ResourceUse(cpu_percent=sampler.current().cpu * 100.0, memory_percent=psutil.virtual_memory().percent,
                       disk_percent=psutil.disk_usage(str(disk)).percent, disk_path=str(disk))
