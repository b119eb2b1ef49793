"""The ImageNet classifier (EfficientNet-Lite0 exported by models/classifier/build.py) on real photos that
ship inside installed packages, its preprocessing, its labels and its bounds.

The labelled set is fixed from what each photo shows, before any prediction: the ImageNet classes that
name it (a cat photo is right as tabby, tiger cat or Egyptian cat). Photos with no ImageNet class (the
astronaut: ImageNet has no person class; the coins) are not in it. Its figures are in
models/classifier/MODEL_CARD.md; this test holds the model to them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from embodied_ai.perception.classifier import (
    MANIFEST_PATH,
    ImageClassifier,
    default_model_path,
    imagenet_labels,
)
from embodied_ai.perception.runtime import ModelLoadError
from tests.unit.vision_samples import ensure_classifier_built, sample_photo

# photo (package, path inside it) -> the ImageNet-1k classes that are right for it
LABELLED_PHOTOS: dict[tuple[str, str], set[int]] = {
    ("skimage", "data/chelsea.png"): {281, 282, 285},            # tabby, tiger cat, Egyptian cat
    ("skimage", "data/coffee.png"): {967, 968, 504},             # espresso, cup, coffee mug
    ("skimage", "data/rocket.jpg"): {657, 744, 812},             # missile, projectile, space shuttle
    ("skimage", "data/motorcycle_left.png"): {665, 670},         # moped, motor scooter
    ("skimage", "data/camera.png"): {872, 759},                  # tripod, reflex camera (the cameraman)
    ("skimage", "data/clock_motion.png"): {409, 892},            # analog clock, wall clock (motion-blurred)
    ("sklearn", "datasets/images/china.jpg"): {698, 663, 832, 442},  # palace, monastery, stupa, bell cote
    ("sklearn", "datasets/images/flower.jpg"): {985},            # daisy
}
# MODEL_CARD.md's figures on LABELLED_PHOTOS (8 photos).
TOP1_CORRECT, TOP5_CORRECT = 7, 8


@pytest.fixture(scope="module")
def classifier() -> ImageClassifier:
    ensure_classifier_built()
    return ImageClassifier(intra_op_threads=1)


def test_real_photos_are_classified_as_the_model_card_says(classifier: ImageClassifier) -> None:
    top1 = top5 = 0
    for (package, path), right in LABELLED_PHOTOS.items():
        found = [s.class_id for s in classifier.classify(sample_photo(package, path), top_k=5)]
        top1 += found[0] in right
        top5 += bool(right & set(found))
    assert (top1, top5) == (TOP1_CORRECT, TOP5_CORRECT)


def test_top_k_is_most_probable_first_and_bounded(classifier: ImageClassifier) -> None:
    coffee = sample_photo("skimage", "data/coffee.png")
    best = classifier.classify(coffee, top_k=100)
    confidences = [s.confidence for s in best]
    assert len(best) == 100 and confidences == sorted(confidences, reverse=True)
    assert best[0].label == "espresso" and best[0].confidence > 0.9 and sum(confidences) <= 1.0 + 1e-9
    assert len({s.class_id for s in best}) == 100
    for wrong in (0, 101):
        with pytest.raises(ValueError, match="top_k"):
            classifier.classify(coffee, top_k=wrong)


def test_preprocessing_crops_the_centre_and_normalises_as_the_manifest_says(classifier: ImageClassifier) -> None:
    spec = classifier.manifest.input
    grey = np.full((30, 90, 3), int(spec.mean), np.uint8)
    grey[:, :10] = 255   # outside the centre crop of a 3:1 image: cut away
    tensor = classifier.preprocess(grey)
    assert tensor.shape == (1, 3, spec.size, spec.size) and tensor.dtype == np.float32
    assert np.abs(tensor).max() == 0.0
    red_bgr = np.zeros((64, 64, 3), np.uint8)
    red_bgr[..., 2] = 255
    channels = classifier.preprocess(red_bgr)[0].mean(axis=(1, 2))
    assert channels[0] == pytest.approx((255 - spec.mean) / spec.std)   # RGB order: red first


def test_images_it_cannot_take_are_refused(classifier: ImageClassifier) -> None:
    with pytest.raises(Exception, match="16..8192"):
        classifier.classify(np.zeros((8, 8, 3), np.uint8))


def test_labels_are_imagenet_names_in_snake_case() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000 and labels[0] == "tench"
    assert labels[207:209] == ["golden_retriever", "labrador_retriever"] and labels[282] == "tiger_cat"


def test_the_cached_export_is_the_one_the_manifest_names(classifier: ImageClassifier) -> None:
    expected = yaml.safe_load(MANIFEST_PATH.read_text())["sha256"]
    assert hashlib.sha256(default_model_path().read_bytes()).hexdigest() == expected


def test_a_model_not_built_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="models/classifier/build.py"):
        ImageClassifier(model_path=tmp_path / "missing.onnx")
