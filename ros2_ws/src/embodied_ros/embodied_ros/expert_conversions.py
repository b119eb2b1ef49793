"""Conversions between the experts library's types and ROS messages (no logic beyond mapping).

NaN stands for "no value yet" in float fields that the library leaves None.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from builtin_interfaces.msg import Time
from embodied_interfaces.action import Generate, HandleCommand
from embodied_interfaces.msg import Expert as ExpertMsg
from embodied_interfaces.msg import RouterStatistics as RouterStatisticsMsg

from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.registry import Expert
from embodied_ai.experts.service import ExpertService, ServedResult
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


