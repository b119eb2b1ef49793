"""Training jobs' ROS messages from the library's types (no logic beyond mapping).

NaN stands for "no value yet" in float fields that the library leaves None.
"""

from __future__ import annotations

from typing import Any

from embodied_interfaces.action import TrainExpert

from embodied_ai.experts.training import TrainingStatus
from embodied_ros.expert_conversions import nan_if_none

GOAL_FIELDS = ("dataset_id", "learning_rate", "batch_size", "num_epochs", "max_steps", "warmup_steps",
               "gradient_accumulation", "use_lora", "lora_rank", "d_model", "n_layers", "n_heads")


def training_job_config(goal: TrainExpert.Goal) -> dict[str, Any]:
    """A train_expert goal as a training job's config (0 in a number field means the default)."""
    return {"expert_id": goal.expert, **{name: getattr(goal, name) for name in GOAL_FIELDS}}


def training_feedback_msg(job_id: int, status: TrainingStatus) -> TrainExpert.Feedback:
    return TrainExpert.Feedback(
        job_id=job_id, status=status.status, current_step=status.current_step, total_steps=status.total_steps,
        current_epoch=float(status.current_epoch), total_epochs=float(status.total_epochs),
        loss=nan_if_none(status.current_loss), eta_seconds=nan_if_none(status.eta_seconds),
        log=status.recent_logs[-1] if status.recent_logs else "")


def fill_training_status(response: Any, status: TrainingStatus, version: int) -> Any:
    """GetTrainingStatus.Response's fields from a job's seed 000 status."""
    response.expert, response.status = status.expert, status.status
    response.current_step, response.total_steps = status.current_step, status.total_steps
    response.current_epoch, response.total_epochs = float(status.current_epoch), float(status.total_epochs)
    response.current_loss, response.best_loss = nan_if_none(status.current_loss), nan_if_none(status.best_loss)
    response.train_loss = [float(v) for v in status.train_loss]
    response.val_loss = [float(v) for v in status.val_loss]
    response.eta_seconds, response.elapsed_seconds = nan_if_none(status.eta_seconds), float(status.elapsed_seconds)
    response.checkpoint_saved = bool(status.checkpoint)
    response.recent_logs, response.error = list(status.recent_logs), status.error or ""
    response.version = version
    return response
