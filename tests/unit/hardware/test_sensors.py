"""The sensors node's logic: which readings it broadcasts, and the diagnostics of the hardware
state (STALE without one, reported at once when a level changes)."""

import math

import pytest
from pydantic import ValidationError

from embodied_ai.diagnostics import HardwareView, Level
from embodied_ai.hardware.sensors import HardwareStateWatch, SensorsConfig, force_readings, temperature_readings


def view(emergency_stop: bool = False, loop_rate_hz: float = 200.0) -> HardwareView:
    return HardwareView(backend="sim", loop_rate_hz=loop_rate_hz, joint_names=["head_pan", "head_tilt"],
                        temperatures=[31.5, math.nan], joint_faults=["", ""], joint_warnings=["", ""],
                        forces={"gripper_l": 0.0, "gripper_r": 5.5, "gripper_x": 1.0}, imu_available=True,
                        emergency_stop=emergency_stop, emergency_stop_reason="test" if emergency_stop else "")


def levels(watch: HardwareStateWatch) -> dict[str, Level]:
    return {status.name: status.level for status in watch.statuses()}


def test_the_readings_are_the_contracts_force_sensors_and_the_temperatures_known():
    assert force_readings(view()) == {"gripper_l": 0.0, "gripper_r": 5.5}
    assert temperature_readings(view()) == {"head_pan": 31.5}


def test_no_state_yet_or_none_for_too_long_is_stale(clock):
    watch = HardwareStateWatch(200.0, stale_after_s=1.0, clock=clock)
    assert [s.message for s in watch.statuses()] == ["no hardware state received yet"]
    watch.update(view())
    assert levels(watch)["servo_controller: emergency stop"] is Level.OK
    clock.advance(1.5)
    assert [(s.level, s.message) for s in watch.statuses()] == [(Level.STALE, "no hardware state for 1.5 s")]


def test_a_change_of_level_or_an_event_is_reported_at_once(clock):
    watch = HardwareStateWatch(200.0, stale_after_s=1.0, clock=clock)
    assert watch.update(view())          # from STALE to OK
    watch.report()
    assert not watch.update(view())      # nothing new: the next period will do
    assert watch.update(view(), has_events=True)
    assert watch.update(view(emergency_stop=True))
    watch.report()
    assert not watch.update(view(emergency_stop=True))


def test_a_slow_loop_is_a_warning_against_the_expected_rate(clock):
    watch = HardwareStateWatch(200.0, stale_after_s=1.0, clock=clock)
    watch.update(view(loop_rate_hz=150.0))
    assert levels(watch)["servo_controller: control loop"] is Level.WARN
    watch = HardwareStateWatch(150.0, stale_after_s=1.0, clock=clock)
    watch.update(view(loop_rate_hz=150.0))
    assert levels(watch)["servo_controller: control loop"] is Level.OK


def test_parameters_keep_their_names_and_defaults_and_refuse_zero_rates():
    assert SensorsConfig().model_dump() == {"diagnostics_rate_hz": 1.0, "expected_loop_rate_hz": 200.0,
                                            "stale_after_s": 1.0}
    with pytest.raises(ValidationError, match="diagnostics_rate_hz"):
        SensorsConfig(diagnostics_rate_hz=0.0)
