"""A training run as the body of a job (seed 000's training jobs, a pipeline's TrainingAgent).

``run_training(ctx, job)`` runs a ``TrainingJob`` for a job of the job system: every logged step
becomes a METRIC line (step, epoch, loss; a validation loss in ``values``) and the job's progress,
the job's cancel flag stops the run after the current step with a checkpoint saved, and a run
whose folder an earlier attempt left (the job's process was killed) continues from the newest
checkpoint, on the same copied rows. ``ctx`` is anything with the job context's ``cancelled``,
``log`` and ``progress`` (a ``JobContext``, a pipeline's ``AgentContext``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from embodied_ai.experts.training import TrainingJob, TrainingRequest, TrainingStatus
from embodied_ai.jobs.models import LogLevel
from embodied_ai.jobs.runner import JobCancelled

REQUEST_FILE = "request.json"


class RunContext(Protocol):
    @property
    def cancelled(self) -> bool: ...

    def log(self, level: str | LogLevel, message: str, *, step: int | None = None, epoch: float | None = None,
            loss: float | None = None, values: dict[str, Any] | None = None) -> Any: ...

    def progress(self, fraction: float, message: str = "") -> None: ...


def open_training_job(folder: Path, request: Callable[[], TrainingRequest]) -> TrainingJob:
    """The run in ``folder``: the one an earlier attempt created there (to resume), else a new one
    from ``request()`` (called only then: it may copy a dataset). ``folder``'s name is the run's id."""
    if (folder / REQUEST_FILE).is_file():
        return TrainingJob.load(folder)
    made = request()
    if made.job_id != folder.name:
        raise ValueError(f"the request's job_id {made.job_id!r} must be the folder's name {folder.name!r}")
    return TrainingJob(made, folder.parent)


def run_training(ctx: RunContext, job: TrainingJob) -> TrainingStatus:
    """Run ``job`` to its end for the job behind ``ctx`` (from its newest checkpoint, if it has one).

    Returns the completed status; raises ``JobCancelled`` when the run stopped because ``ctx`` was
    cancelled (its checkpoint is saved: a later attempt resumes it), EmbodiedError
    (TRAINING_FAILED) when training failed.
    """
    reported = [len(job.status.train_loss), len(job.status.val_loss)]

    def on_progress(status: TrainingStatus) -> None:
        for loss in status.train_loss[reported[0]:]:
            ctx.log(LogLevel.METRIC, f"step {status.current_step}/{status.total_steps}: loss {loss:.4f}",
                    step=status.current_step, epoch=status.current_epoch, loss=loss)
        for loss in status.val_loss[reported[1]:]:
            ctx.log(LogLevel.METRIC, f"step {status.current_step}: validation loss {loss:.4f}",
                    step=status.current_step, epoch=status.current_epoch, values={"val_loss": loss})
        reported[:] = [len(status.train_loss), len(status.val_loss)]
        if status.total_steps:
            ctx.progress(status.current_step / status.total_steps)

    job.on_progress, job.stop_when = on_progress, lambda: ctx.cancelled
    try:
        status = job.run(resume=True)   # from the newest checkpoint when there is one, else from the start
    finally:
        job.on_progress, job.stop_when = (lambda _status: None), (lambda: False)
    if status.status != "completed":
        raise JobCancelled(f"training stopped at step {status.current_step} of {status.total_steps}; "
                           "checkpoint saved")
    return status
