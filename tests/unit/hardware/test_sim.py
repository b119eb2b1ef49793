"""The simulated robot: dynamics within limits, contact force, heating, fault injection."""

import math

import pytest

from embodied_ai.hardware.base import BusFault
from embodied_ai.hardware.sim import ObjectStateChanges, SimObject, SimulatedRobot


def run(sim, clock, seconds, dt=0.005):
    snapshots = []
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        snapshots.append(sim.read())
    return snapshots


def test_servo_tracks_goal_first_order_without_exceeding_velocity_limit(sim, clock, description):
    sim.set_torque(True)
    sim.write_positions({"head_pan": 1.0})
    snapshots = run(sim, clock, 2.0)
    speeds = [abs(s.joints["head_pan"].velocity) for s in snapshots]
    assert max(speeds) <= description.joint("head_pan").velocity + 1e-9
    assert snapshots[-1].joints["head_pan"].position == pytest.approx(1.0, abs=1e-3)


def test_no_torque_no_motion(sim, clock):
    sim.write_positions({"head_pan": 1.0})
    assert run(sim, clock, 0.5)[-1].joints["head_pan"].position == 0.0


def test_gripper_force_rises_on_contact_with_the_object_only(sim, clock, description):
    sim.set_torque(True)
    contact = math.asin((0.09 - 0.05) / 0.1)
    forces = []
    for goal in (contact - 0.1, contact, contact + 0.1, contact + 0.2):
        sim.write_positions({"gripper_r": goal, "gripper_l": goal})
        snap = run(sim, clock, 0.5)[-1]
        forces.append(snap.forces["gripper_r"])
        assert snap.forces["gripper_l"] == 0.0  # nothing in the left hand
    assert forces[0] == 0.0 and forces[1] == pytest.approx(0.0, abs=1e-9)
    assert 0 < forces[2] < forces[3]
    # The fingers stop at the object's surface.
    assert snap.joints["gripper_r"].position == pytest.approx(contact, abs=1e-6)


def test_motor_heats_with_load_and_cools_toward_ambient(description, clock):
    sim = SimulatedRobot(description, [SimObject(1, "cube", 0.05, "r")], clock=clock)
    sim.open()
    sim.set_torque(True)
    sim.write_positions({"gripper_r": description.joint("gripper_r").upper})  # squeeze hard
    hot = run(sim, clock, 60.0, dt=0.05)[-1].joints["gripper_r"].temperature
    assert hot > 26.0
    sim.write_positions({"gripper_r": 0.0})
    cooled = run(sim, clock, 300.0, dt=0.05)[-1].joints["gripper_r"].temperature
    assert cooled < hot


def test_injected_faults_show_up_per_joint(sim, clock):
    sim.set_torque(True)
    sim.inject_fault("elbow_pitch_r", "timeout")
    snap = run(sim, clock, 0.01)[-1]
    assert snap.faults == {"elbow_pitch_r": BusFault.TIMEOUT}
    assert "elbow_pitch_r" not in snap.joints and "head_pan" in snap.joints
    assert sim.write_positions({"elbow_pitch_r": 0.1, "head_pan": 0.1}) == {"elbow_pitch_r": BusFault.TIMEOUT}
    sim.inject_fault("elbow_pitch_r", "clear")
    sim.inject_fault("head_pan", "overheat")
    snap = run(sim, clock, 0.01)[-1]
    assert snap.faults == {} and snap.joints["head_pan"].temperature > 80
    with pytest.raises(ValueError):
        sim.inject_fault("head_pan", "gremlins")
    with pytest.raises(KeyError):
        sim.inject_fault("tail", "timeout")


def test_imu_sees_gravity(sim, clock):
    imu = run(sim, clock, 0.01)[-1].imu
    assert imu is not None and imu.linear_acceleration[2] == pytest.approx(9.81, abs=0.1)


def test_object_states_are_reported_only_when_they_change(description, clock):
    robot = SimulatedRobot(description, [SimObject(1, "red_cube", 0.05, "r"),
                                         SimObject(2, "ball", 0.05, table_xy=(0.4, 0.1))], clock=clock)
    changes = ObjectStateChanges(robot)
    assert changes.poll() == [(1, "r", None), (2, "", (0.4, 0.1))]
    assert changes.poll() is None
    robot.place_object(SimObject(1, "red_cube", 0.05, table_xy=(0.3, -0.1)))   # set down
    assert changes.poll() == [(2, "", (0.4, 0.1)), (1, "", (0.3, -0.1))]
