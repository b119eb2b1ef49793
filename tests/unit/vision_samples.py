"""What the vision tests share: real photos that ship inside installed packages, and the classifier's
ONNX graph, exported once into the cache by models/classifier/build.py when a fresh cache lacks it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from embodied_ai.perception.classifier import default_model_path
from tests.conftest import REPO


def sample_photo_path(package: str, path: str) -> Path:
    """A file inside an installed package (``skimage``: ``data/chelsea.png``), found without importing it."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, package
    return Path(list(spec.submodule_search_locations)[0]) / path


def sample_photo(package: str, path: str) -> np.ndarray:
    """That photo as a BGR image."""
    image = cv2.imread(str(sample_photo_path(package, path)), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def ensure_classifier_built() -> Path:
    """The classifier's ONNX file; exported first (about 15 s) if the cache has none."""
    model = default_model_path()
    if not model.is_file():
        subprocess.run([sys.executable, str(REPO / "models" / "classifier" / "build.py")], check=True,
                       capture_output=True, timeout=300)
    return model
