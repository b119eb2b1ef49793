"""How an action server ends a goal, the same in every node.

Every action of embodied_interfaces has ``success``, ``error_code`` (0 or a code of the
runtime's REST API, ``embodied_ai.errors.ErrorCode``) and ``message`` in its result. Servers
accept every goal while they can serve it and then *abort* an invalid one with a reason in the
result: a bare REJECT cannot say why.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from rclpy.action import CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle

from embodied_ai.errors import ErrorCode

Result = TypeVar("Result")


class Ending(Enum):
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    ABORTED = "aborted"


def accept_goal(_goal: Any) -> GoalResponse:
    return GoalResponse.ACCEPT


def accept_while(serving: Callable[[], bool]) -> Callable[[Any], GoalResponse]:
    """A goal callback for a lifecycle node: every goal while ``serving()`` (active), none otherwise."""
    return lambda _goal: GoalResponse.ACCEPT if serving() else GoalResponse.REJECT


def accept_cancel(_goal: Any) -> CancelResponse:
    return CancelResponse.ACCEPT


def reject_cancel(_goal: Any) -> CancelResponse:
    return CancelResponse.REJECT


def refuse(goal_handle: ServerGoalHandle, result: Result, code: ErrorCode | int, message: str) -> Result:
    """Abort the goal with ``code`` and ``message`` in its result, and return the result."""
    return finish(goal_handle, result, Ending.ABORTED, code, message)


def succeed(goal_handle: ServerGoalHandle, result: Result, message: str = "") -> Result:
    return finish(goal_handle, result, Ending.SUCCEEDED, ErrorCode.OK, message)


def finish(goal_handle: ServerGoalHandle, result: Result, ending: Ending, code: ErrorCode | int = ErrorCode.OK,
           message: str = "") -> Result:
    """Fill ``success``, ``error_code`` and ``message``, then end the goal as ``ending`` says.

    A goal may only end as canceled when its client asked for the cancel; otherwise a stopped
    goal is aborted, so the client sees the code and the reason.
    """
    result.success = ending is Ending.SUCCEEDED  # type: ignore[attr-defined]
    result.error_code = int(code)  # type: ignore[attr-defined]
    if message:
        result.message = message  # type: ignore[attr-defined]
    if ending is Ending.SUCCEEDED:
        goal_handle.succeed()
    elif ending is Ending.CANCELED and goal_handle.is_cancel_requested:
        goal_handle.canceled()
    else:
        goal_handle.abort()
    return result
