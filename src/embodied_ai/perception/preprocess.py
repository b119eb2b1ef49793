"""Image → input tensor: letterbox (YOLO), plain resize (CenterFace), and the way back.

Letterboxing keeps the aspect ratio: the image is scaled to fit the network input and the
rest is padded with grey (114, as Ultralytics does), so boxes map back with one scale and
one offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class InputTransform:
    """How image pixels map to network-input pixels: input = image * scale + pad."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    image_width: int
    image_height: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) x1 y1 x2 y2 in input pixels → image pixels, clipped to the image."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_y) / self.scale_y
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.image_width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.image_height)
        return out


def letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, InputTransform]:
    """Scale to fit ``input_hw`` keeping the aspect ratio, pad the rest (centred)."""
    height, width = image.shape[:2]
    target_h, target_w = input_hw
    scale = min(target_w / width, target_h / height)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = (cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
               if (new_w, new_h) != (width, height) else image)
    pad_x, pad_y = (target_w - new_w) // 2, (target_h - new_h) // 2
    canvas = cv2.copyMakeBorder(resized, pad_y, target_h - new_h - pad_y, pad_x, target_w - new_w - pad_x,
                                cv2.BORDER_CONSTANT, value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    return canvas, InputTransform(new_w / width, new_h / height, pad_x, pad_y, width, height)


def stretch(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, InputTransform]:
    """Resize to ``input_hw`` without keeping the aspect ratio (CenterFace's preprocessing)."""
    height, width = image.shape[:2]
    target_h, target_w = input_hw
    resized = (cv2.resize(image, (target_w, target_h), interpolation=cv2.INTER_LINEAR)
               if (target_w, target_h) != (width, height) else image)
    return resized, InputTransform(target_w / width, target_h / height, 0.0, 0.0, width, height)


def to_nchw(image_bgr: np.ndarray, rgb: bool, scale: float) -> np.ndarray:
    """HWC uint8 BGR → 1x3xHxW float32 (RGB when ``rgb``), multiplied by ``scale``."""
    return cv2.dnn.blobFromImage(image_bgr, scalefactor=scale, swapRB=rgb)
