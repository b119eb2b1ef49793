"""Turn a model family's raw output tensors into detections (boxes in network-input pixels).

Families and their export layouts:

- YOLO ``v5``: one output (1, N, 5 + C): cx, cy, w, h, objectness, C class scores
  (sigmoid already applied in the export); score = objectness x class score.
- YOLO ``v8`` and ``v11``: one output (1, 4 + C, N): cx, cy, w, h, C class scores (no
  objectness). Some exports are transposed to (1, N, 4 + C); the decoder accepts both,
  telling them apart by which axis has 4 + C entries.
- CenterFace: four outputs: heatmap (1, 1, H/4, W/4), scale (1, 2, ...), offset (1, 2, ...),
  landmarks (1, 10, ...); a face is a heatmap peak, its size exp(scale) x 4.

Overlapping boxes are suppressed with OpenCV's per-class NMS (cv2.dnn.NMSBoxesBatched).
A tensor that does not fit its family raises ``ModelOutputError`` with what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from embodied_ai.errors import EmbodiedError, ErrorCode

YOLO_LAYOUTS = ("v5", "v8", "v11")
CENTERFACE_STRIDE = 4


class ModelOutputError(EmbodiedError):
    """A model's outputs do not match what its family's decoder expects."""

    code = ErrorCode.INFERENCE_FAILED


@dataclass(frozen=True)
class RawDetections:
    """Decoded, suppressed detections in network-input pixels."""

    boxes: np.ndarray       # (N, 4) float32 x1 y1 x2 y2
    scores: np.ndarray      # (N,) float32
    class_ids: np.ndarray   # (N,) int64

    @classmethod
    def empty(cls) -> "RawDetections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                        score_threshold: float, iou_threshold: float, max_detections: int = 300) -> RawDetections:
    """Per-class NMS over x1 y1 x2 y2 boxes (OpenCV's implementation)."""
    keep_mask = scores >= score_threshold
    boxes, scores, class_ids = boxes[keep_mask], scores[keep_mask], class_ids[keep_mask]
    if len(scores) == 0:
        return RawDetections.empty()
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), class_ids.tolist(),
                                   score_threshold, iou_threshold)
    keep = np.asarray(kept, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-scores[keep])][:max_detections]
    return RawDetections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32),
                         class_ids[keep].astype(np.int64))


def _cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    half = cxcywh[:, 2:4] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def _single_output(outputs: Sequence[np.ndarray], family: str) -> np.ndarray:
    if len(outputs) != 1:
        raise ModelOutputError(f"{family} expects one output tensor, the model has {len(outputs)}")
    tensor = np.asarray(outputs[0])
    if tensor.ndim != 3 or tensor.shape[0] != 1:
        raise ModelOutputError(f"{family} expects an output of shape (1, A, B), got {tuple(tensor.shape)}")
    return tensor[0]


def decode_yolo(outputs: Sequence[np.ndarray], layout: str, num_classes: int,
                score_threshold: float, iou_threshold: float) -> RawDetections:
    """Decode a YOLO export (see the module docstring for the layouts)."""
    if layout not in YOLO_LAYOUTS:
        raise ValueError(f"unknown YOLO layout '{layout}'; one of {', '.join(YOLO_LAYOUTS)}")
    table = _single_output(outputs, f"YOLO {layout}")
    if layout == "v5":
        width = 5 + num_classes
        if table.shape[1] != width:
            raise ModelOutputError(f"YOLO v5 with {num_classes} classes expects (1, N, {width}), "
                                   f"got (1, {table.shape[0]}, {table.shape[1]})")
        class_scores = table[:, 5:] * table[:, 4:5]
    else:
        width = 4 + num_classes
        if table.shape[0] == width:
            table = table.T                      # (4 + C, N) → (N, 4 + C), the usual export
        elif table.shape[1] != width:
            raise ModelOutputError(f"YOLO {layout} with {num_classes} classes expects (1, {width}, N) or "
                                   f"(1, N, {width}), got (1, {table.shape[0]}, {table.shape[1]})")
        class_scores = table[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(class_ids)), class_ids]
    return non_max_suppression(_cxcywh_to_xyxy(table[:, :4]), scores, class_ids, score_threshold, iou_threshold)


def decode_centerface(outputs: Sequence[np.ndarray], score_threshold: float, iou_threshold: float) -> RawDetections:
    """Decode CenterFace's heatmap/scale/offset(/landmarks) outputs into face boxes."""
    if len(outputs) < 3:
        raise ModelOutputError(f"CenterFace expects heatmap, scale and offset outputs, the model has {len(outputs)}")
    heatmap, scale, offset = (np.asarray(o) for o in outputs[:3])
    if heatmap.ndim != 4 or heatmap.shape[:2] != (1, 1):
        raise ModelOutputError(f"CenterFace heatmap must be (1, 1, h, w), got {tuple(heatmap.shape)}")
    grid = heatmap.shape[2:]
    for name, tensor in (("scale", scale), ("offset", offset)):
        if tensor.shape != (1, 2, *grid):
            raise ModelOutputError(f"CenterFace {name} must be (1, 2, {grid[0]}, {grid[1]}), got {tuple(tensor.shape)}")
    rows, cols = np.nonzero(heatmap[0, 0] > score_threshold)
    if len(rows) == 0:
        return RawDetections.empty()
    scores = heatmap[0, 0, rows, cols]
    height = np.exp(scale[0, 0, rows, cols]) * CENTERFACE_STRIDE
    width = np.exp(scale[0, 1, rows, cols]) * CENTERFACE_STRIDE
    centre_y = (rows + offset[0, 0, rows, cols] + 0.5) * CENTERFACE_STRIDE
    centre_x = (cols + offset[0, 1, rows, cols] + 0.5) * CENTERFACE_STRIDE
    boxes = np.stack([centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2], axis=1)
    return non_max_suppression(boxes, scores, np.zeros(len(scores), np.int64), score_threshold, iou_threshold)
