"""Conversions between the experts library's types and ROS messages (no logic beyond mapping).

NaN stands for "no value yet" in float fields that the library leaves None.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from builtin_interfaces.msg import Time
from embodied_interfaces.action import Generate, HandleCommand, TrainExpert
from embodied_interfaces.msg import Expert as ExpertMsg
from embodied_interfaces.msg import RouterStatistics as RouterStatisticsMsg

from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.jobs import TrainingGoal
from embodied_ai.experts.registry import Expert, JobRecord
from embodied_ai.experts.service import ExpertService, ServedResult
from embodied_ai.experts.training import TrainingStatus
from embodied_ai.speech.commander import Command
from embodied_ai.speech.normalize import normalize_command_text

if TYPE_CHECKING:  # the router package loads its embedder's libraries: only when routing
    from embodied_ai.experts.router import RouterStatistics


def nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def expert_msg(service: ExpertService, expert: Expert) -> ExpertMsg:
    current = expert.current
    total = service.total_params(expert)
    return ExpertMsg(
        id=expert.id, name=expert.name, domain=expert.domain, category=expert.category, status=expert.status,
        quantization=expert.quantization, kind=current.kind if current else "",
        total_params=total if total is not None else -1, current_version=expert.current_version,
        total_calls=expert.total_calls, last_used=expert.last_used or "", created_at=expert.created_at,
        updated_at=expert.updated_at, config_json=json.dumps(expert.config), metrics_json=json.dumps(expert.metrics),
        performance_json=json.dumps(expert.performance))


def router_statistics_msg(statistics: RouterStatistics, stamp: Time) -> RouterStatisticsMsg:
    msg = RouterStatisticsMsg(**statistics.to_message_fields())
    msg.header.stamp = stamp
    return msg


# -- generate and handle_command -------------------------------------------------------------
def generation_request(goal: Generate.Goal) -> GenerationRequest:
    return GenerationRequest(prompt=goal.prompt, system=goal.system, max_tokens=int(goal.max_tokens),
                             temperature=float(goal.temperature), top_p=float(goal.top_p) or 1.0,
                             stop=list(goal.stop), json_schema=goal.json_schema or None)


def generate_result(served: ServedResult) -> Generate.Result:
    """The result's generation fields (success, error_code and message are the goal's ending)."""
    generated, route = served.result, served.route
    return Generate.Result(
        text=generated.text, expert=route.expert, route_confidence=float(route.confidence),
        routed_to_fallback=route.fallback, finish_reason=generated.finish_reason,
        prompt_tokens=generated.prompt_tokens, completion_tokens=generated.completion_tokens,
        time_to_first_token_ms=float(generated.time_to_first_token_ms),
        tokens_per_second=float(generated.tokens_per_second))


def command_from_goal(goal: HandleCommand.Goal) -> Command:
    return Command(heard=goal.text, text=goal.text,
                   normalized_text=goal.normalized_text or normalize_command_text(goal.text),
                   source=goal.source or "text")


# -- training ---------------------------------------------------------------------------------
def training_goal(goal: TrainExpert.Goal) -> TrainingGoal:
    return TrainingGoal(**{field.name: getattr(goal, field.name) for field in fields(TrainingGoal)})


def training_feedback_msg(job_id: int, status: TrainingStatus) -> TrainExpert.Feedback:
    return TrainExpert.Feedback(
        job_id=job_id, status=status.status, current_step=status.current_step, total_steps=status.total_steps,
        current_epoch=float(status.current_epoch), total_epochs=float(status.total_epochs),
        loss=nan_if_none(status.current_loss), eta_seconds=nan_if_none(status.eta_seconds),
        log=status.recent_logs[-1] if status.recent_logs else "")


def fill_training_status(response: Any, record: JobRecord, status: TrainingStatus) -> Any:
    """GetTrainingStatus.Response's job fields (``active`` and ``goal_id`` are the node's)."""
    response.expert, response.status = status.expert, status.status
    response.current_step, response.total_steps = status.current_step, status.total_steps
    response.current_epoch, response.total_epochs = float(status.current_epoch), float(status.total_epochs)
    response.current_loss, response.best_loss = nan_if_none(status.current_loss), nan_if_none(status.best_loss)
    response.train_loss = [float(v) for v in status.train_loss]
    response.val_loss = [float(v) for v in status.val_loss]
    response.eta_seconds, response.elapsed_seconds = nan_if_none(status.eta_seconds), float(status.elapsed_seconds)
    response.checkpoint_saved = bool(status.checkpoint)
    response.recent_logs, response.error = list(status.recent_logs), status.error or ""
    response.version = record.version
    return response
