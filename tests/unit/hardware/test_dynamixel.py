"""The Dynamixel driver against an emulated X-series bus on a real pseudo-terminal.

Every test goes through dynamixel_sdk, pyserial and a pty to an emulator that parses the
packets on its own, so what is asserted here is what would travel on a real bus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import pytest

from embodied_ai.errors import HardwareError
from embodied_ai.hardware.base import BusFault
from embodied_ai.hardware.dynamixel import DynamixelBus, ServoConfig
from embodied_ai.hardware.dynamixel import control_table as ct
from embodied_ai.hardware.dynamixel.emulator import (
    EmulatedDynamixelBus,
    InstructionParser,
    build_packet,
    crc16,
    stuff,
    unstuff,
)

BAUDRATE = 1_000_000      # a pty ignores it, but the driver must accept a real setting
STATUS_TIMEOUT_S = 0.05   # short, as every injected timeout costs this much per read
FORCE_PER_CURRENT_UNIT = 0.01

JOINTS = {
    "head_pan": ServoConfig(servo_id=1),
    "head_tilt": ServoConfig(servo_id=2, direction=-1, offset=0.1),
    "gripper_l": ServoConfig(servo_id=3),
}


def make_driver(port: str, joints: dict[str, ServoConfig] = JOINTS) -> DynamixelBus:
    return DynamixelBus(port, BAUDRATE, joints, status_timeout_s=STATUS_TIMEOUT_S,
                        gripper_force_per_current_unit=FORCE_PER_CURRENT_UNIT)


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 2.0) -> None:
    """Poll ``condition``: a sync write gets no reply, so the test cannot know when the
    emulator thread has processed it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


@pytest.fixture
def emulator() -> Iterator[EmulatedDynamixelBus]:
    with EmulatedDynamixelBus([1, 2, 3], time_constant_s=0.02) as bus:
        yield bus


@pytest.fixture
def driver(emulator: EmulatedDynamixelBus) -> Iterator[DynamixelBus]:
    bus = make_driver(emulator.port_name)
    bus.open()
    yield bus
    bus.close()


# --- opening -------------------------------------------------------------------------------
def test_open_names_the_servo_that_does_not_answer() -> None:
    with EmulatedDynamixelBus([1, 2]) as emulator:
        driver = make_driver(emulator.port_name)
        with pytest.raises(HardwareError, match=r"id 3 \(gripper_l\): no status packet") as info:
            driver.open()
        assert "id 1" not in str(info.value) and "id 2" not in str(info.value)
        driver.close()  # safe after a failed open


def test_open_reports_a_port_that_does_not_exist() -> None:
    driver = make_driver("/dev/does-not-exist")
    with pytest.raises(HardwareError, match="cannot open Dynamixel port /dev/does-not-exist"):
        driver.open()


def test_read_before_open_is_an_error(emulator: EmulatedDynamixelBus) -> None:
    with pytest.raises(HardwareError, match="not open"):
        make_driver(emulator.port_name).read()


# --- reading -------------------------------------------------------------------------------
def test_read_reports_state_in_si_units(emulator: EmulatedDynamixelBus,
                                        driver: DynamixelBus) -> None:
    emulator.set_present_state(1, position_ticks=3072, velocity_units=100, current_units=200,
                               temperature_c=41)
    emulator.set_present_state(2, position_ticks=1024)
    emulator.set_present_state(3, current_units=-300)

    snapshot = driver.read()

    assert snapshot.faults == {} and snapshot.imu is None
    head_pan = snapshot.joints["head_pan"]
    assert head_pan.position == pytest.approx(math.pi / 2)
    assert head_pan.velocity == pytest.approx(100 * 0.229 * 2 * math.pi / 60)
    assert head_pan.effort == pytest.approx(200 * ct.XM430_W350.effort_per_current_unit)
    assert head_pan.temperature == 41.0
    # Mirrored servo: -1 * (-pi/2) + 0.1 offset.
    assert snapshot.joints["head_tilt"].position == pytest.approx(math.pi / 2 + 0.1)
    assert snapshot.forces == {"gripper_l": pytest.approx(300 * FORCE_PER_CURRENT_UNIT)}


def test_a_timing_out_servo_does_not_hide_the_others(emulator: EmulatedDynamixelBus,
                                                     driver: DynamixelBus) -> None:
    emulator.inject(2, "timeout")

    snapshot = driver.read()

    assert snapshot.faults == {"head_tilt": BusFault.TIMEOUT}
    assert "servo 2" in snapshot.fault_details["head_tilt"]
    assert set(snapshot.joints) == {"head_pan", "gripper_l"}

    emulator.clear()
    assert driver.read().faults == {}


def test_corrupt_status_packet_is_a_crc_error_for_that_joint_only(
        emulator: EmulatedDynamixelBus, driver: DynamixelBus) -> None:
    emulator.inject(2, "crc")

    snapshot = driver.read()

    assert snapshot.faults == {"head_tilt": BusFault.CRC_ERROR}
    assert set(snapshot.joints) == {"head_pan", "gripper_l"}


def test_hardware_error_is_a_device_error_with_its_cause(emulator: EmulatedDynamixelBus,
                                                         driver: DynamixelBus) -> None:
    emulator.inject(3, "hardware_error")

    snapshot = driver.read()

    assert snapshot.faults == {"gripper_l": BusFault.DEVICE_ERROR}
    assert "overload" in snapshot.fault_details["gripper_l"]
    assert "gripper_l" not in snapshot.forces
    with pytest.raises(HardwareError, match="gripper_l"):
        driver.set_torque(True)


def test_unplugged_adapter_reports_every_joint_disconnected(emulator: EmulatedDynamixelBus,
                                                            driver: DynamixelBus) -> None:
    emulator.stop()  # closes the pty's master side, as unplugging a USB adapter would

    snapshot = driver.read()

    assert snapshot.faults == {joint: BusFault.DISCONNECTED for joint in JOINTS}
    assert snapshot.joints == {}


# --- writing -------------------------------------------------------------------------------
def test_write_positions_moves_the_servo(emulator: EmulatedDynamixelBus,
                                         driver: DynamixelBus) -> None:
    driver.set_torque(True)

    assert driver.write_positions({"head_pan": 0.5, "head_tilt": 0.2}) == {}

    # Enabling torque first wrote each servo's present position (2048) as its goal.
    expected = {1: [2048, JOINTS["head_pan"].to_ticks(0.5)],
                2: [2048, JOINTS["head_tilt"].to_ticks(0.2)],
                3: [2048]}
    wait_until(lambda: emulator.goal_history == expected, "the goals reach the bus")
    wait_until(lambda: abs(driver.read().joints["head_pan"].position - 0.5) < 0.01,
               "the emulated servo reaches its goal")


def test_write_positions_rejects_unknown_joints(driver: DynamixelBus) -> None:
    with pytest.raises(KeyError, match="elbow"):
        driver.write_positions({"elbow": 0.0})


def test_torque_enable_holds_the_present_pose(emulator: EmulatedDynamixelBus,
                                              driver: DynamixelBus) -> None:
    emulator.set_present_state(1, position_ticks=3000)  # moved by hand while limp

    driver.set_torque(True)

    assert all(emulator.register(i, ct.TORQUE_ENABLE) == 1 for i in (1, 2, 3))
    assert emulator.register(1, ct.GOAL_POSITION) == 3000  # not the stale 2048

    driver.set_torque(False)
    assert all(emulator.register(i, ct.TORQUE_ENABLE) == 0 for i in (1, 2, 3))


# --- conversions and framing -----------------------------------------------------------------
@pytest.mark.parametrize("config", [ServoConfig(1), ServoConfig(1, direction=-1, offset=0.3)])
@pytest.mark.parametrize("ticks", [0, 1, 1024, 2048, 3071, 4095])
def test_goal_ticks_round_trip(config: ServoConfig, ticks: int) -> None:
    assert config.to_ticks(config.to_joint_position(ticks)) == ticks


def test_direction_and_offset_are_applied() -> None:
    mirrored = ServoConfig(1, direction=-1, offset=0.3)
    assert mirrored.to_ticks(0.3) == ct.CENTER_TICKS
    assert mirrored.to_ticks(0.3 + math.pi / 2) == 1024


def test_stuffed_status_packet_round_trips(emulator: EmulatedDynamixelBus,
                                           driver: DynamixelBus) -> None:
    # Present Current -1 (FF FF) then Present Velocity -3 (FD FF FF FF): the state block
    # holds FF FF FD, which the servo must stuff and the SDK must unstuff.
    block = (-1).to_bytes(2, "little", signed=True) + (-3).to_bytes(4, "little", signed=True)
    assert b"\xff\xff\xfd" in block
    emulator.set_present_state(1, current_units=-1, velocity_units=-3)

    reading = driver.read().joints["head_pan"]

    assert reading.velocity == pytest.approx(ct.velocity_units_to_rad_per_s(-3))
    assert reading.effort == pytest.approx(-ct.XM430_W350.effort_per_current_unit)


def test_stuffed_instruction_packet_round_trips(emulator: EmulatedDynamixelBus,
                                                driver: DynamixelBus) -> None:
    # Goal -131073 ticks is FF FF FD FF on the wire. It is outside the servo's position
    # limits, so the servo refuses it, but it must still arrive intact.
    goal_ticks = -131073
    assert goal_ticks.to_bytes(4, "little", signed=True).startswith(b"\xff\xff\xfd")

    driver.write_positions({"head_pan": ct.ticks_to_radians(goal_ticks)})

    wait_until(lambda: emulator.goal_history[1] == [goal_ticks], "the goal reaches the bus")
    assert emulator.register(1, ct.GOAL_POSITION) == ct.CENTER_TICKS


def test_emulator_framing_matches_the_e_manual() -> None:
    # PING to id 1 as printed in the ROBOTIS e-Manual (Protocol 2.0, ping example).
    ping = bytes.fromhex("FF FF FD 00 01 03 00 01 19 4E")
    assert build_packet(1, b"\x01") == ping
    assert crc16(ping[:-2]) == 0x4E19
    parser = InstructionParser()
    assert parser.feed(ping[:5]) == []                     # arrives in two chunks
    [parsed] = parser.feed(ping[5:])
    assert (parsed.servo_id, parsed.instruction, parsed.crc_ok) == (1, 0x01, True)
    assert stuff(b"\xff\xff\xfd\x01") == b"\xff\xff\xfd\xfd\x01"
    assert unstuff(b"\xff\xff\xfd\xfd\x01") == b"\xff\xff\xfd\x01"


# --- configuration --------------------------------------------------------------------------
def test_from_config_builds_the_bus(emulator: EmulatedDynamixelBus) -> None:
    bus = DynamixelBus.from_config({
        "port": emulator.port_name,
        "baudrate": 1000000,
        "status_timeout_s": STATUS_TIMEOUT_S,
        "joints": {"head_pan": {"id": 1, "direction": -1, "offset": 0.25},
                   "head_tilt": {"id": 2}},
    })
    with bus:
        assert bus.kind == "dynamixel"
        assert tuple(bus.joint_names) == ("head_pan", "head_tilt")
        assert bus.read().joints["head_pan"].position == pytest.approx(0.25)


@pytest.mark.parametrize("config, message", [
    ({"port": "/dev/ttyUSB0", "joints": {}, "baud": 57600}, "unknown dynamixel settings: baud"),
    ({"port": "/dev/ttyUSB0", "joints": {"a": {"id": 1}, "b": {"id": 1}}}, "more than one"),
    ({"port": "/dev/ttyUSB0", "joints": {"a": {"id": 1, "direction": 2}}}, "direction"),
    ({"port": "/dev/ttyUSB0", "joints": {"a": {"servo": 1}}}, "joint 'a'"),
    ({"port": "/dev/ttyUSB0", "baudrate": 12345, "joints": {"a": {"id": 1}}}, "baud rate"),
])
def test_from_config_rejects_bad_settings(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DynamixelBus.from_config(config)
