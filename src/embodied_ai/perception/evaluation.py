"""Detection quality: COCO-style mAP at IoU 0.5 with pycocotools, on rendered frames.

The ground truth is what the renderer says is visible (``RenderedView.boxes``); the
predictions are whatever the detector returns for the same images.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from embodied_ai.perception.detector import Detection
from embodied_ai.perception.render import RenderedView


@dataclass(frozen=True)
class MapResult:
    map50: float                     # mean over classes of AP at IoU 0.5
    per_class: dict[str, float]      # AP at IoU 0.5 per class (nan: no ground truth of that class)
    images: int
    objects: int


def mean_average_precision(views: Sequence[RenderedView], detect: Callable[[np.ndarray], list[Detection]],
                           classes: Sequence[str]) -> MapResult:
    """Run ``detect`` on every view's image and score it against the view's boxes."""
    class_index = {name: i for i, name in enumerate(classes)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for image_id, view in enumerate(views, start=1):
        height, width = view.image.shape[:2]
        images.append({"id": image_id, "width": width, "height": height})
        for box in view.boxes:
            x1, y1, x2, y2 = box.box
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": class_index[box.shape] + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for detection in detect(view.image):
            x1, y1, x2, y2 = detection.box
            results.append({"image_id": image_id, "category_id": detection.class_id + 1,
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": detection.score})
    ground_truth = COCO()
    ground_truth.dataset = {"images": images, "annotations": annotations,
                            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(classes)]}
    with contextlib.redirect_stdout(io.StringIO()):   # pycocotools prints progress
        ground_truth.createIndex()
        if not results:
            return MapResult(0.0, dict.fromkeys(classes, 0.0), len(images), len(annotations))
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    # precision[T, R, K, A, M]: IoU threshold 0 is 0.5, area range 0 is "all", max-dets index 2 is 100.
    precision = evaluation.eval["precision"][0, :, :, 0, 2]
    per_class = {}
    for k, name in enumerate(classes):
        valid = precision[:, k][precision[:, k] > -1]
        per_class[name] = float(valid.mean()) if valid.size else float("nan")
    scored = [v for v in per_class.values() if not np.isnan(v)]
    return MapResult(float(np.mean(scored)) if scored else 0.0, per_class, len(images), len(annotations))
