"""The safety contract over the real protocol: the servo controller driving the Dynamixel
driver, which talks Protocol 2.0 through a pseudo-terminal to the emulated servo bus.

The emulator records every goal that reached the bus, so "the bus never receives an
out-of-limit command" is checked on the wire, and bus timeouts and CRC errors come from the
emulated servos themselves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
import yaml

from embodied_ai.control import CommandState, ControllerStatus, ServoController
from embodied_ai.errors import SafetyViolation
from embodied_ai.hardware.dynamixel import DynamixelBus, ServoConfig
from embodied_ai.hardware.dynamixel.emulator import EmulatedDynamixelBus
from tests.conftest import REPO

CONFIG = yaml.safe_load((REPO / "launch" / "hardware_dynamixel.yaml").read_text())
IDS = {joint: entry["id"] for joint, entry in CONFIG["joints"].items()}
LOOP_PERIOD_S = 0.01


@pytest.fixture
def emulator() -> Iterator[EmulatedDynamixelBus]:
    with EmulatedDynamixelBus(IDS.values(), time_constant_s=0.03) as bus:
        yield bus


@pytest.fixture
def controller(emulator, description, safety) -> Iterator[ServoController]:
    # A generous status timeout: on a loaded CI runner the emulator's thread answers late.
    bus = DynamixelBus.from_config({**CONFIG, "port": emulator.port_name, "status_timeout_s": 0.1})
    bus.open()
    controller = ServoController(description, bus, safety)
    controller.activate()
    yield controller
    bus.close()
    # What reached the wire, converted back to joint angles, was always within the URDF limits.
    configs = {joint: ServoConfig.from_config(joint, entry) for joint, entry in CONFIG["joints"].items()}
    for joint, servo_id in IDS.items():
        limits = description.joint(joint)
        for ticks in emulator.goal_history.get(servo_id, []):
            position = configs[joint].to_joint_position(ticks)
            assert limits.lower - 1e-3 <= position <= limits.upper + 1e-3, (joint, math.degrees(position))


def run_loop(controller: ServoController, seconds: float) -> ControllerStatus:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = controller.tick()
        time.sleep(LOOP_PERIOD_S)
    return status


def test_move_over_the_wire_reaches_the_goal(controller):
    handle = controller.move({"head_pan": math.radians(20), "elbow_pitch_r": math.radians(30)}, duration=0.5)
    deadline = time.monotonic() + 5
    while not handle.done and time.monotonic() < deadline:
        status = controller.tick()
        time.sleep(LOOP_PERIOD_S)
    assert handle.state is CommandState.SUCCEEDED, handle.message
    assert math.degrees(status.positions["head_pan"]) == pytest.approx(20, abs=0.5)
    assert math.degrees(status.positions["elbow_pitch_r"]) == pytest.approx(30, abs=0.5)


def test_out_of_limit_goal_never_reaches_the_wire(controller, emulator):
    before = {servo_id: len(goals) for servo_id, goals in emulator.goal_history.items()}
    with pytest.raises(SafetyViolation):
        controller.move({"shoulder_pitch_r": math.radians(400)})
    run_loop(controller, 0.1)
    # Only holding goals (the present pose) were written since.
    for ticks in emulator.goal_history[IDS["shoulder_pitch_r"]][before.get(IDS["shoulder_pitch_r"], 0):]:
        assert abs(ticks - 2048) <= 2


@pytest.mark.parametrize("fault, reported", [("timeout", "timeout"), ("crc", "crc_error")])
def test_bus_fault_from_the_emulated_servo_stops_that_joint(controller, emulator, fault, reported):
    handle = controller.move({"wrist_roll_r": math.radians(40), "head_pan": math.radians(10)}, duration=1.0)
    run_loop(controller, 0.2)
    emulator.inject(IDS["wrist_roll_r"], fault)
    status = run_loop(controller, 0.2)
    assert handle.state is CommandState.ABORTED
    assert status.joint_faults["wrist_roll_r"].startswith(f"bus fault: {reported}")
    assert set(status.joint_faults) == {"wrist_roll_r"}
    with pytest.raises(SafetyViolation, match="stopped by a fault"):
        controller.move({"wrist_roll_r": 0.0})
    # The rest of the robot still moves.
    other = controller.move({"head_pan": 0.0}, duration=0.3)
    deadline = time.monotonic() + 3
    while not other.done and time.monotonic() < deadline:
        controller.tick()
        time.sleep(LOOP_PERIOD_S)
    assert other.state is CommandState.SUCCEEDED
    # After the fault clears, an operator reset releases the joint.
    emulator.clear()
    run_loop(controller, 0.1)
    controller.reset_emergency_stop()
    assert "wrist_roll_r" not in run_loop(controller, 0.1).joint_faults
