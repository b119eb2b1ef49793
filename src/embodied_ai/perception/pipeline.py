"""The perception pipeline without ROS: latest-frame hand-off, detect, track, locate, on two stages.

``LatestFrame`` is a one-slot mailbox: the subscriber drops a frame in (replacing an older
one that was never processed, and counting it as dropped) and never blocks; the worker takes
the newest frame when it is free. Frames are therefore never queued behind a slow model, and
the executor's callbacks stay microseconds long.

``Perception`` runs one frame through the detector and the tracker and, when the camera pose
is known, places each object on the support plane (for grasp by object id). It has two
stages, ``prepare`` (image checks and preprocessing) and ``finish`` (inference onwards), so
a node can run them on two threads: while the model works on one frame the next one is
prepared, and the model never waits for the CPU-side work.

``TwoStagePipeline`` is the perception node's whole loop: frames (as they came, e.g.
serialised messages, decoded only when their turn comes) → stale check against their capture
stamp → ``prepare`` on one thread → ``finish`` on another → the caller's ``publish``, with the
message each frame came in (its header stamps the detections). It loads the model itself,
retrying every ``model_retry_s``, and reports through a ``ComponentStatus``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Generic, TypeVar

import cv2
import numpy as np

from embodied_ai.diagnostics import Level
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.perception.config import PerceptionConfig
from embodied_ai.perception.detector import Detection, Detector
from embodied_ai.perception.geometry import box_on_table
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.preprocess import InputTransform
from embodied_ai.perception.status import ComponentStatus
from embodied_ai.perception.tracker import IouTracker
from embodied_ai.robot.description import camera_frame
from embodied_ai.robot.kinematics import Kinematics

T = TypeVar("T")
Raw = TypeVar("Raw")          # a frame as it arrives (a serialised message)
Source = TypeVar("Source")    # a frame decoded (the message, whose header the detections keep)

Position = tuple[float, float, float]   # base_link, m
JointPositions = Callable[[], Mapping[str, float] | None]
OVERLAY_COLOURS = [(0, 200, 255), (255, 120, 0), (0, 220, 0), (220, 0, 220), (0, 0, 255), (255, 255, 0)]
TAKE_TIMEOUT_S = 0.5   # how long a stage waits for work before it looks at its stop flag again


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
    position: Position | None     # None when the camera pose is unknown


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
                                None if pose is None else self._place(pose, frame, t.detection)) for t in tracked]

    def process(self, image_bgr: np.ndarray, joint_positions: Mapping[str, float] | None) -> list[PerceivedObject]:
        return self.finish(self.prepare(image_bgr), joint_positions)

    def _place(self, pose: np.ndarray, frame: PreparedFrame, detection: Detection) -> Position | None:
        point = box_on_table(pose, self._scaled_intrinsics(frame.image), detection.box, self.support_z_m,
                             self.centre_height_m)
        return None if point is None else (float(point[0]), float(point[1]), float(point[2]))

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


def load_perception(config: PerceptionConfig, kinematics: Kinematics | None = None) -> Perception:
    """The detector the config names, with a fresh tracker, for ``config.camera``."""
    if not config.model_manifest:
        raise EmbodiedError("parameter model_manifest is empty", ErrorCode.INFERENCE_FAILED)
    detector = Detector.from_manifest(config.model_manifest, config.model_variant or None, config.backend,
                                      [p for p in config.providers if p], config.intra_op_threads)
    return Perception(detector, IouTracker(), kinematics, None, camera_frame(config.camera), config.support_z_m,
                      config.centre_height_m)


def draw_overlay(image: np.ndarray, objects: list[PerceivedObject]) -> np.ndarray:
    """A copy of the frame with each object's box, id, class and score."""
    out = image.copy()
    for obj in objects:
        x1, y1, x2, y2 = (int(round(v)) for v in obj.detection.box)
        colour = OVERLAY_COLOURS[obj.detection.class_id % len(OVERLAY_COLOURS)]
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        label = f"{obj.object_id} {obj.detection.label} {obj.detection.score:.2f}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out


@dataclass
class PipelineStats:
    processed: int = 0
    refused: int = 0                          # frames of a wrong encoding or size
    stale: int = 0                            # frames older than max_frame_age_s when their turn came
    prepared_to_published_ms: float = 0.0     # the last frame's second stage, publishing included


@dataclass(frozen=True)
class Perceived(Generic[Source]):
    source: Source                  # the frame as decoded: its header stamps the detections
    image: np.ndarray
    objects: list[PerceivedObject]


class TwoStagePipeline(Generic[Raw, Source]):
    """``decode`` turns a raw frame into (source, capture stamp in ns since the epoch) and
    ``to_image`` a source into a BGR image (EmbodiedError for one it cannot use: refused)."""

    def __init__(self, load: Callable[[], Perception], decode: Callable[[Raw], tuple[Source, int]],
                 to_image: Callable[[Source], np.ndarray], status: ComponentStatus, max_frame_age_s: float,
                 model_retry_s: float, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.frames: LatestFrame[Raw] = LatestFrame()
        self.stats = PipelineStats()
        self.status = status
        self.perception: Perception | None = None
        self.max_frame_age_ns = int(max_frame_age_s * 1e9)
        self.model_retry_s = model_retry_s
        self._load, self._decode, self._to_image, self._clock_ns = load, decode, to_image, clock_ns
        self._prepared: LatestFrame[tuple[Source, PreparedFrame, float]] = LatestFrame()
        self._intrinsics: CameraIntrinsics | None = None

    def set_intrinsics(self, intrinsics: CameraIntrinsics) -> None:
        self._intrinsics = intrinsics
        if self.perception is not None:
            self.perception.intrinsics = intrinsics

    def load(self) -> bool:
        try:
            perception = self._load()
        except (EmbodiedError, ValueError, ImportError) as exc:
            self.status.set(Level.ERROR, f"model not loaded: {exc}")
            return False
        perception.intrinsics = self._intrinsics
        self.perception = perception
        self.status.set(Level.OK, _ready(perception))
        return True

    def ready_detector(self) -> Detector:
        """The loaded detector (for one-off detections); EmbodiedError while there is none."""
        if self.perception is None:
            raise EmbodiedError(f"no model loaded: {self.status.current.message}", ErrorCode.INFERENCE_FAILED)
        return self.perception.detector

    # -- the two stages: one turn each, and their loops ------------------------------------
    def prepare_next(self, stop: threading.Event, timeout: float = TAKE_TIMEOUT_S) -> None:
        """Newest frame → checked, decoded, preprocessed frame for the second stage."""
        if self.perception is None and not self.load():
            stop.wait(self.model_retry_s)
            return
        raw = self.frames.take(timeout)
        perception = self.perception
        if raw is None or perception is None:
            return
        source, stamp_ns = self._decode(raw)
        if self._clock_ns() - stamp_ns > self.max_frame_age_ns:
            self.stats.stale += 1
            return
        try:
            prepared = perception.prepare(self._to_image(source))
        except EmbodiedError as exc:
            self.stats.refused += 1
            self.status.set(Level.WARN, f"frame refused: {exc}")
            return
        self._prepared.put((source, prepared, time.perf_counter()))

    def finish_next(self, joint_positions: JointPositions, publish: Callable[[Perceived[Source]], None],
                    timeout: float = TAKE_TIMEOUT_S) -> bool:
        """Prepared frame → inference, tracking, placement → ``publish``; False when none came."""
        item = self._prepared.take(timeout)
        perception = self.perception
        if item is None or perception is None:
            return False
        source, prepared, started = item
        publish(Perceived(source, prepared.image, perception.finish(prepared, joint_positions())))
        self.stats.processed += 1
        self.stats.prepared_to_published_ms = (time.perf_counter() - started) * 1000
        if self.status.current.level != Level.OK:
            self.status.set(Level.OK, _ready(perception))
        return True

    def run_prepare(self, stop: threading.Event, running: Callable[[], bool]) -> None:
        while not stop.is_set() and running():
            self.prepare_next(stop)

    def run_finish(self, stop: threading.Event, running: Callable[[], bool], joint_positions: JointPositions,
                   publish: Callable[[Perceived[Source]], None]) -> None:
        while not stop.is_set() and running():
            self.finish_next(joint_positions, publish)

    def diagnostic_values(self) -> dict[str, str]:
        values = {key: f"{value:.1f}" if isinstance(value, float) else str(value)
                  for key, value in asdict(self.stats).items()}
        values.update(received=str(self.frames.received), dropped_while_busy=str(self.frames.dropped))
        return values


def _ready(perception: Perception) -> str:
    return f"model '{perception.detector.manifest.name}' on {perception.detector.backend.name}"
