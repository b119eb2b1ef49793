"""The shipped tabletop detector on freshly rendered scenes it has never seen, the tracker's
ids across frames, the latest-frame mailbox, and the training recipe on a tiny configuration."""

import subprocess
import sys

import numpy as np
import onnx
import pytest

from embodied_ai.hardware.factory import create_hardware, load_hardware_config
from embodied_ai.perception.detector import Detection, Detector
from embodied_ai.perception.evaluation import mean_average_precision
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.manifest import load_manifest
from embodied_ai.perception.pipeline import LatestFrame
from embodied_ai.perception.render import TabletopRenderer
from embodied_ai.perception.synthetic import random_scene, render_scene
from embodied_ai.perception.tracker import IouTracker
from embodied_ai.robot.kinematics import Kinematics
from tests.conftest import REPO

MANIFEST = REPO / "models" / "tabletop" / "manifest.yaml"
HEAD = "head_camera_optical_frame"
# Seeds 0-2 made the training, held-out and calibration sets; these scenes are new to the model.
FRESH_SEED = 2026
FRESH_FRAMES = 80


@pytest.fixture(scope="module")
def fresh_views(description):
    kinematics = Kinematics(description.urdf)
    intrinsics = CameraIntrinsics.from_fov(640, 480, 90)
    rng = np.random.default_rng(FRESH_SEED)
    return [render_scene(kinematics, intrinsics, random_scene(rng), HEAD, rng) for _ in range(FRESH_FRAMES)]


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_the_shipped_detector_reaches_map50_of_0_8_on_unseen_rendered_scenes(fresh_views, variant):
    # COCO/YOLO practice: mAP scores every box down to a low score, not just those over the deployed threshold.
    detector = Detector.from_manifest(MANIFEST, variant, providers=["CPUExecutionProvider"], score_threshold=0.01)
    result = mean_average_precision(fresh_views, detector.detect, detector.classes)
    assert result.objects > 100
    assert result.map50 >= 0.8, result


def test_the_shipped_model_is_small_and_its_manifest_complete():
    ref = load_manifest(MANIFEST)
    manifest = ref.manifest
    assert manifest.family == "yolo" and manifest.layout == "v8" and manifest.classes == ["cube", "ball", "can"]
    assert manifest.licence.startswith("Apache-2.0")
    for variant in manifest.files:
        path = ref.verify(variant)   # the checksum matches
        assert path.stat().st_size < 8 * 1024 * 1024
        assert onnx.load(str(path)).ir_version == 10
    assert manifest.metrics["map50_fp32"] >= 0.8


def test_tracked_ids_stay_with_their_objects_while_the_head_moves(description):
    sim = create_hardware("sim", description, load_hardware_config(REPO / "launch" / "hardware_sim.yaml"))
    renderer = TabletopRenderer(sim.kinematics, sim.table, CameraIntrinsics.from_fov(640, 480, 90))
    detector = Detector.from_manifest(MANIFEST, providers=["CPUExecutionProvider"])
    tracker = IouTracker()
    rng = np.random.default_rng(1)
    ids_by_label: dict[str, set[int]] = {}
    for step in range(12):   # a slow pan: the boxes slide a few pixels per frame
        positions = {**sim.positions, "head_pan": 0.004 * step}
        for tracked in tracker.update(detector.detect(renderer.render(HEAD, positions, sim.objects, rng=rng).image)):
            ids_by_label.setdefault(tracked.detection.label, set()).add(tracked.track_id)
    assert {label: len(ids) for label, ids in ids_by_label.items()} == {"cube": 1, "ball": 1, "can": 1}


def detection(box, class_id=0, score=0.9):
    return Detection(tuple(float(v) for v in box), score, class_id, "x")


def test_tracker_confirms_after_two_frames_and_forgets_after_misses():
    tracker = IouTracker(confirm_frames=2, max_missed=2)
    assert tracker.update([detection((0, 0, 10, 10))]) == []          # seen once: no id yet
    first = tracker.update([detection((1, 0, 11, 10))])
    assert [t.track_id for t in first] == [1]
    for _ in range(3):
        tracker.update([])
    assert tracker.update([detection((1, 0, 11, 10))]) == []           # forgotten: a new track
    assert [t.track_id for t in tracker.update([detection((1, 0, 11, 10))])] == [2]


def test_tracker_never_matches_across_classes():
    tracker = IouTracker(confirm_frames=1)
    assert [t.track_id for t in tracker.update([detection((0, 0, 10, 10), class_id=0)])] == [1]
    assert [t.track_id for t in tracker.update([detection((0, 0, 10, 10), class_id=1)])] == [2]


def test_the_mailbox_keeps_only_the_newest_frame_and_counts_the_dropped():
    mailbox: LatestFrame[int] = LatestFrame()
    for frame in range(5):
        mailbox.put(frame)
    assert mailbox.take(timeout=0) == 4
    assert mailbox.take(timeout=0.01) is None
    assert (mailbox.received, mailbox.dropped) == (5, 4)


def test_the_training_recipe_runs_end_to_end_on_a_tiny_configuration(tmp_path):
    """Render, train a few steps, export, quantise, evaluate, write manifest and card: every stage runs."""
    recipe = REPO / "models" / "tabletop" / "train.py"
    completed = subprocess.run([sys.executable, str(recipe), "--tiny", "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert '"map50_fp32"' in completed.stdout
    for variant in ("fp32", "int8"):
        detector = Detector.from_manifest(tmp_path / "manifest.yaml", variant, providers=["CPUExecutionProvider"])
        assert detector.detect(np.zeros((480, 640, 3), np.uint8)) is not None
    int8_ops = {node.op_type for node in onnx.load(str(tmp_path / "tabletop_int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= int8_ops
    assert "mAP@0.5" in (tmp_path / "MODEL_CARD.md").read_text()
