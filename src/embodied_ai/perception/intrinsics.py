"""A camera's intrinsics, apart from the renderer so that code that only reads or writes
camera_info (the REST bridge) does not load OpenCV."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """A pinhole camera without distortion (what camera_info publishes)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, horizontal_fov_deg: float) -> "CameraIntrinsics":
        focal = (width / 2) / math.tan(math.radians(horizontal_fov_deg) / 2)
        return cls(width, height, focal, focal, (width - 1) / 2, (height - 1) / 2)

    @classmethod
    def from_camera_info(cls, width: int, height: int, k: Sequence[float]) -> "CameraIntrinsics | None":
        """From camera_info's size and row-major K; None while the camera is uncalibrated (zeros)."""
        if not (width and height and k[0] > 0 and k[4] > 0):
            return None
        return cls(width, height, k[0], k[4], k[2], k[5])

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])
