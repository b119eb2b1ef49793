"""The safety contract end to end on the simulated robot: each rule with the fault injected.

Every test runs on a hardware wrapper that records what reached the bus, and the fixture
checks afterwards that no out-of-limit or non-finite command was ever written.
"""

import math

import pytest

from embodied_ai.control import CommandState, ServoController
from embodied_ai.errors import ErrorCode, SafetyViolation
from embodied_ai.hardware.base import BusFault
from tests.conftest import ControllerRig, RecordingHardware

DEG = math.radians


@pytest.fixture
def rig(description, safety, clock, sim):
    bus = RecordingHardware(sim)
    controller = ServoController(description, bus, safety, clock=clock)
    controller.activate()
    rig = ControllerRig(controller, clock, sim)
    yield rig
    rig.step(0.05)
    # The bus never received an out-of-limit or non-finite command.
    for write in bus.writes:
        for joint, value in write.items():
            limits = description.joint(joint)
            assert math.isfinite(value) and limits.lower <= value <= limits.upper, (joint, value)
    assert bus.writes, "the loop never wrote to the bus"


def test_relative_move_reaches_the_goal_smoothly(rig, description):
    handle = rig.controller.move({"shoulder_pitch_r": DEG(30)}, relative=True)
    speeds = []
    rig.run_until_done(handle, on_tick=lambda s: speeds.append(abs(s.velocities["shoulder_pitch_r"])))
    assert handle.state is CommandState.SUCCEEDED
    assert math.degrees(rig.status.positions["shoulder_pitch_r"]) == pytest.approx(30, abs=0.6)
    assert max(speeds) <= description.joint("shoulder_pitch_r").velocity


def test_out_of_limit_goal_is_refused_and_nothing_moves(rig):
    before = rig.controller.setpoints
    with pytest.raises(SafetyViolation) as err:
        rig.controller.move({"shoulder_pitch_r": DEG(400)})
    assert err.value.code is ErrorCode.SAFETY_VIOLATION and "outside the joint limits" in str(err.value)
    rig.step(0.2)
    assert rig.controller.setpoints == before


def test_relative_move_past_a_limit_is_refused_not_clamped(rig):
    with pytest.raises(SafetyViolation, match="outside the joint limits"):
        rig.controller.move({"shoulder_pitch_r": DEG(90)}, relative=True)


@pytest.mark.parametrize("relative", [False, True])
def test_a_move_naming_an_unknown_joint_is_refused_whole(rig, relative):
    before = rig.controller.setpoints
    with pytest.raises(SafetyViolation, match="unknown joint 'tail'"):
        rig.controller.move({"head_pan": DEG(5), "tail": DEG(1)}, relative=relative)
    rig.step(0.2)
    assert rig.controller.setpoints == before


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_goal_is_refused(rig, value):
    with pytest.raises(SafetyViolation, match="not a finite number"):
        rig.controller.move({"head_pan": value})


def test_trajectory_faster_than_the_velocity_limit_is_refused(rig):
    with pytest.raises(SafetyViolation, match="above the velocity limit"):
        rig.controller.move({"head_pan": DEG(80)}, duration=0.2)


def test_stale_command_stream_stops_the_joint(rig, safety):
    rig.controller.stream({"head_pan": DEG(80)})
    rig.step(0.3)
    moving = rig.status.positions["head_pan"]
    assert moving > 0.05
    rig.step(safety.watchdog_timeout_s + 0.5)  # no more commands: watchdog expires, joint decelerates
    stopped_at = rig.status.positions["head_pan"]
    rig.step(0.5)
    assert rig.status.positions["head_pan"] == pytest.approx(stopped_at, abs=1e-3)
    assert stopped_at < DEG(80) - 0.1  # it did not carry on to the target
    assert any("watchdog" in e for e in rig.events)


def test_streaming_keeps_moving_while_commands_arrive(rig):
    for _ in range(100):  # 1 s of 50 Hz commands
        rig.controller.stream({"head_pan": DEG(20)})
        rig.step(0.02)
    assert rig.status.positions["head_pan"] == pytest.approx(DEG(20), abs=0.01)


def test_streamed_target_is_not_overshot_when_cycles_run_late(rig):
    target = 0.1
    for cycle in range(400):
        if cycle % 5 == 0:
            rig.controller.stream({"head_pan": target})
        late = cycle % 20 == 7  # one cycle in twenty wakes 10-60 ms late
        rig.clock.advance(0.005 + (0.01 + 0.05 * (cycle % 3) / 2 if late else 0.0))
        rig.controller.tick()
        assert rig.controller.setpoints["head_pan"] <= target + 1e-9
    assert rig.controller.setpoints["head_pan"] == pytest.approx(target, abs=1e-6)


def test_emergency_stop_halts_a_motion_midway_and_latches(rig):
    handle = rig.controller.move({"shoulder_pitch_r": DEG(-90)}, duration=3.0)
    rig.step(1.0)
    assert rig.controller.emergency_stop("test")
    assert handle.state is CommandState.ABORTED and handle.error_code is ErrorCode.SAFETY_VIOLATION
    rig.step(0.3)
    halted = rig.status.positions["shoulder_pitch_r"]
    rig.step(1.0)
    assert rig.status.positions["shoulder_pitch_r"] == pytest.approx(halted, abs=DEG(0.5))
    assert DEG(-85) < halted < DEG(-5)  # stopped midway
    for attempt in (lambda: rig.controller.move({"head_pan": 0.1}),
                    lambda: rig.controller.stream({"head_pan": 0.1}),
                    lambda: rig.controller.grasp("r", 5.0)):
        with pytest.raises(SafetyViolation, match="emergency stop is latched"):
            attempt()
    was_latched, _ = rig.controller.reset_emergency_stop()
    assert was_latched
    handle = rig.controller.move({"head_pan": 0.1})
    rig.run_until_done(handle)
    assert handle.state is CommandState.SUCCEEDED


def test_cancel_decelerates_instead_of_jumping(rig, safety):
    handle = rig.controller.move({"head_pan": DEG(80)}, duration=2.0)
    rig.step(1.0)  # mid-move, near peak speed
    rig.controller.cancel(handle)
    previous = rig.controller.setpoints["head_pan"]
    velocity_changes = []
    last_velocity = None
    while not handle.done:
        rig.step()
        current = rig.controller.setpoints["head_pan"]
        velocity = (current - previous) / 0.005
        if last_velocity is not None:
            velocity_changes.append(abs(velocity - last_velocity) / 0.005)
        previous, last_velocity = current, velocity
    assert handle.state is CommandState.CANCELED
    assert max(velocity_changes) <= safety.max_deceleration_rad_s2 * 1.01
    assert rig.controller.setpoints["head_pan"] < DEG(80) - 0.05


def test_over_temperature_stops_the_joint_and_refuses_motion(rig):
    handle = rig.controller.move({"elbow_pitch_r": DEG(90)}, duration=3.0)
    rig.step(0.5)
    rig.sim.inject_fault("elbow_pitch_r", "overheat")
    rig.step()
    assert handle.state is CommandState.ABORTED and "over-temperature" in handle.message
    assert "over-temperature" in rig.status.joint_faults["elbow_pitch_r"]
    held = rig.controller.setpoints["elbow_pitch_r"]
    rig.step(0.5)
    assert rig.controller.setpoints["elbow_pitch_r"] == held
    with pytest.raises(SafetyViolation, match="stopped by a fault"):
        rig.controller.move({"elbow_pitch_r": 0.0})
    rig.controller.move({"head_pan": 0.2})  # other joints still work


@pytest.mark.parametrize("fault", ["timeout", "crc_error"])
def test_bus_fault_stops_the_affected_joint_until_reset(rig, fault):
    handle = rig.controller.move({"wrist_roll_r": DEG(60)}, duration=2.0)
    rig.step(0.5)
    rig.sim.inject_fault("wrist_roll_r", fault)
    rig.step()
    assert handle.state is CommandState.ABORTED and f"bus fault: {fault}" in handle.message
    assert rig.status.joint_faults["wrist_roll_r"].startswith(f"bus fault: {BusFault(fault).value}")
    rig.sim.inject_fault("wrist_roll_r", "clear")
    rig.step(0.1)
    with pytest.raises(SafetyViolation, match="stopped by a fault"):
        rig.controller.move({"wrist_roll_r": 0.0})
    rig.controller.reset_emergency_stop()
    rig.step()
    assert "wrist_roll_r" not in rig.status.joint_faults


def test_grasp_closes_until_the_target_force(rig):
    handle = rig.controller.grasp("r", 5.0)
    rig.run_until_done(handle)
    assert handle.state is CommandState.SUCCEEDED and handle.result["grasped"] == 1.0
    assert handle.result["force_applied"] == pytest.approx(5.0, abs=0.5)
    rig.step(1.0)
    assert rig.status.forces["gripper_r"] == pytest.approx(5.0, abs=0.5)  # it keeps holding


def test_grasp_with_nothing_between_the_fingers_closes_fully(rig):
    handle = rig.controller.grasp("l", 5.0)
    rig.run_until_done(handle)
    assert handle.state is CommandState.SUCCEEDED and handle.result["grasped"] == 0.0


@pytest.mark.parametrize("force, message", [(50.0, "exceeds the cap of 15.0 N"), (-1.0, "positive"),
                                            (math.nan, "positive")])
def test_grasp_force_is_capped(rig, force, message):
    with pytest.raises(SafetyViolation, match=message):
        rig.controller.grasp("r", force)


def test_a_new_command_preempts_the_active_one(rig):
    first = rig.controller.move({"head_pan": DEG(60)}, duration=2.0)
    rig.step(0.5)
    second = rig.controller.move({"head_pan": 0.0})
    assert first.state is CommandState.ABORTED and "preempted" in first.message
    rig.run_until_done(second)
    assert second.state is CommandState.SUCCEEDED



# -- the tolerances of launch/safety.yaml: each test fails if its value is ignored ---------------
def rig_with(description, sim, clock, safety, **sections) -> ControllerRig:
    """A rig whose safety config has ``sections`` (e.g. control={...}) merged into the shipped one."""
    changed = {name: getattr(safety, name).model_copy(update=values) for name, values in sections.items()}
    controller = ServoController(description, sim, safety.model_copy(update=changed), clock=clock)
    controller.activate()
    return ControllerRig(controller, clock, sim)


def test_a_move_ends_when_its_joints_are_within_the_arrival_tolerance(rig):
    handle = rig.controller.move({"head_pan": DEG(20)}, duration=0.5)
    rig.run_until_done(handle)
    assert handle.message == "reached goal"
    assert abs(rig.status.positions["head_pan"] - DEG(20)) <= rig.controller.safety.control.arrival_tolerance_rad


def test_a_move_whose_joints_do_not_arrive_reports_after_the_settle_timeout(description, sim, clock, safety):
    rig = rig_with(description, sim, clock, safety, control={"arrival_tolerance_rad": 1e-9, "settle_timeout_s": 0.3})
    started = clock.now
    handle = rig.controller.move({"head_pan": DEG(20)}, duration=0.5)
    rig.run_until_done(handle)
    assert handle.state is CommandState.SUCCEEDED and handle.message == "goal time elapsed"
    assert clock.now - started == pytest.approx(0.5 + 0.3, abs=0.011)


@pytest.mark.parametrize("tolerance_rad, ending", [(0.01, "nothing grasped"), (1e-9, "timed out after 2.0 s")])
def test_an_empty_gripper_counts_as_closed_within_the_arrival_tolerance(description, sim, clock, safety,
                                                                         tolerance_rad, ending):
    rig = rig_with(description, sim, clock, safety, control={"arrival_tolerance_rad": tolerance_rad},
                   grasp={"timeout_s": 2.0})
    handle = rig.controller.grasp("l", 5.0)   # nothing between the left fingers
    rig.run_until_done(handle)
    assert ending in handle.message


@pytest.mark.parametrize("max_step_s", [0.02, 0.005])
def test_a_late_cycle_advances_a_streamed_joint_by_at_most_the_max_tracking_step(description, sim, clock, safety,
                                                                               max_step_s):
    rig = rig_with(description, sim, clock, safety, control={"max_tracking_step_s": max_step_s})
    rig.controller.stream({"head_pan": DEG(80)})
    rig.step(0.3)   # at the scaled velocity limit by now
    before = rig.controller.setpoints["head_pan"]
    rig.clock.advance(0.1)   # a cycle 100 ms late
    rig.controller.tick()
    speed = description.joint("head_pan").velocity * safety.default_velocity_scale
    assert rig.controller.setpoints["head_pan"] - before == pytest.approx(speed * max_step_s, rel=0.05)


@pytest.mark.parametrize("backoff_rad", [0.05, 0.1])
def test_a_force_over_the_cap_backs_the_gripper_off_by_the_configured_amount(description, sim, clock, safety,
                                                                             backoff_rad):
    rig = rig_with(description, sim, clock, safety, grasp={"backoff_rad": backoff_rad})
    handle = rig.controller.grasp("r", safety.grasp.max_force_n)   # the force overshoots the target: the cap
    while not handle.done:
        at_cap = rig.controller.setpoints["gripper_r"]
        rig.step()
    assert handle.state is CommandState.SUCCEEDED and "over the cap 15.0 N; backed off" in handle.message
    rig.step(0.5)
    assert rig.controller.setpoints["gripper_r"] == pytest.approx(at_cap - backoff_rad)
    assert rig.status.forces["gripper_r"] < safety.grasp.max_force_n
    assert not rig.controller.emergency_stopped, rig.events   # backed off within the velocity limit
