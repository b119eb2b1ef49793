"""The servo controller's streamed-command path on the simulated robot, stepped by hand.

An environment step is what a policy node does through ``ServoController.stream``: the
targets are validated as the controller validates them (``validate_targets``: known joints,
finite, inside the URDF limits; anything else raises SafetyViolation), then each control
cycle advances the setpoints toward them with ``track_toward`` under the safety config's
velocity scale and deceleration, passes them through the same ``SetpointGate`` and writes
them to a ``SimulatedRobot`` whose servos move with the simulator's own dynamics.

It leaves out what an environment does not need (threads, the e-stop, fault monitoring,
the watchdog), so one step costs about a millisecond instead of a controller's cycle count;
tests hold its trajectory equal to ``ServoController``'s on the same simulated robot.
"""

from __future__ import annotations

from collections.abc import Mapping

from embodied_ai.control.profile import track_toward
from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.robot.description import RobotDescription
from embodied_ai.safety.config import SafetyConfig
from embodied_ai.safety.gate import SetpointGate
from embodied_ai.safety.limits import validate_targets


class ManualClock:
    """Simulated time that only moves when the stream advances it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StreamedServos:
    """Streamed joint targets tracked at the controller's rate on a simulated robot."""

    def __init__(self, description: RobotDescription, safety: SafetyConfig, robot: SimulatedRobot,
                 clock: ManualClock, rate_hz: float) -> None:
        self.description = description
        self.safety = safety
        self.robot = robot
        self._clock = clock
        self._dt = 1.0 / rate_hz
        # As ServoController.activate: read, hold the measured pose, enable torque.
        robot.open()
        self.snapshot: HardwareSnapshot = robot.read()
        self._setpoint = {j: r.position for j, r in self.snapshot.joints.items()}
        self._velocity = dict.fromkeys(self._setpoint, 0.0)
        self._gate = SetpointGate(description, safety.step_tolerance)
        self._gate.reset(self._setpoint)
        robot.set_torque(True)
        self._targets: dict[str, float] = {}

    @property
    def targets(self) -> dict[str, float]:
        """The streamed targets now being tracked."""
        return dict(self._targets)

    @property
    def setpoints(self) -> dict[str, float]:
        """The setpoints last written to the robot."""
        return dict(self._setpoint)

    def stream(self, targets: Mapping[str, float]) -> None:
        """New targets for some joints, validated as ``ServoController.stream`` validates them."""
        validate_targets(self.description, targets)
        self._targets.update({j: float(v) for j, v in targets.items()})

    def advance(self, cycles: int) -> HardwareSnapshot:
        """Run ``cycles`` control cycles (read, track, gate, write); the last reading."""
        control = self.safety.control
        for _ in range(cycles):
            self._clock.now += self._dt
            self.snapshot = self.robot.read()
            for joint, target in self._targets.items():
                limits = self.description.limits[joint]
                position, velocity = track_toward(
                    self._setpoint[joint], self._velocity[joint], target,
                    limits.velocity * self.safety.default_velocity_scale, self.safety.max_deceleration_rad_s2,
                    min(self._dt, control.max_tracking_step_s))
                self._setpoint[joint] = min(max(position, limits.lower), limits.upper)
                self._velocity[joint] = velocity
            self._gate.check(self._setpoint, self._dt)
            self.robot.write_positions(self._setpoint)
        return self.snapshot
