"""Forward kinematics over the URDF's kinematic tree: where a link (a camera, a gripper) is.

Only what the renderer, the simulated grasp and the reach planner need: each joint's origin
(xyz + rpy), axis and type, composed from ``base_link`` down to a link for given joint
positions. Joint angles missing from the positions count as 0 rad.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from embodied_ai.robot.description import RobotDescriptionError

BASE_LINK = "base_link"


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    kind: str                 # "revolute", "prismatic", "fixed", "continuous"
    parent: str
    child: str
    origin: np.ndarray        # 4x4 transform parent -> joint frame at zero position
    axis: np.ndarray          # unit vector in the joint frame


def _transform(xyz: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = xyz
    return out


def _axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation by ``angle`` about the unit ``axis`` (Rodrigues). Written out because it runs in
    every IK iteration, where building a scipy Rotation per joint costs ten times more."""
    x, y, z = axis
    skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * skew + (1.0 - np.cos(angle)) * (skew @ skew)


def _floats(text: str | None, default: str) -> np.ndarray:
    return np.array([float(v) for v in (text or default).split()], dtype=float)


def _parse_joint(element: ET.Element) -> UrdfJoint:
    origin = element.find("origin")
    xyz = _floats(origin.get("xyz") if origin is not None else None, "0 0 0")
    rpy = _floats(origin.get("rpy") if origin is not None else None, "0 0 0")
    axis_element = element.find("axis")
    axis = _floats(axis_element.get("xyz") if axis_element is not None else None, "1 0 0")
    parent, child = element.find("parent"), element.find("child")
    if parent is None or child is None:
        raise RobotDescriptionError(f"joint '{element.get('name')}' lacks <parent> or <child>")
    # URDF rpy is roll about x, then pitch about y, then yaw about z, in fixed axes.
    rotation = Rotation.from_euler("xyz", rpy).as_matrix()
    return UrdfJoint(
        name=element.get("name", ""), kind=element.get("type", "fixed"),
        parent=parent.get("link", ""), child=child.get("link", ""),
        origin=_transform(xyz, rotation), axis=axis / np.linalg.norm(axis),
    )


class Kinematics:
    """Poses of the URDF's links in ``base_link`` for given joint positions."""

    def __init__(self, urdf: str) -> None:
        try:
            root = ET.fromstring(urdf)
        except ET.ParseError as exc:
            raise RobotDescriptionError(f"URDF is not valid XML: {exc}") from exc
        self._joint_to_child: dict[str, UrdfJoint] = {}
        for element in root.findall("joint"):
            joint = _parse_joint(element)
            self._joint_to_child[joint.child] = joint

    def chain(self, link: str) -> list[UrdfJoint]:
        """The joints from base_link down to ``link``, in order."""
        joints: list[UrdfJoint] = []
        current = link
        while current != BASE_LINK:
            joint = self._joint_to_child.get(current)
            if joint is None:
                raise KeyError(f"link '{link}' is not connected to {BASE_LINK}")
            joints.append(joint)
            current = joint.parent
        return joints[::-1]

    def link_pose(self, link: str, positions: Mapping[str, float]) -> np.ndarray:
        """4x4 transform of ``link`` in base_link."""
        pose = np.eye(4)
        for joint in self.chain(link):
            pose = pose @ joint.origin
            value = float(positions.get(joint.name, 0.0))
            if joint.kind in ("revolute", "continuous"):
                pose = pose @ _transform(np.zeros(3), _axis_rotation(joint.axis, value))
            elif joint.kind == "prismatic":
                pose = pose @ _transform(joint.axis * value, np.eye(3))
        return pose

    def link_position(self, link: str, positions: Mapping[str, float]) -> np.ndarray:
        return self.link_pose(link, positions)[:3, 3]
