"""One generation by the experts node's ``generate`` action, called from a job's worker thread (the
jobs node's batch inference: embodied_ai.experts.batch_jobs.Generate)."""

from __future__ import annotations

from embodied_interfaces.action import Generate
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from embodied_ai.errors import ErrorCode
from embodied_ai.experts.batch_jobs import Completion
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.goal_client import Endpoint, check, run_goal

GENERATE = Endpoint("generate", ErrorCode.EXPERT_NOT_READY, "the experts node is not running", server="experts")
GENERATE_TIMEOUT_S = 120.0   # one completion of up to a few hundred tokens on a loaded CPU


class ExpertsGeneration:
    def __init__(self, node: Node, timeout_s: float = GENERATE_TIMEOUT_S) -> None:
        self._client = ThreadSafeActionClient(node, Generate, "generate", callback_group=ReentrantCallbackGroup())
        self._timeout_s = timeout_s

    def __call__(self, prompt: str, expert: str, system: str, max_tokens: int, temperature: float) -> Completion:
        goal = Generate.Goal(prompt=prompt, expert=expert, system=system, max_tokens=max_tokens,
                             temperature=temperature)
        result = check(run_goal(self._client, goal, GENERATE, self._timeout_s), GENERATE)
        return Completion(result.text, result.expert, result.finish_reason, int(result.completion_tokens))
