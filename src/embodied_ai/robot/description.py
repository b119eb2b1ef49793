"""Load the robot description from URDF: the single source of joint limits.

URDF parsing here needs only joint names, types, limits and a few frame names, so the
standard library's ElementTree suffices; a full URDF library (meshes, kinematics) would
add heavy dependencies for nothing we use.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# The robot contract: tests and the REST API depend on these names.
CONTRACT_JOINTS: tuple[str, ...] = (
    "head_pan",
    "head_tilt",
    *(f"{part}_{side}" for side in ("l", "r") for part in
      ("shoulder_pitch", "shoulder_roll", "elbow_pitch", "wrist_roll", "gripper")),
)
GRIPPER_JOINTS: dict[str, str] = {"l": "gripper_l", "r": "gripper_r"}
CAMERA_FRAMES: dict[str, str] = {
    "head_camera": "head_camera_optical_frame",
    "wrist_camera": "wrist_camera_optical_frame",
}
FORCE_SENSOR_FRAMES: dict[str, str] = {"gripper_l": "gripper_l_force_link", "gripper_r": "gripper_r_force_link"}
IMU_FRAME = "imu_link"


def camera_frame(camera: str) -> str:
    """The optical frame of a camera: from the URDF for the contract's cameras, else ``<camera>_optical_frame``."""
    return CAMERA_FRAMES.get(camera, f"{camera}_optical_frame")


class RobotDescriptionError(ValueError):
    """The URDF is missing, malformed or breaks the robot contract."""


@dataclass(frozen=True)
class JointLimits:
    """Limits of one joint in SI units (rad, rad/s, N.m), as written in the URDF."""

    lower: float
    upper: float
    velocity: float
    effort: float

    def contains(self, position: float) -> bool:
        return self.lower <= position <= self.upper


@dataclass(frozen=True)
class RobotDescription:
    name: str
    urdf: str
    limits: dict[str, JointLimits]
    frames: frozenset[str]

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(self.limits)

    def joint(self, name: str) -> JointLimits:
        try:
            return self.limits[name]
        except KeyError:
            raise KeyError(f"unknown joint '{name}'; known joints: {', '.join(self.limits)}") from None


def parse_robot_description(urdf: str) -> RobotDescription:
    """Parse URDF text; every contract joint must be present with complete limits."""
    try:
        root = ET.fromstring(urdf)
    except ET.ParseError as exc:
        raise RobotDescriptionError(f"URDF is not valid XML: {exc}") from exc
    if root.tag != "robot":
        raise RobotDescriptionError(f"URDF root element is <{root.tag}>, expected <robot>")

    limits: dict[str, JointLimits] = {}
    for joint in root.findall("joint"):
        name = joint.get("name", "")
        if joint.get("type") not in ("revolute", "prismatic"):
            continue
        limit = joint.find("limit")
        if limit is None:
            raise RobotDescriptionError(f"joint '{name}' has no <limit>")
        try:
            values = {key: float(limit.attrib[key]) for key in ("lower", "upper", "velocity", "effort")}
        except (KeyError, ValueError) as exc:
            raise RobotDescriptionError(
                f"joint '{name}': <limit> needs numeric lower, upper, velocity, effort ({exc})") from exc
        if not all(math.isfinite(v) for v in values.values()):
            raise RobotDescriptionError(f"joint '{name}': limits must be finite")
        if values["lower"] >= values["upper"] or values["velocity"] <= 0 or values["effort"] <= 0:
            raise RobotDescriptionError(f"joint '{name}': need lower < upper and positive velocity and effort")
        limits[name] = JointLimits(**values)

    missing = [j for j in CONTRACT_JOINTS if j not in limits]
    if missing:
        raise RobotDescriptionError(f"URDF lacks contract joints: {', '.join(missing)}")
    frames = frozenset(link.get("name", "") for link in root.findall("link"))
    needed = [*CAMERA_FRAMES.values(), *FORCE_SENSOR_FRAMES.values(), IMU_FRAME]
    absent = [f for f in needed if f not in frames]
    if absent:
        raise RobotDescriptionError(f"URDF lacks sensor frames: {', '.join(absent)}")
    # Contract order first, so every JointState lists joints the same way.
    ordered = {j: limits[j] for j in CONTRACT_JOINTS}
    ordered.update({j: v for j, v in limits.items() if j not in ordered})
    return RobotDescription(name=root.get("name", ""), urdf=urdf, limits=ordered, frames=frames)


def load_robot_description(path: str | Path) -> RobotDescription:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RobotDescriptionError(f"cannot read URDF {path}: {exc}") from exc
    return parse_robot_description(text)
