"""Limiter: goals are checked against the URDF and refused whole (4001), never clamped."""

import math

import pytest

from embodied_ai.errors import ErrorCode, SafetyViolation
from embodied_ai.safety.limits import minimum_duration, validate_duration, validate_targets


def test_goal_within_limits_is_accepted(description):
    validate_targets(description, {"shoulder_pitch_r": math.radians(30), "gripper_l": 0.2})


@pytest.mark.parametrize("degrees", [400.0, -181.0, 60.5])
def test_goal_outside_limits_is_refused_with_reason(description, degrees):
    with pytest.raises(SafetyViolation) as err:
        validate_targets(description, {"shoulder_pitch_r": math.radians(degrees)})
    assert err.value.code is ErrorCode.SAFETY_VIOLATION
    assert "outside the joint limits [-180.0, 60.0] deg" in str(err.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1.0", None])
def test_non_finite_or_non_numeric_targets_are_refused(description, value):
    with pytest.raises(SafetyViolation, match="not a finite number"):
        validate_targets(description, {"head_pan": value})


def test_unknown_joint_and_empty_goal_are_refused(description):
    with pytest.raises(SafetyViolation, match="unknown joint 'knee'"):
        validate_targets(description, {"knee": 0.0})
    with pytest.raises(SafetyViolation, match="no joint targets"):
        validate_targets(description, {})


def test_duration_that_needs_more_than_the_velocity_limit_is_refused(description):
    start, goal = {"head_pan": 0.0}, {"head_pan": math.radians(80)}
    # min-jerk peak speed = 1.875 * 1.396 rad / 0.5 s = 5.2 rad/s > 2.0 rad/s
    with pytest.raises(SafetyViolation, match="above the velocity limit 2.00 rad/s"):
        validate_duration(description, start, goal, 0.5, 0.05, 120.0)
    validate_duration(description, start, goal, 1.5, 0.05, 120.0)  # 1.75 rad/s: fine


@pytest.mark.parametrize("duration", [math.nan, math.inf, -1.0, 0.01, 500.0])
def test_nonsense_durations_are_refused(description, duration):
    with pytest.raises(SafetyViolation, match="outside the accepted range"):
        validate_duration(description, {"head_pan": 0.0}, {"head_pan": 0.1}, duration, 0.05, 120.0)


def test_minimum_duration_keeps_the_slowest_joint_at_the_scaled_limit(description):
    start = {"head_pan": 0.0, "shoulder_pitch_r": 0.0}
    goal = {"head_pan": 0.5, "shoulder_pitch_r": 0.5}
    duration = minimum_duration(description, start, goal, 0.5, 0.05)
    # shoulder (1.5 rad/s) is the slower one: 1.875 * 0.5 / 0.75
    assert duration == pytest.approx(1.25)
    validate_duration(description, start, goal, duration, 0.05, 120.0)
