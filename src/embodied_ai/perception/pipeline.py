"""The perception pipeline without ROS: latest-frame hand-off, detect, track, locate.

``LatestFrame`` is a one-slot mailbox: the subscriber drops a frame in (replacing an older
one that was never processed, and counting it as dropped) and never blocks; the worker takes
the newest frame when it is free. Frames are therefore never queued behind a slow model, and
the executor's callbacks stay microseconds long.

``Perception`` runs one frame through the detector and the tracker and, when the camera pose
is known, places each object on the support plane (for grasp by object id). It has two
stages, ``prepare`` (image checks and preprocessing) and ``finish`` (inference onwards), so
a node can run them on two threads: while the model works on one frame the next one is
prepared, and the model never waits for the CPU-side work.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from embodied_ai.perception.detector import Detection, Detector
from embodied_ai.perception.geometry import box_on_table
from embodied_ai.perception.preprocess import InputTransform
from embodied_ai.perception.render import CameraIntrinsics
from embodied_ai.perception.tracker import IouTracker
from embodied_ai.robot.kinematics import Kinematics

T = TypeVar("T")


class LatestFrame(Generic[T]):
    """A one-slot mailbox that keeps only the newest item."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = threading.Condition()
        self.received = 0
        self.dropped = 0       # items replaced before anyone took them (stale frames)

    def put(self, item: T) -> None:
        with self._ready:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self.received += 1
            self._ready.notify()

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item (removing it), waiting up to ``timeout`` s; None if none came."""
        with self._ready:
            if self._item is None:
                self._ready.wait(timeout)
            item, self._item = self._item, None
            return item


@dataclass(frozen=True)
class PreparedFrame:
    image: np.ndarray             # BGR, as received
    tensor: np.ndarray            # the network input
    transform: InputTransform     # network input -> image pixels


@dataclass(frozen=True)
class PerceivedObject:
    object_id: int
    detection: Detection
    position: np.ndarray | None      # base_link, m; None when the camera pose is unknown


@dataclass
class Perception:
    """Detector + tracker + placement on the table, for one camera."""

    detector: Detector
    tracker: IouTracker = field(default_factory=IouTracker)
    kinematics: Kinematics | None = None
    intrinsics: CameraIntrinsics | None = None
    camera_link: str = "head_camera_optical_frame"
    support_z_m: float = 0.30        # the table top in base_link
    centre_height_m: float = 0.03    # roughly half an object's height

    def prepare(self, image_bgr: np.ndarray) -> PreparedFrame:
        """The first stage (CPU: checks, resize, layout); may run beside ``finish`` of the previous frame."""
        tensor, transform = self.detector.preprocess(image_bgr)
        return PreparedFrame(image_bgr, tensor, transform)

    def finish(self, frame: PreparedFrame, joint_positions: Mapping[str, float] | None) -> list[PerceivedObject]:
        """The second stage: inference, decoding, tracking, placement on the table."""
        detections = self.detector.decode(self.detector.infer(frame.tensor), frame.transform)
        tracked = self.tracker.update(detections)
        pose = self._camera_pose(frame.image, joint_positions)
        return [PerceivedObject(t.track_id, t.detection,
                                None if pose is None else box_on_table(pose, self._scaled_intrinsics(frame.image),
                                                                       t.detection.box, self.support_z_m,
                                                                       self.centre_height_m))
                for t in tracked]

    def process(self, image_bgr: np.ndarray, joint_positions: Mapping[str, float] | None) -> list[PerceivedObject]:
        return self.finish(self.prepare(image_bgr), joint_positions)

    def _camera_pose(self, image: np.ndarray, joint_positions: Mapping[str, float] | None) -> np.ndarray | None:
        if self.kinematics is None or self.intrinsics is None or joint_positions is None:
            return None
        return self.kinematics.link_pose(self.camera_link, joint_positions)

    def _scaled_intrinsics(self, image: np.ndarray) -> CameraIntrinsics:
        """The intrinsics for this image's size (a camera may publish a different resolution)."""
        assert self.intrinsics is not None
        k = self.intrinsics
        height, width = image.shape[:2]
        if (width, height) == (k.width, k.height):
            return k
        sx, sy = width / k.width, height / k.height
        return CameraIntrinsics(width, height, k.fx * sx, k.fy * sy, k.cx * sx, k.cy * sy)
