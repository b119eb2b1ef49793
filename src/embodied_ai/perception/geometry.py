"""From a box in the image to a point on the table: one camera ray meets a horizontal plane.

With one camera and no depth, a detection's position follows from knowing what it stands
on: the ray through the box centre is cut with the plane ``support_z + centre_height``
(the table top plus roughly half an object's height), all in base_link.
"""

from __future__ import annotations

import numpy as np

from embodied_ai.perception.intrinsics import CameraIntrinsics


def pixel_ray(camera_pose: np.ndarray, intrinsics: CameraIntrinsics, u: float,
              v: float) -> tuple[np.ndarray, np.ndarray]:
    """Origin and unit direction, in base_link, of the ray through pixel (u, v).

    ``camera_pose`` is the optical frame's 4x4 pose in base_link (z forward, x right, y down).
    """
    direction_optical = np.array([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, 1.0])
    direction = camera_pose[:3, :3] @ direction_optical
    return camera_pose[:3, 3].copy(), direction / np.linalg.norm(direction)


def point_on_plane(camera_pose: np.ndarray, intrinsics: CameraIntrinsics, u: float, v: float,
                   plane_z: float) -> np.ndarray | None:
    """Where the ray through (u, v) meets the horizontal plane z = ``plane_z``; None if it never does."""
    origin, direction = pixel_ray(camera_pose, intrinsics, u, v)
    if abs(direction[2]) < 1e-6:
        return None
    distance = (plane_z - origin[2]) / direction[2]
    return origin + distance * direction if distance > 0 else None


def box_on_table(camera_pose: np.ndarray, intrinsics: CameraIntrinsics, box: tuple[float, float, float, float],
                 support_z: float, centre_height: float) -> np.ndarray | None:
    """An object's centre in base_link from its box, assuming it stands on the plane ``support_z``."""
    x1, y1, x2, y2 = box
    return point_on_plane(camera_pose, intrinsics, (x1 + x2) / 2, (y1 + y2) / 2, support_z + centre_height)
