"""A detector: manifest + inference back end + the family's pre- and post-processing.

``Detector.detect(image)`` is preprocess → infer → decode → boxes in image pixels. The three
steps are public too, so the benchmark can time raw inference on the very tensors the
pipeline feeds. A detector checks its model once at load: a dummy input must decode under
the family's layout, so a model whose outputs do not match its manifest fails at load with a
clear error rather than on the first camera frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embodied_ai.perception.decoders import RawDetections, decode_centerface, decode_yolo
from embodied_ai.perception.images import ImageError
from embodied_ai.perception.manifest import ManifestRef, load_manifest
from embodied_ai.perception.preprocess import InputTransform, letterbox, stretch, to_nchw
from embodied_ai.perception.runtime import InferenceBackend, OnnxRuntimeBackend, fix_input_shape, select_providers

BACKENDS = ("onnxruntime", "tensorrt")


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]   # x1 y1 x2 y2, image pixels
    score: float
    class_id: int
    label: str


class Detector:
    def __init__(self, ref: ManifestRef, backend: InferenceBackend, score_threshold: float | None = None) -> None:
        self.ref = ref
        self.manifest = ref.manifest
        self.backend = backend
        # The manifest's threshold, unless overridden (mAP evaluation scores every box down to ~0).
        self.score_threshold = self.manifest.thresholds.score if score_threshold is None else score_threshold
        self.input_hw = (self.manifest.input.height, self.manifest.input.width)
        self._self_check()

    @classmethod
    def from_manifest(cls, manifest_path: str | Path, variant: str | None = None, backend: str = "onnxruntime",
                      providers: Sequence[str] = (), intra_op_threads: int = 0,
                      score_threshold: float | None = None) -> "Detector":
        """Load a model by its manifest on the chosen back end ("onnxruntime" or "tensorrt")."""
        ref = load_manifest(manifest_path)
        path = ref.verify(variant)
        spec = ref.manifest.input
        if backend == "tensorrt":
            from embodied_ai.perception.tensorrt_backend import TensorRTBackend  # optional: tensorrt + pycuda

            return cls(ref, TensorRTBackend(path, (1, 3, spec.height, spec.width)), score_threshold)
        if backend != "onnxruntime":
            raise ValueError(f"unknown inference back end '{backend}'; one of {', '.join(BACKENDS)}")
        model: Path | bytes = fix_input_shape(path, spec.height, spec.width) if spec.fixed_shape else path
        return cls(ref, OnnxRuntimeBackend(model, select_providers(providers), intra_op_threads), score_threshold)

    @property
    def classes(self) -> list[str]:
        return self.manifest.classes

    # -- the three steps ----------------------------------------------------------------
    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, InputTransform]:
        check_image(image_bgr)
        spec = self.manifest.input
        resize = letterbox if spec.resize == "letterbox" else stretch
        resized, transform = resize(image_bgr, self.input_hw)
        return to_nchw(resized, spec.colour == "rgb", spec.scale), transform

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        return self.backend.run(tensor)

    def decode(self, outputs: Sequence[np.ndarray], transform: InputTransform) -> list[Detection]:
        raw = self._decode_raw(outputs)
        boxes = transform.to_image(raw.boxes)
        return [Detection(tuple(float(v) for v in box), float(score), int(cls), self._label(int(cls)))  # type: ignore[arg-type]
                for box, score, cls in zip(boxes, raw.scores, raw.class_ids)]

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        tensor, transform = self.preprocess(image_bgr)
        return self.decode(self.infer(tensor), transform)

    # -- internals ----------------------------------------------------------------------
    def _decode_raw(self, outputs: Sequence[np.ndarray]) -> RawDetections:
        m = self.manifest
        if m.family == "yolo":
            assert m.layout is not None
            return decode_yolo(outputs, m.layout, len(m.classes), self.score_threshold, m.thresholds.nms_iou)
        return decode_centerface(outputs, self.score_threshold, m.thresholds.nms_iou)

    def _label(self, class_id: int) -> str:
        return self.classes[class_id] if 0 <= class_id < len(self.classes) else str(class_id)

    def _self_check(self) -> None:
        """Run a grey frame once: raises ModelOutputError if the outputs do not fit the family."""
        grey = np.full((*self.input_hw, 3), 114, np.uint8)
        tensor, transform = self.preprocess(grey)
        self.decode(self.infer(tensor), transform)


def check_image(image: np.ndarray) -> None:
    """Accept HxWx3 uint8 (BGR) images of a sensible size; say what is wrong otherwise."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageError(f"expected a uint8 image, got {getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"expected an HxWx3 colour image, got shape {image.shape}")
    if min(image.shape[:2]) < 16 or max(image.shape[:2]) > 8192:
        raise ImageError(f"image size {image.shape[1]}x{image.shape[0]} is outside 16..8192 pixels")
