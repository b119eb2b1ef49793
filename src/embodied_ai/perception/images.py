"""Images as the graph and the API pass them: the error for an image that cannot be taken, and
JPEG encoding. Kept apart from the detector and the cameras so that a process that only
passes images on (the REST bridge) does not load ONNX Runtime or the simulated scene."""

from __future__ import annotations

import numpy as np

from embodied_ai.errors import EmbodiedError, ErrorCode


class ImageError(EmbodiedError):
    """An image that cannot be taken (wrong encoding, channels or size)."""

    code = ErrorCode.INFERENCE_FAILED


def encode_jpeg(image: np.ndarray, quality: int) -> bytes | None:
    """JPEG bytes of a BGR image at ``quality`` (0-100); None if OpenCV cannot encode it."""
    import cv2  # here: OpenCV costs the REST bridge 17 MB from its start, and only camera frames need it

    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return jpeg.tobytes() if ok else None
