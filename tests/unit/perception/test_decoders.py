"""Decoders by model family on hand-made tensors whose right answer is known."""

import numpy as np
import pytest

from embodied_ai.perception.decoders import ModelOutputError, decode_centerface, decode_yolo, non_max_suppression
from embodied_ai.perception.preprocess import letterbox

# Two objects (cx, cy, w, h): class 2 at (100, 80) 40x20, class 0 at (200, 150) 30x30.
OBJECTS = [(100.0, 80.0, 40.0, 20.0, 2), (200.0, 150.0, 30.0, 30.0, 0)]
NUM_CLASSES = 3


def v8_table(extra_duplicate: bool = True) -> np.ndarray:
    """(4 + C, N) like a YOLOv8 export: the two objects, a weaker near-duplicate, background."""
    columns = []
    for cx, cy, w, h, cls in OBJECTS:
        scores = np.zeros(NUM_CLASSES)
        scores[cls] = 0.9
        columns.append([cx, cy, w, h, *scores])
    if extra_duplicate:   # overlaps the first object (IoU ~0.8) with a lower score: NMS must drop it
        columns.append([102.0, 81.0, 40.0, 20.0, 0.0, 0.0, 0.6])
    columns += [[50.0, 50.0, 10.0, 10.0, 0.01, 0.02, 0.03]] * 20   # background below the threshold
    return np.array(columns, dtype=np.float32).T


def expected_boxes() -> np.ndarray:
    return np.array([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] for cx, cy, w, h, _ in OBJECTS])


def sort_by_x(result):
    order = np.argsort(result.boxes[:, 0])
    return result.boxes[order], result.class_ids[order], result.scores[order]


@pytest.mark.parametrize("layout", ["v8", "v11"])
def test_yolo_v8_layout_decodes_boxes_classes_and_suppresses_duplicates(layout):
    result = decode_yolo([v8_table()[None]], layout, NUM_CLASSES, score_threshold=0.25, iou_threshold=0.5)
    boxes, classes, scores = sort_by_x(result)
    np.testing.assert_allclose(boxes, expected_boxes(), atol=1e-4)
    assert classes.tolist() == [2, 0] and scores == pytest.approx([0.9, 0.9])


def test_yolo_v8_transposed_export_decodes_the_same():
    transposed = decode_yolo([v8_table().T[None]], "v8", NUM_CLASSES, 0.25, 0.5)
    np.testing.assert_allclose(sort_by_x(transposed)[0], expected_boxes(), atol=1e-4)


def test_yolo_v5_layout_multiplies_objectness_by_class_score():
    rows = []
    for cx, cy, w, h, cls in OBJECTS:
        scores = np.zeros(NUM_CLASSES)
        scores[cls] = 0.8
        rows.append([cx, cy, w, h, 0.5, *scores])      # 0.5 x 0.8 = 0.4
    rows.append([300.0, 300.0, 20.0, 20.0, 0.2, 0.9, 0.0, 0.0])   # 0.18: under the threshold
    result = decode_yolo([np.array(rows, dtype=np.float32)[None]], "v5", NUM_CLASSES, 0.25, 0.5)
    boxes, classes, scores = sort_by_x(result)
    np.testing.assert_allclose(boxes, expected_boxes(), atol=1e-4)
    assert classes.tolist() == [2, 0] and scores == pytest.approx([0.4, 0.4])


def test_nms_keeps_overlapping_boxes_of_different_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], dtype=np.float32)
    kept = non_max_suppression(boxes, np.array([0.9, 0.8], np.float32), np.array([0, 1]), 0.25, 0.5)
    assert len(kept) == 2
    kept_same_class = non_max_suppression(boxes, np.array([0.9, 0.8], np.float32), np.array([1, 1]), 0.25, 0.5)
    assert len(kept_same_class) == 1 and kept_same_class.scores[0] == pytest.approx(0.9)


@pytest.mark.parametrize("outputs, message", [
    ([np.zeros((1, 8, 100), np.float32)], "expects \\(1, 7, N\\)"),            # 4 classes, not 3
    ([np.zeros((1, 7, 100), np.float32)] * 2, "one output tensor"),
    ([np.zeros((7, 100), np.float32)], "shape \\(1, A, B\\)"),
])
def test_yolo_outputs_that_do_not_fit_the_family_are_refused(outputs, message):
    with pytest.raises(ModelOutputError, match=message):
        decode_yolo(outputs, "v8", NUM_CLASSES, 0.25, 0.5)


def centerface_outputs(grid=(30, 40)):
    heatmap = np.zeros((1, 1, *grid), np.float32)
    scale = np.zeros((1, 2, *grid), np.float32)
    offset = np.zeros((1, 2, *grid), np.float32)
    # A face on cell (row 10, col 20) + offset (0.25, 0.5): centre ((20.5 + 0.5) x 4, (10.25 + 0.5) x 4) = (84, 43) px;
    # 32 tall, 16 wide (CenterFace's sizes are exp(scale) x 4).
    heatmap[0, 0, 10, 20] = 0.95
    heatmap[0, 0, 10, 21] = 0.7    # a neighbouring weaker peak: NMS merges it
    offset[0, :, 10, 20] = (0.25, 0.5)
    scale[0, :, 10, 20] = (np.log(32 / 4), np.log(16 / 4))
    scale[0, :, 10, 21] = (np.log(32 / 4), np.log(16 / 4))
    return [heatmap, scale, offset, np.zeros((1, 10, *grid), np.float32)]


def test_centerface_decodes_a_peak_into_a_face_box():
    result = decode_centerface(centerface_outputs(), score_threshold=0.5, iou_threshold=0.3)
    assert len(result) == 1 and result.scores[0] == pytest.approx(0.95)
    np.testing.assert_allclose(result.boxes[0], [84 - 8, 43 - 16, 84 + 8, 43 + 16], atol=1e-4)


def test_centerface_with_mismatched_outputs_is_refused():
    heatmap, scale, offset, _ = centerface_outputs()
    with pytest.raises(ModelOutputError, match="offset must be"):
        decode_centerface([heatmap, scale, offset[:, :, :5]], 0.5, 0.3)
    with pytest.raises(ModelOutputError, match="heatmap, scale and offset"):
        decode_centerface([heatmap], 0.5, 0.3)


def test_letterbox_maps_boxes_back_to_the_image():
    image = np.zeros((480, 640, 3), np.uint8)
    boxed, transform = letterbox(image, (192, 320))
    assert boxed.shape == (192, 320, 3)
    assert transform.scale_x == pytest.approx(0.4) and transform.pad_x == 32 and transform.pad_y == 0
    # Grey padding on both sides, the image in the middle.
    assert (boxed[:, :32] == 114).all() and (boxed[:, 32:288] == 0).all()
    on_input = np.array([[32 + 40, 10, 32 + 80, 50]], np.float32)
    np.testing.assert_allclose(transform.to_image(on_input), [[100, 25, 200, 125]], atol=1e-4)
