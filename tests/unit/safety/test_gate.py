"""Limiter: the last gate before the bus refuses any setpoint outside limits or too fast."""

import math

import pytest

from embodied_ai.errors import SafetyViolation
from embodied_ai.safety.gate import SetpointGate


@pytest.fixture
def gate(description):
    gate = SetpointGate(description, step_tolerance=0.25)
    gate.reset({"head_pan": 0.0})
    return gate


def test_steps_within_the_velocity_limit_pass(gate):
    gate.check({"head_pan": 0.01}, dt=0.005)  # 2.0 rad/s limit: 0.0125 rad allowed with tolerance


def test_step_faster_than_the_velocity_limit_is_refused(gate):
    with pytest.raises(SafetyViolation, match="exceeds the velocity limit 2.0 rad/s"):
        gate.check({"head_pan": 0.05}, dt=0.005)


def test_setpoint_outside_limits_is_refused(gate):
    gate.reset({"head_pan": math.radians(90)})
    with pytest.raises(SafetyViolation, match="outside"):
        gate.check({"head_pan": math.radians(90.5)}, dt=1.0)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_setpoint_is_refused(gate, value):
    with pytest.raises(SafetyViolation, match="non-finite"):
        gate.check({"head_pan": value}, dt=0.005)


def test_refused_setpoint_is_not_remembered(gate):
    with pytest.raises(SafetyViolation):
        gate.check({"head_pan": 0.05}, dt=0.005)
    gate.check({"head_pan": 0.01}, dt=0.005)  # still measured from 0.0
