"""JPEG encoding, and a process that only passes images on loads neither ONNX Runtime nor the scene."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

from embodied_ai.perception.images import encode_jpeg


def test_jpeg_encoding_round_trips() -> None:
    image = np.full((48, 64, 3), 120, np.uint8)
    jpeg = encode_jpeg(image, 80)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == image.shape


def test_the_image_helpers_do_not_load_the_detector_runtime() -> None:
    heavy = "('onnxruntime', 'embodied_ai.perception.camera')"
    loaded = subprocess.run([sys.executable, "-c", "import sys, embodied_ai.perception.images; "
                             f"print(sorted(m for m in {heavy} if m in sys.modules))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
