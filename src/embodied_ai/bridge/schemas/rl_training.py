"""Seed 001's Training API (reinforcement-learning tasks) inside the Robot API's envelope.

Its ``task_id`` is the job system's integer id written as a string, as seed 001 types it; its
tasks are ``rl_training`` jobs of the jobs node (``embodied_ai.skills``), and its reconcile an
``rl_reconcile`` job the route waits for.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.ports.jobs import JobView
from embodied_ai.bridge.schemas.common import Strict

TaskState = Literal["created", "running", "completed", "failed", "cancelled"]
# The job system's statuses in seed 001's words.
TASK_STATUS: dict[str, TaskState] = {"pending": "created", "queued": "created", "running": "running",
                                     "completed": "completed", "failed": "failed", "cancelled": "cancelled"}


class TaskCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    model_type: str = Field(min_length=1, max_length=32, description="q_learning | dqn | ppo")
    parameters: dict[str, Any] = Field(default_factory=dict, description="learning_rate, discount_factor, batch_size, "
                                                                         "epochs, ... (ranges: docs/skills.md)")
    total_episodes: int = Field(description="episodes to train (checked by the job: 1 to 100 000)")
    wandb_project: str | None = Field(default=None, max_length=200)
    wandb_run_name: str | None = Field(default=None, max_length=200)
    env: str | None = Field(default=None, max_length=64, description="the Gymnasium id; default by model_type")
    env_config: dict[str, Any] | None = Field(default=None, description="the environment's config overrides")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)

    def config(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class TaskCreated(BaseModel):
    task_id: str
    status: str
    created_at: str


class TaskMetrics(BaseModel):
    episode_rewards: list[float] = []
    episode_steps: list[int] = []
    episode_latencies: list[float] = Field(default=[], description="seconds per episode")


class TaskStatus(BaseModel):
    task_id: str
    name: str | None = None
    model_type: str | None = None
    status: TaskState
    progress: float = Field(description="0-1")
    current_episode: int
    total_episodes: int
    metrics: TaskMetrics
    model_id: str | None = Field(default=None, description="the trained policy in the model registry")
    error: str | None = None
    created_at: str
    updated_at: str


class TaskCancelled(BaseModel):
    task_id: str
    status: str
    updated_at: str


class ReconcileMetrics(BaseModel):
    avg_reward: float | None = None
    avg_latency: float | None = Field(default=None, description="ms per policy step")
    avg_throughput: float | None = Field(default=None, description="policy steps per second")
    success_rate: float | None = None
    latency_std: float | None = None
    reward_std: float | None = None
    adaptation_score: float | None = Field(default=None, description="perturbed over nominal success "
                                                                     "(docs/skills.md)")


class Reconciled(BaseModel):
    task_id: str
    model_type: str | None
    wandb_run_id: str | None = None
    metrics: ReconcileMetrics
    sample_size: int
    group_id: str | None = None
    timestamp: str
    model_id: str | None = None
    model_weights_path: str | None = Field(default=None, description="the ONNX policy's download URL")
    details: dict[str, Any] = Field(default_factory=dict, description="nominal and perturbed figures apart")


def task_status(job: JobView) -> TaskStatus:
    """A job as seed 001's task: its result once it ended, else its kind's progress view."""
    config = job.get("config") or {}
    seen = {**(job.get("progress_detail") or {}), **(job.get("result") or {})}
    total = int(seen.get("total_episodes") or config.get("total_episodes") or 0)
    metrics = seen.get("metrics") or {}
    current = int(seen.get("current_episode") or len(metrics.get("episode_rewards") or []))
    error = job.get("error") or {}
    return TaskStatus(
        task_id=str(job["id"]), name=config.get("name"), model_type=config.get("model_type"),
        status=TASK_STATUS[job["status"]], progress=float(job.get("progress") or 0.0), current_episode=current,
        total_episodes=total, metrics=TaskMetrics(**{k: metrics.get(k) or [] for k in TaskMetrics.model_fields}),
        model_id=seen.get("model_id"), error=error.get("message"), created_at=job["created_at"],
        updated_at=job.get("updated_at") or job["created_at"])
