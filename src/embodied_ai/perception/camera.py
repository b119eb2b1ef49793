"""Camera sources: real cameras through OpenCV, and the simulated robot's renderer.

``camera_source(spec, ...)`` reads one string (the camera node's ``source`` parameter):

- ``sim``: the simulated robot's renderer (see ``SimCamera``).
- ``0``, ``/dev/video0``: a V4L2 device by index or path.
- ``rtsp://...``, ``rtsps://...``, ``http(s)://...``: a network stream (FFmpeg back end).
- ``gst:<pipeline>`` or any string containing `` ! ``: a GStreamer pipeline ending in appsink.
  Needs an OpenCV built with GStreamer (JetPack's OpenCV is; the opencv-python wheels are not).
- ``csi:<sensor-id>``: a Jetson CSI camera through ``jetson_csi_pipeline`` (nvarguscamerasrc).
- anything else: a video file, played in a loop.

Every source returns BGR frames stamped at capture (wall-clock nanoseconds taken right after
the frame is grabbed, before decoding) and raises ``CameraError`` when it cannot open or
loses the device. ``CaptureLoop`` is the camera node's capture thread: it reads a source at
its rate and, when the device is missing or lost, reports it, releases it and reopens it
every ``reconnect_period_s`` while the node stays up.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from embodied_ai.control.loop import LoopTimer
from embodied_ai.diagnostics import Level
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.hardware.factory import load_hardware_config, sim_object_from_config, sim_table_from_config
from embodied_ai.hardware.sim import SimObject
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.render import RenderedView, SceneStyle, TabletopRenderer
from embodied_ai.perception.status import ComponentStatus
from embodied_ai.robot import load_robot_description
from embodied_ai.robot.kinematics import Kinematics

# Joint positions that differ by less than this (1e-4 rad, 0.006 degrees) draw the same scene.
SCENE_KEY_DECIMALS = 4


class CameraError(EmbodiedError):
    """A camera could not be opened or stopped delivering frames."""

    code = ErrorCode.HARDWARE_ERROR


@dataclass(frozen=True)
class Frame:
    image: np.ndarray       # BGR uint8
    stamp_ns: int           # wall clock at capture (time.time_ns), as ROS header stamps use


class CameraSource(Protocol):
    description: str

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def close(self) -> None: ...


def jetson_csi_pipeline(sensor_id: int = 0, width: int = 1280, height: int = 720, fps: int = 30,
                        flip_method: int = 0) -> str:
    """The GStreamer pipeline for a Jetson CSI camera (Argus), delivering BGR to OpenCV.

    nvarguscamerasrc captures into NVMM memory as NV12; nvvidconv converts (and flips) on the
    VIC; videoconvert makes BGR for OpenCV; appsink keeps only the newest buffer so a slow
    reader never sees stale frames.
    """
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
        f"framerate=(fraction){fps}/1, format=(string)NV12 ! "
        f"nvvidconv flip-method={flip_method} ! "
        f"video/x-raw, width=(int){width}, height=(int){height}, format=(string)BGRx ! "
        "videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def opencv_has_gstreamer() -> bool:
    match = re.search(r"GStreamer:\s*(\w+)", cv2.getBuildInformation())
    return bool(match and match.group(1).upper() == "YES")


@dataclass(frozen=True)
class SourceSpec:
    kind: str               # "v4l2", "stream", "gstreamer", "file"
    target: str | int

    @classmethod
    def parse(cls, spec: str, width: int, height: int, fps: int) -> "SourceSpec":
        text = spec.strip()
        if re.fullmatch(r"\d+", text):
            return cls("v4l2", int(text))
        if text.startswith("/dev/video"):
            return cls("v4l2", text)
        if re.match(r"(rtsps?|https?)://", text):
            return cls("stream", text)
        if text.startswith("csi:"):
            return cls("gstreamer", jetson_csi_pipeline(int(text[4:] or 0), width, height, fps))
        if text.startswith("gst:"):
            return cls("gstreamer", text[4:].strip())
        if " ! " in text:
            return cls("gstreamer", text)
        return cls("file", text)


class OpenCVCamera:
    """A V4L2 device, network stream, GStreamer pipeline or looping file, read with OpenCV."""

    def __init__(self, spec: str, width: int = 640, height: int = 480, fps: int = 30) -> None:
        self.spec = SourceSpec.parse(spec, width, height, fps)
        self.size = (width, height)
        self.fps = fps
        self.description = f"{self.spec.kind} {self.spec.target}"
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        kind, target = self.spec.kind, self.spec.target
        if kind == "gstreamer" and not opencv_has_gstreamer():
            raise CameraError("this OpenCV build has no GStreamer support (the opencv-python wheels do not); "
                              "use the system OpenCV on a Jetson for GStreamer and CSI cameras")
        if kind == "file" and not Path(str(target)).is_file():
            raise CameraError(f"video file {target} does not exist")
        api = {"v4l2": cv2.CAP_V4L2, "stream": cv2.CAP_FFMPEG, "gstreamer": cv2.CAP_GSTREAMER}.get(kind, cv2.CAP_ANY)
        capture = cv2.VideoCapture(target, api)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"cannot open camera {self.description}")
        if kind == "v4l2":
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
            capture.set(cv2.CAP_PROP_FPS, self.fps)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)   # the newest frame, not a queue of old ones
        self._capture = capture

    def read(self) -> Frame:
        capture = self._capture
        if capture is None:
            raise CameraError(f"camera {self.description} is not open")
        grabbed = capture.grab()
        if not grabbed and self.spec.kind == "file":
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)   # loop the file
            grabbed = capture.grab()
        stamp_ns = time.time_ns()
        ok, image = capture.retrieve() if grabbed else (False, None)
        if not ok or image is None:
            raise CameraError(f"no frame from camera {self.description} (device lost?)")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        return Frame(image, stamp_ns)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class SimCamera:
    """The simulated robot's camera: renders the tabletop from the latest joint positions.

    ``positions`` returns the newest joint positions (from /joint_states in the node) or None
    before any arrived; ``objects`` returns the scene's objects as the simulator has them.
    """

    def __init__(self, renderer: TabletopRenderer, camera_link: str,
                 positions: Callable[[], Mapping[str, float] | None],
                 objects: Callable[[], Sequence[SimObject]], style: SceneStyle = SceneStyle(), seed: int = 0) -> None:
        self.renderer = renderer
        self.camera_link = camera_link
        self.description = f"simulated {camera_link}"
        self._positions = positions
        self._objects = objects
        self._style = style
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._scene: RenderedView | None = None
        self._scene_key: object = None
        self.scenes_drawn = 0   # how often the geometry was drawn (the rest reused it)

    def open(self) -> None:
        pass

    def read(self) -> Frame:
        positions = self._positions()
        if positions is None:
            raise CameraError("simulated camera: no joint positions yet "
                              "(is the servo controller publishing joint_states?)")
        stamp_ns = time.time_ns()   # the scene as of these joint positions
        objects = self._objects()
        # A robot at rest sees the same scene frame after frame: its geometry is drawn again only
        # when a joint or an object moved; the sensor noise is fresh in every frame.
        key = (tuple(sorted((j, round(p, SCENE_KEY_DECIMALS)) for j, p in positions.items())),
               tuple((o.object_id, o.in_gripper, o.table_xy) for o in objects))
        with self._lock:
            if key != self._scene_key or self._scene is None:
                self._scene = self.renderer.render_scene(self.camera_link, positions, objects, self._style)
                self._scene_key = key
                self.scenes_drawn += 1
            view = self.renderer.camera_effects(self._scene, self._style, self._rng)
        return Frame(view.image, stamp_ns)

    def close(self) -> None:
        pass


class SimScene:
    """The simulator's objects as a camera process knows them: their appearance from the sim
    config; which gripper holds what, and where table objects stand, from sim/objects."""

    def __init__(self, objects: Sequence[SimObject]) -> None:
        self._objects = {o.object_id: o for o in objects}
        self._lock = threading.Lock()

    def objects(self) -> list[SimObject]:
        with self._lock:
            return list(self._objects.values())

    def update(self, ids: Sequence[int], holders: Sequence[str], table_xy: Sequence[tuple[float, float]]) -> None:
        """One sim/objects report: per object, its holder ("l", "r", or "" on the table) and table x, y."""
        with self._lock:
            for object_id, holder, xy in zip(ids, holders, table_xy):
                obj = self._objects.get(object_id)
                if obj is None:
                    continue
                obj.in_gripper = holder or None
                obj.table_xy = None if holder else (float(xy[0]), float(xy[1]))


def simulated_camera(robot_description_file: str, hardware_config_file: str, intrinsics: CameraIntrinsics,
                     camera_link: str, positions: Callable[[], Mapping[str, float] | None],
                     ) -> tuple[SimCamera, SimScene]:
    """A camera of the simulated robot, and the scene it draws (to be kept up to date from sim/objects)."""
    description = load_robot_description(robot_description_file)
    config = load_hardware_config(hardware_config_file)
    scene = SimScene([sim_object_from_config(o) for o in config.get("objects", [])])
    renderer = TabletopRenderer(Kinematics(description.urdf), sim_table_from_config(config.get("table") or {}),
                                intrinsics)
    return SimCamera(renderer, camera_link, positions, scene.objects, seed=int(config.get("seed", 0))), scene


class CaptureLoop:
    """Reads ``source`` at ``rate_hz``, handing each frame to ``publish``; a source that cannot
    open or stops delivering is reported in ``status`` (ERROR), closed, and reopened every
    ``reconnect_period_s``. Frames are paced, never burst to catch up after a slow read."""

    def __init__(self, source: CameraSource, rate_hz: float, reconnect_period_s: float,
                 status: ComponentStatus) -> None:
        self.source = source
        self.rate_hz = rate_hz
        self.reconnect_period_s = reconnect_period_s
        self.status = status
        self.frames = 0

    def run(self, stop: threading.Event, running: Callable[[], bool], publish: Callable[[Frame], None]) -> None:
        opened = False
        timer = LoopTimer(self.rate_hz, max_lag_s=0.0)
        while not stop.is_set() and running():
            try:
                if not opened:
                    self.source.open()
                    opened = True
                    self.status.set(Level.OK, f"streaming from {self.source.description}")
                publish(self.source.read())
                self.frames += 1
            except CameraError as exc:
                # A lost or missing device: say so, let it go, try again later.
                self.status.set(Level.ERROR, str(exc))
                self.source.close()
                opened = False
                stop.wait(self.reconnect_period_s)
                timer.restart()
                continue
            stop.wait(timer.next_delay())
