"""The commander's RobotPort without ROS, for the experts' unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class RecordingRobot:
    """The commander's RobotPort without ROS: records every goal, answers like the controller."""

    joint_positions: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[str, object]] = field(default_factory=list)

    def positions(self) -> Mapping[str, float] | None:
        return self.joint_positions

    def move_joints(self, targets: Mapping[str, float], relative: bool) -> tuple[bool, int, str]:
        self.calls.append(("move_joints", (dict(targets), relative)))
        return True, 0, "done"

    def grasp(self, side: str, force: float) -> tuple[bool, int, str]:
        self.calls.append(("grasp", (side, force)))
        return True, 0, "grasped"

    def emergency_stop(self) -> tuple[bool, int, str]:
        self.calls.append(("emergency_stop", None))
        return True, 0, "emergency stop latched"

    def describe_scene(self) -> str | None:
        return None
