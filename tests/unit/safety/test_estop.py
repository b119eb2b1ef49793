"""Limiter: the e-stop latches until an explicit reset, keeping its first reason."""

import pytest

from embodied_ai.errors import ErrorCode, SafetyViolation
from embodied_ai.safety.estop import EmergencyStop


def test_latch_refuses_until_reset():
    estop = EmergencyStop()
    estop.check()
    assert estop.trigger("button")
    assert not estop.trigger("second press")
    with pytest.raises(SafetyViolation, match=r"latched \(button\)") as err:
        estop.check()
    assert err.value.code is ErrorCode.SAFETY_VIOLATION
    assert estop.reset()
    estop.check()
    assert not estop.reset()
