"""Training jobs as a caller follows them (the experts node's train_expert action).

A caller sends a ``TrainingGoal`` (0 means "the default", as in the TrainExpert goal), watches
the job's progress (only the newest per poll: a model trained from scratch logs hundreds of
steps a second), may cancel it (the Robot API's stop: a running job saves a checkpoint and ends
"stopped"), and gets a ``TrainingOutcome``: what the finished, stopped or failed job means
for the caller. The expert's own status is the service's (training while the job runs, ready
once a version is registered, else what it was before).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from embodied_ai.errors import ErrorCode
from embodied_ai.experts.service import ExpertService, StartedJob, model_shape
from embodied_ai.experts.training import TrainingConfig, TrainingStatus

FEEDBACK_POLL_S = 0.5  # how often a followed job reports progress and looks for a cancel

# How a job's goal ends; the values are those of embodied_ros.kit.goals.Ending.
JobEnding = Literal["succeeded", "canceled", "aborted"]


@dataclass(frozen=True)
class TrainingGoal:
    """A training request as callers send it; every number 0 means the default."""

    expert: str                     # id or name
    dataset_id: int = 0             # a registered dataset; 0 = the expert's latest
    learning_rate: float = 0.0
    batch_size: int = 0
    num_epochs: float = 0.0         # 0 = 1 epoch
    max_steps: int = 0              # 0 = num_epochs decides
    warmup_steps: int = 0
    gradient_accumulation: int = 0  # 0 = 1
    use_lora: bool = True           # False: the expert's own model, trained from scratch
    lora_rank: int = 0
    d_model: int = 0                # use_lora False: the new shape; 0 = the expert's own
    n_layers: int = 0
    n_heads: int = 0

    def config(self) -> TrainingConfig:
        """The job's TrainingConfig; EmbodiedError (EXPERT_CREATION_FAILED) for a shape that cannot be built."""
        defaults = TrainingConfig()
        config = replace(
            defaults, learning_rate=float(self.learning_rate) or defaults.learning_rate,
            batch_size=int(self.batch_size) or defaults.batch_size, num_epochs=float(self.num_epochs) or 1.0,
            max_steps=int(self.max_steps) or -1, warmup_steps=int(self.warmup_steps),
            gradient_accumulation=int(self.gradient_accumulation) or 1, use_lora=bool(self.use_lora),
            lora_rank=int(self.lora_rank) or defaults.lora_rank,
            log_steps=1)  # progress at every step: what the caller's feedback and the status show
        if not self.use_lora and self.d_model:
            config = replace(config, scratch_shape=model_shape(int(self.d_model), int(self.n_layers),
                                                               int(self.n_heads)))
        return config


@dataclass(frozen=True)
class TrainingOutcome:
    """What a job that ended means for its caller."""

    ending: JobEnding
    error_code: ErrorCode
    message: str
    status: str                     # completed | stopped | failed
    version: int                    # the version it registered; 0 if none
    checkpoint_saved: bool


def training_outcome(status: TrainingStatus, version: int | None, cancel_requested: bool) -> TrainingOutcome:
    """Completed: succeeded, with the new version. Stopped because the caller asked: canceled
    (not an error; the checkpoint can resume). Anything else (failed, or stopped by something
    else, such as a restart): aborted with TRAINING_FAILED and the reason."""
    checkpoint, version = bool(status.checkpoint), version or 0
    if status.status == "completed":
        return TrainingOutcome("succeeded", ErrorCode.OK, f"version {version} of '{status.expert}' registered",
                               status.status, version, checkpoint)
    if status.status == "stopped" and cancel_requested:
        return TrainingOutcome("canceled", ErrorCode.OK, status.recent_logs[-1] if status.recent_logs else "stopped",
                               status.status, version, checkpoint)
    return TrainingOutcome("aborted", ErrorCode.TRAINING_FAILED, status.error or f"the job ended {status.status}",
                           status.status, version, checkpoint)


class FollowedJob:
    """A training job started for a caller who follows it until it ends."""

    def __init__(self, service: ExpertService, goal: TrainingGoal) -> None:
        """Start the job (EmbodiedError when the service refuses it: busy expert, no dataset, ...)."""
        self._service = service
        self._updates: queue.SimpleQueue[TrainingStatus] = queue.SimpleQueue()
        self._finished = threading.Event()
        self.started: StartedJob = service.train(goal.expert, goal.dataset_id or None, goal.config(),
                                                 on_progress=self._updates.put,
                                                 on_done=lambda _status: self._finished.set())

    @property
    def id(self) -> int:
        """The Robot API's integer job id."""
        return self.started.id

    def follow(self, on_progress: Callable[[TrainingStatus], None], cancel_requested: Callable[[], bool],
               poll_s: float = FEEDBACK_POLL_S) -> TrainingOutcome:
        """Report progress (the current status first, then the newest per poll) until the job
        ends; stop it once ``cancel_requested`` says so."""
        job, stopping = self.started.job, False
        on_progress(job.status)
        while not self._finished.wait(poll_s):
            self._report_newest(on_progress)
            # Stop only a running job: a queued one has not armed its stop flag yet.
            if cancel_requested() and not stopping and job.status.status == "running":
                self._service.stop_training(job.request.job_id, wait_s=0.0)
                stopping = True
        self._report_newest(on_progress)  # the last step's progress, before the outcome
        return training_outcome(job.status, self._service.registry.job(self.id).version, cancel_requested())

    def _report_newest(self, on_progress: Callable[[TrainingStatus], None]) -> None:
        newest = None
        while not self._updates.empty():
            newest = self._updates.get()
        if newest is not None:
            on_progress(newest)
