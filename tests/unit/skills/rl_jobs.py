"""A real job system for the skills' job kinds: a JobStore and a ModelRegistry in one SQLite file,
a JobRunner with ``rl_training`` and ``rl_reconcile``, and tiny environment configs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from embodied_ai.jobs import Job, JobRunner, JobStore
from embodied_ai.model_registry import ModelRegistry
from embodied_ai.skills.jobs import kinds

# Short episodes: 15 head tracking steps at 5 Hz (a pan step still settles within a period), 10 reach steps.
HEAD = {"max_episode_steps": 15, "control_rate_hz": 5.0}
REACH = {"max_episode_steps": 10}
DQN = {"learning_starts": 10, "buffer_size": 500, "batch_size": 8, "train_freq": 2, "hidden_units": [16]}
PPO = {"n_steps": 32, "batch_size": 16, "epochs": 2, "hidden_units": [16, 16]}
TIMEOUT_S = 120.0


class JobHarness:
    """Start with ``start()``; ``close()`` stops the runner and closes the databases."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = JobStore(root / "operations.sqlite")
        self.registry = ModelRegistry(root / "operations.sqlite")
        self.work_root = root / "job_work"
        self.runner = self.new_runner()

    def new_runner(self) -> JobRunner:
        return JobRunner(self.store, kinds(self.work_root, self.registry), poll_s=0.05)

    def submit(self, type: str, config: dict[str, Any]) -> Job:
        return self.runner.submit(type, config)

    def wait(self, job: Job, until: Any = None) -> Job:
        """The job once it has ended (or once ``until(job)`` holds)."""
        deadline = time.monotonic() + TIMEOUT_S
        while not ((until or (lambda j: j.status.terminal))(job := self.store.get(job.id))):
            assert time.monotonic() < deadline, f"job {job.id} is still {job.status.value}"
            time.sleep(0.02)
        return job

    def run(self, type: str, config: dict[str, Any]) -> Job:
        return self.wait(self.submit(type, config))

    def close(self) -> None:
        self.runner.stop()
        self.registry.close()
        self.store.close()
