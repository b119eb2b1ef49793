"""Setpoint generators: pure functions of time, sampled by the control loop.

- MinJerkTrajectory: synchronised minimum-jerk move of several joints (smooth start and stop).
- StopRamp: brings moving joints to rest at a bounded deceleration (cancel, watchdog).
- track_toward: one step of a velocity- and acceleration-limited tracker (streamed targets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Sample = tuple[dict[str, float], dict[str, float]]  # (positions, velocities)


def _min_jerk(tau: float) -> tuple[float, float]:
    """Normalised position and d/dtau of the quintic minimum-jerk blend at tau in [0, 1]."""
    tau = min(max(tau, 0.0), 1.0)
    s = tau**3 * (10 - 15 * tau + 6 * tau**2)
    ds = 30 * tau**2 * (1 - tau) ** 2
    return s, ds


@dataclass(frozen=True)
class MinJerkTrajectory:
    start: Mapping[str, float]
    goal: Mapping[str, float]
    duration: float

    def sample(self, t: float) -> Sample:
        s, ds = _min_jerk(t / self.duration)
        positions = {j: self.start[j] + (g - self.start[j]) * s for j, g in self.goal.items()}
        velocities = {j: (g - self.start[j]) * ds / self.duration for j, g in self.goal.items()}
        return positions, velocities

    def finished(self, t: float) -> bool:
        return t >= self.duration


@dataclass(frozen=True)
class StopRamp:
    """Constant deceleration from (position, velocity) to rest for each joint."""

    start: Mapping[str, float]
    velocity: Mapping[str, float]
    deceleration: float

    @property
    def duration(self) -> float:
        return max((abs(v) / self.deceleration for v in self.velocity.values()), default=0.0)

    def sample(self, t: float) -> Sample:
        """The state ``t`` s after the ramp started; before its start (a tick whose time was
        taken before a slow bus read started the ramp) it is the start, never extrapolated back."""
        positions: dict[str, float] = {}
        velocities: dict[str, float] = {}
        for joint, p0 in self.start.items():
            v0 = self.velocity.get(joint, 0.0)
            stop_time = abs(v0) / self.deceleration
            tt = min(max(t, 0.0), stop_time)
            direction = math.copysign(1.0, v0)
            positions[joint] = p0 + v0 * tt - 0.5 * direction * self.deceleration * tt * tt
            velocities[joint] = v0 - direction * self.deceleration * tt if tt < stop_time else 0.0
        return positions, velocities

    def finished(self, t: float) -> bool:
        return t >= self.duration


def track_toward(
    position: float, velocity: float, target: float, max_velocity: float, max_deceleration: float, dt: float
) -> tuple[float, float]:
    """Advance one step of ``dt`` toward ``target`` within the velocity and deceleration bounds.

    The step's speed v is the largest from which, after moving v * dt, the joint can still
    stop on the target at the deceleration bound: v dt + v^2 / (2 a) = d. It stays safe when
    later steps are shorter than this one (a late control cycle followed by punctual ones),
    and near the target the speed it asks for falls by less than a * dt per step.
    """
    if dt <= 0:
        return position, velocity
    error = target - position
    step_decel = max_deceleration * dt
    stopping_speed = -step_decel + math.sqrt(step_decel * step_decel + 2.0 * max_deceleration * abs(error))
    desired = math.copysign(min(max_velocity, stopping_speed, abs(error) / dt), error)
    new_velocity = min(max(desired, velocity - step_decel), velocity + step_decel)
    return position + new_velocity * dt, new_velocity
