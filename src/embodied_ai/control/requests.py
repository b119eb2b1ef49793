"""A move or grasp request followed to its end, without ROS: what the servo controller node's
move_joints and grasp actions do between accepting a goal and ending it.

``follow`` waits for a command, calling back with feedback every ``FEEDBACK_PERIOD_S`` and
forwarding the client's cancel once (the controller then decelerates; the handle ends
CANCELED when the joints are at rest).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from embodied_ai.control.commands import CommandHandle, CommandState
from embodied_ai.control.controller import ServoController
from embodied_ai.errors import SafetyViolation
from embodied_ai.robot.description import GRIPPER_JOINTS

FEEDBACK_PERIOD_S = 0.05   # 20 Hz of feedback: smooth progress for a client, little traffic


def joint_targets(names: Sequence[str], positions: Sequence[float]) -> dict[str, float]:
    """A move request's targets by joint; SafetyViolation when the two lists do not pair up."""
    if len(names) != len(positions):
        raise SafetyViolation("joint_names and positions differ in length")
    if len(set(names)) != len(names):
        raise SafetyViolation("a joint is named twice")
    return dict(zip(names, positions))


def follow(controller: ServoController, handle: CommandHandle, cancel_requested: Callable[[], bool],
           feedback: Callable[[], None], period_s: float = FEEDBACK_PERIOD_S) -> CommandHandle:
    """Wait until ``handle`` ends, calling ``feedback`` every ``period_s`` meanwhile."""
    while not handle.wait(period_s):
        if cancel_requested() and handle.state is CommandState.RUNNING:
            controller.cancel(handle)
        feedback()
    return handle


def measured(controller: ServoController, joints: Sequence[str]) -> list[float]:
    """The joints' measured positions (NaN for a joint the controller does not know)."""
    positions = controller.positions
    return [positions.get(joint, math.nan) for joint in joints]


@dataclass(frozen=True)
class GraspOutcome:
    grasped: bool
    force_applied: float   # N
    time_ms: int

    @classmethod
    def of(cls, handle: CommandHandle) -> "GraspOutcome":
        result = handle.result
        return cls(bool(result.get("grasped", 0.0)), float(result.get("force_applied", 0.0)),
                   int(result.get("time_ms", 0.0)))


def grasp_feedback(controller: ServoController, handle: CommandHandle, side: str,
                   closing: bool = True) -> tuple[float, float]:
    """(force in N, gripper position in rad) for a grasp's feedback. The force is 0 while the
    command is not the closing itself (the arm's moves of a grasp by object id)."""
    force = float(handle.result.get("force_applied", 0.0)) if closing else 0.0
    return force, controller.positions.get(GRIPPER_JOINTS.get(side, f"gripper_{side}"), math.nan)
