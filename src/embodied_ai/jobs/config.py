"""The jobs node's parameters (launch/robot.yaml's ``jobs`` section), one field each."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.paths import state_dir as default_state_dir

DATABASE = "operations.sqlite"   # jobs, their logs, webhooks and the model registry, in the state directory


class JobsNodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: str = Field(default="", description=(
        "folder of the operations database (jobs, logs, webhooks, models) and the jobs' work; "
        "'' = $EMBODIED_STATE_DIR or ~/.local/state/embodied"))
    workers: int = Field(default=1, ge=1, le=8, description=(
        "jobs run at once (each holds a thread; training uses both cores of this machine on its own)"))
    poll_s: float = Field(default=1.0, gt=0, le=60, description=(
        "how often an idle worker looks for a scheduled job that has come due, s"))
    feedback_period_s: float = Field(default=0.5, gt=0, le=10, description=(
        "how often run_job reports a followed job's progress, s"))
    base_precision: Literal["int8", "int4", "fp32"] = Field(default="int8", description=(
        "precision of the shared base that training jobs adapt (the experts node's base_precision)"))
    backend: Literal["local", "ray"] = Field(default="local", description=(
        "where jobs run: local (this process) or ray (distributed training jobs on a Ray cluster; "
        "needs requirements/distributed.txt)"))
    ray_address: str = Field(default="", max_length=300, description=(
        "backend ray: the cluster to join (auto, host:port or ray://host:port); '' = start a one-node "
        "cluster on loopback, stopped with the node"))
    webhook_allowed_hosts: list[str] = Field(default=[""], description=(
        "hosts webhooks may be sent to: names, IP addresses or networks (CIDR); [''] = loopback only"))

    def allowed_hosts(self) -> list[str] | None:
        """The allow-list given, or None for the default (loopback only)."""
        return [h for h in self.webhook_allowed_hosts if h] or None

    def resolved_state_dir(self) -> Path:
        return Path(self.state_dir).expanduser() if self.state_dir else default_state_dir()

    def database(self) -> Path:
        return self.resolved_state_dir() / DATABASE

    def datasets_dir(self) -> Path:
        """Where a pipeline's DatasetAgent may read (the experts' and the bridge's datasets folder)."""
        return self.resolved_state_dir() / "datasets"

    def work_root(self) -> Path:
        """Where each job writes its files (``job-<id>/``)."""
        return self.resolved_state_dir() / "job_work"
