"""Checks of a requested motion against the URDF limits. Rejections carry 4001 and a reason.

Nothing is clamped: a goal outside the envelope is refused whole, because a clamped goal is
a different motion from the one that was asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from embodied_ai.errors import SafetyViolation
from embodied_ai.robot.description import RobotDescription

# Peak speed of a minimum-jerk profile relative to the average speed distance/duration.
MIN_JERK_PEAK_FACTOR = 1.875


def validate_targets(description: RobotDescription, targets: Mapping[str, float]) -> None:
    """Every target names a known joint, is a finite number and lies within the joint's limits."""
    if not targets:
        raise SafetyViolation("no joint targets given")
    for joint, value in targets.items():
        if joint not in description.limits:
            raise SafetyViolation(f"unknown joint '{joint}'")
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SafetyViolation(f"{joint}: target {value!r} is not a finite number")
        limits = description.limits[joint]
        if not limits.contains(value):
            raise SafetyViolation(
                f"{joint}: target {math.degrees(value):.1f} deg is outside the joint limits "
                f"[{math.degrees(limits.lower):.1f}, {math.degrees(limits.upper):.1f}] deg"
            )


def validate_duration(
    description: RobotDescription,
    start: Mapping[str, float],
    targets: Mapping[str, float],
    duration: float,
    min_duration: float,
    max_duration: float,
) -> None:
    """A minimum-jerk move of ``duration`` from ``start`` must stay within velocity limits."""
    if not math.isfinite(duration) or duration < min_duration or duration > max_duration:
        raise SafetyViolation(
            f"duration {duration!r} s is outside the accepted range [{min_duration}, {max_duration}] s"
        )
    for joint, target in targets.items():
        peak = MIN_JERK_PEAK_FACTOR * abs(target - start[joint]) / duration
        limit = description.limits[joint].velocity
        if peak > limit:
            raise SafetyViolation(
                f"{joint}: moving {math.degrees(abs(target - start[joint])):.1f} deg in {duration:.3f} s "
                f"needs {peak:.2f} rad/s, above the velocity limit {limit:.2f} rad/s"
            )


def minimum_duration(
    description: RobotDescription,
    start: Mapping[str, float],
    targets: Mapping[str, float],
    velocity_scale: float,
    min_duration: float,
) -> float:
    """The duration at which the slowest joint peaks at ``velocity_scale`` of its limit."""
    needed = [
        MIN_JERK_PEAK_FACTOR * abs(target - start[joint]) / (velocity_scale * description.limits[joint].velocity)
        for joint, target in targets.items()
    ]
    return max([min_duration, *needed])
