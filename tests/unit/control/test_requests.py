"""A move or grasp request followed to its end: its targets, feedback, a cancel, the grasp's outcome."""

import math

import pytest

from embodied_ai.control import CommandHandle, CommandState
from embodied_ai.control.requests import GraspOutcome, follow, grasp_feedback, joint_targets, measured
from embodied_ai.errors import ErrorCode, SafetyViolation


def test_targets_pair_names_with_positions():
    assert joint_targets(["head_pan", "head_tilt"], [0.1, 0.2]) == {"head_pan": 0.1, "head_tilt": 0.2}


@pytest.mark.parametrize("names, positions, reason", [
    (["head_pan"], [0.1, 0.2], "differ in length"),
    (["head_pan", "head_pan"], [0.1, 0.2], "named twice"),
])
def test_targets_that_do_not_pair_up_are_a_safety_violation(names, positions, reason):
    with pytest.raises(SafetyViolation, match=reason) as refused:
        joint_targets(names, positions)
    assert refused.value.code is ErrorCode.SAFETY_VIOLATION


def test_feedback_comes_every_period_until_the_command_ends(rig):
    handle = rig.controller.move({"head_pan": 0.3}, duration=0.5)
    progress = []

    def feedback() -> None:   # stands in for the control loop: each period, 20 ms of it
        progress.append(handle.progress)
        rig.step(0.02)
    assert follow(rig.controller, handle, lambda: False, feedback, period_s=0.0) is handle
    assert handle.state is CommandState.SUCCEEDED
    assert len(progress) >= 25 and progress == sorted(progress) and 0.0 < progress[len(progress) // 2] < 1.0
    assert measured(rig.controller, ["head_pan", "no_such_joint"])[0] == pytest.approx(0.3, abs=0.01)
    assert math.isnan(measured(rig.controller, ["no_such_joint"])[0])


def test_a_cancel_is_forwarded_and_the_command_decelerates_to_canceled(rig):
    handle = rig.controller.move({"head_pan": 1.2}, duration=2.0)
    calls, states = [], []

    def cancel_requested() -> bool:
        calls.append(handle.state)
        return len(calls) > 50    # the client asks after 50 periods: mid-move
    follow(rig.controller, handle, cancel_requested, lambda: (states.append(handle.state), rig.step(0.02)), 0.0)
    assert handle.state is CommandState.CANCELED
    assert CommandState.CANCELING in states and 0.3 < rig.status.positions["head_pan"] < 1.15


def test_the_grasp_outcome_and_feedback_come_from_the_handle(rig):
    handle = rig.controller.grasp("r", 5.0)
    rig.run_until_done(handle)
    outcome = GraspOutcome.of(handle)
    assert outcome.grasped and outcome.force_applied == pytest.approx(5.0, abs=0.5) and outcome.time_ms > 0
    force, position = grasp_feedback(rig.controller, handle, "r")
    assert force == outcome.force_applied and position == rig.controller.positions["gripper_r"]
    assert grasp_feedback(rig.controller, handle, "r", closing=False)[0] == 0.0   # the arm's moves: no force
    assert GraspOutcome.of(CommandHandle("grasp", ("gripper_r",))) == GraspOutcome(False, 0.0, 0)
