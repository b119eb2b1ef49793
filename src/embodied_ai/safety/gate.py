"""The last check before the bus: every setpoint written must be finite, inside the joint limits
and reachable from the previous one within the velocity limit.

Planning already guarantees this; the gate exists so that a bug anywhere upstream can never
put an out-of-limit command on the bus (defence in depth, as a servo drive's own limits are).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from embodied_ai.errors import SafetyViolation
from embodied_ai.robot.description import RobotDescription


class SetpointGate:
    def __init__(self, description: RobotDescription, step_tolerance: float) -> None:
        self._limits = description.limits
        self._tolerance = step_tolerance
        self._last: dict[str, float] = {}

    def reset(self, positions: Mapping[str, float]) -> None:
        """Start from known positions (activation, e-stop hold)."""
        self._last = dict(positions)

    def check(self, setpoints: Mapping[str, float], dt: float) -> None:
        """Raise SafetyViolation naming the first offending joint; accept and remember otherwise."""
        for joint, value in setpoints.items():
            limits = self._limits.get(joint)
            if limits is None:
                raise SafetyViolation(f"setpoint for unknown joint '{joint}'")
            if not math.isfinite(value):
                raise SafetyViolation(f"{joint}: non-finite setpoint {value!r}")
            if not limits.contains(value):
                raise SafetyViolation(f"{joint}: setpoint {value:.4f} rad outside [{limits.lower}, {limits.upper}]")
            previous = self._last.get(joint)
            if previous is not None:
                allowed = limits.velocity * max(dt, 0.0) * (1.0 + self._tolerance) + 1e-6
                if abs(value - previous) > allowed:
                    raise SafetyViolation(
                        f"{joint}: setpoint step {abs(value - previous):.4f} rad in {dt * 1000:.1f} ms "
                        f"exceeds the velocity limit {limits.velocity} rad/s"
                    )
        self._last.update(setpoints)
