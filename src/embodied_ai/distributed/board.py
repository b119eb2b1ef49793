"""A distributed job's task board: the Ray actor its workers report to and its driver reads.

Workers call ``joined`` when a worker group starts (each rank, on its node, from a step) and
``step`` after every step; rank 0 gets back whether to stop. The driver reads what happened with
``read(after)`` and asks for a stop with ``request_stop``. Events are seed 003's messages:
``task`` (a worker's assignment: rank and world size) and ``task_progress``.
"""

from __future__ import annotations

import time
from typing import Any


class TaskBoard:
    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.events: list[dict[str, Any]] = []
        self.stop = False
        self.group = 0                    # worker groups so far (a restart after a failure starts a new one)
        self._ranks: set[int] = set()     # the ranks of the current group that have joined
        self._world = 0

    def joined(self, rank: int, world_size: int, node: str, from_step: int) -> None:
        """A rank of a worker group started. Ranks join in any order; a rank joining again, or another
        world size, means a new group."""
        if rank in self._ranks or world_size != self._world:
            self.group += 1
            self._ranks, self._world = set(), world_size
        self._ranks.add(rank)
        self.events.append({"type": "task", "task_id": self.job_id, "client_id": node, "rank": rank,
                            "world_size": world_size, "from_step": from_step, "group": self.group,
                            "time": time.time()})

    def step(self, rank: int, world_size: int, node: str, step: int, total_steps: int, epoch: float, loss: float,
             learning_rate: float, samples_per_second: float) -> bool:
        self.events.append({
            "type": "task_progress", "task_id": self.job_id, "client_id": node, "rank": rank,
            "world_size": world_size, "progress": round(100.0 * step / max(1, total_steps), 2), "step": step,
            "total_steps": total_steps, "epoch": epoch, "time": time.time(),
            "metrics": {"loss": loss, "learning_rate": learning_rate,
                        "samples_per_second": round(samples_per_second, 2)}})
        return self.stop

    def request_stop(self) -> None:
        self.stop = True

    def read(self, after: int) -> list[dict[str, Any]]:
        return self.events[after:]
