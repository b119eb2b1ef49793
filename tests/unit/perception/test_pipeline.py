"""The perception node's two-stage pipeline without ROS, on the shipped tabletop model and the
simulated head camera: stamps kept, stale and bad frames counted, a model that cannot load
reported, and the overlay."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from embodied_ai.diagnostics import Level, Status
from embodied_ai.errors import ErrorCode
from embodied_ai.hardware.factory import create_hardware, load_hardware_config
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.perception.config import PerceptionConfig
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.pipeline import Perceived, Perception, TwoStagePipeline, draw_overlay, load_perception
from embodied_ai.perception.render import TabletopRenderer
from embodied_ai.perception.status import ComponentStatus
from tests.conftest import REPO

HEAD = "head_camera_optical_frame"
MANIFEST = REPO / "models" / "tabletop" / "manifest.yaml"
INTRINSICS = CameraIntrinsics.from_fov(640, 480, 90)
Frame = tuple[np.ndarray, int]   # (image, capture stamp in ns): stands in for a serialised Image


@pytest.fixture(scope="module")
def scene(description) -> tuple[SimulatedRobot, np.ndarray]:
    sim = create_hardware("sim", description, load_hardware_config(REPO / "launch" / "hardware_sim.yaml"))
    assert isinstance(sim, SimulatedRobot)
    image = TabletopRenderer(sim.kinematics, sim.table, INTRINSICS).render(HEAD, sim.positions, sim.objects).image
    return sim, image


class Statuses:
    def __init__(self) -> None:
        self.seen: list[tuple[Level, str, bool]] = []

    def __call__(self, status: Status, level_changed: bool) -> None:
        self.seen.append((status.level, status.message, level_changed))


def pipeline(load: Callable[[], Perception], statuses: Statuses, max_frame_age_s: float = 1.0,
             ) -> TwoStagePipeline[Frame, Frame]:
    status = ComponentStatus("perception: detector", Level.WARN, "loading the model", HEAD, statuses)
    return TwoStagePipeline(load, lambda frame: (frame, frame[1]), lambda frame: frame[0], status, max_frame_age_s,
                            model_retry_s=0.0)


def tabletop(sim: SimulatedRobot) -> Callable[[], Perception]:
    config = PerceptionConfig(model_manifest=str(MANIFEST), providers=["CPUExecutionProvider"], intra_op_threads=1)
    return lambda: load_perception(config, sim.kinematics)


def run_once(stages: TwoStagePipeline[Frame, Frame], frame: Frame, positions: dict | None) -> list[Perceived]:
    """One turn of each stage: what was published."""
    published: list[Perceived] = []
    stages.frames.put(frame)
    stages.prepare_next(threading.Event(), timeout=0)
    stages.finish_next(lambda: positions, published.append, timeout=0)
    return published


def confirmed(stages: TwoStagePipeline[Frame, Frame], image: np.ndarray, positions: dict | None) -> Perceived:
    """The second frame's result: the tracker reports an object once it saw it twice."""
    run_once(stages, (image, time.time_ns()), positions)
    [perceived] = run_once(stages, (image, time.time_ns()), positions)
    return perceived


def test_a_frame_goes_through_both_stages_with_its_stamp_and_objects_placed(scene):
    sim, image = scene
    statuses = Statuses()
    stages = pipeline(tabletop(sim), statuses)
    stages.set_intrinsics(INTRINSICS)
    run_once(stages, (image, time.time_ns()), sim.positions)
    frame = (image, time.time_ns())
    [perceived] = run_once(stages, frame, sim.positions)
    assert perceived.source is frame and perceived.image is image
    assert {o.detection.label for o in perceived.objects} >= {"cube", "ball", "can"}
    for obj in perceived.objects:   # on the table in base_link (launch/hardware_sim.yaml: top at 0.30 m)
        assert obj.position is not None and 0.2 < obj.position[0] < 0.7 and 0.3 < obj.position[2] < 0.4
    assert statuses.seen[0][:2] == (Level.OK, "model 'tabletop' on onnxruntime:CPUExecutionProvider")
    assert stages.diagnostic_values()["processed"] == "2" and stages.stats.refused == stages.stats.stale == 0


def test_without_joint_positions_or_intrinsics_objects_have_no_position(scene):
    sim, image = scene
    stages = pipeline(tabletop(sim), Statuses())
    perceived = confirmed(stages, image, sim.positions)   # no camera_info yet
    assert perceived.objects and all(o.position is None for o in perceived.objects)
    stages.set_intrinsics(INTRINSICS)
    [perceived] = run_once(stages, (image, time.time_ns()), None)   # no joint_states yet
    assert all(o.position is None for o in perceived.objects)


def test_stale_frames_are_dropped_and_counted(scene):
    sim, image = scene
    stages = pipeline(tabletop(sim), Statuses(), max_frame_age_s=1.0)
    assert run_once(stages, (image, time.time_ns() - 2_000_000_000), sim.positions) == []
    assert stages.stats.stale == 1 and stages.stats.processed == 0


def test_a_frame_it_cannot_use_is_refused_and_reported_while_the_next_one_is_processed(scene):
    sim, image = scene
    statuses = Statuses()
    stages = pipeline(tabletop(sim), statuses)
    assert run_once(stages, (image[:, :, 0].copy(), time.time_ns()), sim.positions) == []
    assert stages.stats.refused == 1 and statuses.seen[-1][:2] == (Level.WARN, "frame refused: expected an HxWx3 "
                                                                               "colour image, got shape (480, 640)")
    assert run_once(stages, (image, time.time_ns()), sim.positions)
    assert statuses.seen[-1][0] is Level.OK and statuses.seen[-1][2]   # back to OK: reported at once


def test_a_model_that_cannot_load_is_reported_and_detect_refused(tmp_path):
    statuses = Statuses()
    config = PerceptionConfig(model_manifest=str(tmp_path / "missing.yaml"))
    stages = pipeline(lambda: load_perception(config), statuses)
    stages.prepare_next(threading.Event(), timeout=0)
    level, message, level_changed = statuses.seen[-1]
    assert level is Level.ERROR and message.startswith("model not loaded: ") and "missing.yaml" in message
    assert level_changed and stages.perception is None
    with pytest.raises(Exception, match="no model loaded: model not loaded") as refused:
        stages.ready_detector()
    assert refused.value.code is ErrorCode.INFERENCE_FAILED


def test_an_empty_manifest_parameter_is_a_clear_error():
    with pytest.raises(Exception, match="parameter model_manifest is empty"):
        load_perception(PerceptionConfig())


def test_the_overlay_draws_each_object_on_a_copy(scene):
    sim, image = scene
    stages = pipeline(tabletop(sim), Statuses())
    perceived = confirmed(stages, image, None)
    before = image.copy()
    overlay = draw_overlay(image, perceived.objects)
    assert np.array_equal(image, before) and overlay.shape == image.shape
    x1, y1, _, _ = (int(round(v)) for v in perceived.objects[0].detection.box)
    assert not np.array_equal(overlay[y1, x1], image[y1, x1])   # the box's corner is drawn


def test_camera_info_without_a_calibration_gives_no_intrinsics():
    assert CameraIntrinsics.from_camera_info(640, 480, [0.0] * 9) is None
    k = INTRINSICS
    assert CameraIntrinsics.from_camera_info(640, 480, [k.fx, 0, k.cx, 0, k.fy, k.cy, 0, 0, 1]) == INTRINSICS
