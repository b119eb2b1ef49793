"""Reading text in an image (signs, labels): RapidOCR's PP-OCRv4 detector and recogniser on ONNX Runtime.

rapidocr_onnxruntime (Apache-2.0) ships its three ONNX models in the wheel, so nothing is downloaded.
It is installed without its dependencies (requirements/no-deps.txt): it asks for opencv-python, which
would clash with the project's opencv-python-headless (both provide ``cv2``); its real needs (pyclipper,
shapely, six) are pinned in requirements/runtime.txt. ``read_text`` creates one engine per process on
first use (about 0.3 s), so a process that never reads text never pays for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from embodied_ai.perception.detector import check_image
from embodied_ai.perception.runtime import ModelLoadError

# RapidOCR's own default: below it a line is mostly a misread of texture or a fragment.
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float                  # the recogniser's mean character probability, 0..1
    box: tuple[int, int, int, int]     # x, y, width, height in image pixels (axis-aligned, inside the image)


_engine: Any = None
_engine_lock = threading.Lock()   # guards the creation of the engine
_read_lock = threading.Lock()     # RapidOCR's pipeline keeps per-call state on itself: one read at a time


def shared_engine() -> Any:
    """The process's RapidOCR engine, created on first use (ModelLoadError if rapidocr is not installed)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise ModelLoadError("text extraction needs rapidocr_onnxruntime; install it with scripts/setup.sh "
                                     f"(requirements/no-deps.txt): {exc}") from exc
            # Its own score filter is off (0): read_text applies the caller's minimum.
            _engine = RapidOCR(text_score=0.0, print_verbose=False)
        return _engine


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom, then left to right within a row. Two lines share a row when their vertical centres
    are closer than half the shorter one's height (a sign's words are detected a pixel or two apart)."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda t: t.box[1] + t.box[3] / 2):
        centre = line.box[1] + line.box[3] / 2
        if rows:
            last = rows[-1][-1]
            if abs(centre - (last.box[1] + last.box[3] / 2)) < min(line.box[3], last.box[3]) / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda t: t.box[0])]


def pixel_box(corners: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """The axis-aligned x, y, width, height around a detection's four corners, clipped to the image."""
    points = np.asarray(corners, dtype=np.float64).reshape(-1, 2)
    left = int(np.clip(np.floor(points[:, 0].min()), 0, width - 1))
    top = int(np.clip(np.floor(points[:, 1].min()), 0, height - 1))
    right = int(np.clip(np.ceil(points[:, 0].max()), left + 1, width))
    bottom = int(np.clip(np.ceil(points[:, 1].max()), top + 1, height))
    return left, top, right - left, bottom - top


def read_text(image_rgb: np.ndarray, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[TextLine]:
    """The lines of text in an HxWx3 uint8 RGB image whose confidence is at least ``min_confidence`` (0..1),
    in reading order; none for an image without text. Takes 0.3-1 s on a CPU for a camera frame."""
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in 0..1, got {min_confidence}")
    check_image(image_rgb)
    engine = shared_engine()
    height, width = image_rgb.shape[:2]
    with _read_lock:
        found, _timings = engine(np.ascontiguousarray(image_rgb[:, :, ::-1]))  # it takes BGR arrays
    lines = [TextLine(str(text).strip(), float(score), pixel_box(corners, width, height))
             for corners, text, score in found or [] if float(score) >= min_confidence and str(text).strip()]
    return reading_order(lines)
