"""The environments' command path is the servo controller's streamed-command path: the same
trajectory on the simulated robot, and the same refusals."""

import math

import pytest

from embodied_ai.control import ServoController
from embodied_ai.errors import SafetyViolation
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.skills.base import CONTROLLER_RATE_HZ
from embodied_ai.skills.servos import ManualClock, StreamedServos
from tests.conftest import LOOP_DT, FakeClock

START = {"shoulder_pitch_r": -0.2, "elbow_pitch_r": 0.3, "head_pan": 0.1}
# Streamed targets, one per 0.1 s: far jumps (velocity-limited), reversals, the same target again.
TARGETS = [{"shoulder_pitch_r": -1.2, "elbow_pitch_r": 1.4}, {"head_pan": -0.9}, {"shoulder_pitch_r": 0.4},
           {"elbow_pitch_r": -0.1, "head_pan": 0.8}, {"elbow_pitch_r": -0.1}, {"shoulder_pitch_r": -0.5}]


def test_streaming_tracks_exactly_as_the_servo_controller(description, safety):
    assert CONTROLLER_RATE_HZ == pytest.approx(1 / LOOP_DT)
    controller_clock = FakeClock()
    controller = ServoController(description, SimulatedRobot(description, clock=controller_clock,
                                                             initial_positions=START), safety, controller_clock)
    controller.activate()
    clock = ManualClock(controller_clock.now)
    servos = StreamedServos(description, safety, SimulatedRobot(description, clock=clock, initial_positions=START),
                            clock, CONTROLLER_RATE_HZ)
    cycles, seen = 20, []
    for targets in TARGETS:
        controller.stream(targets)
        servos.stream(targets)
        for _ in range(cycles):
            controller_clock.advance(LOOP_DT)
            status = controller.tick()
        snapshot = servos.advance(cycles)
        assert not status.emergency_stop
        for joint, reading in snapshot.joints.items():
            assert reading.position == pytest.approx(status.positions[joint], abs=1e-9), joint
            assert reading.velocity == pytest.approx(status.velocities[joint], abs=1e-6), joint
        seen.append(status.positions["shoulder_pitch_r"])
    assert max(seen) - min(seen) > 0.1   # the comparison covered real motion, both ways


@pytest.mark.parametrize("targets, reason", [
    ({"head_pan": math.radians(120)}, "outside the joint limits"),
    ({"head_pan": math.nan}, "not a finite number"),
    ({"head_pan": 0.1, "tail": 0.0}, "unknown joint 'tail'"),
])
def test_what_the_controller_refuses_is_refused_and_nothing_changes(description, safety, targets, reason):
    clock = ManualClock()
    servos = StreamedServos(description, safety, SimulatedRobot(description, clock=clock), clock, CONTROLLER_RATE_HZ)
    servos.stream({"head_pan": 0.2})
    with pytest.raises(SafetyViolation, match=reason):
        servos.stream(targets)
    assert servos.targets == {"head_pan": 0.2}
