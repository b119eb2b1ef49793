"""``client.vision.analyze`` / ``classify`` against a bridge served on loopback (the real classifier)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge
from tests.unit.vision_samples import ensure_classifier_built, sample_photo_path


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Client]:
    ensure_classifier_built()
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as client:
        yield client


def test_classify_and_analyze_a_photo_file_and_a_refusal(sdk: Client) -> None:
    photo = sample_photo_path("skimage", "data/coffee.png")
    classified = sdk.vision.classify(photo, top_k=2)
    assert [p.label for p in classified.predictions][:1] == ["espresso"] and len(classified.predictions) == 2
    assert classified.image_info.format == "PNG" and classified.image_info.size_bytes == photo.stat().st_size
    analysis = sdk.vision.analyze(photo.read_bytes(), analysis_type=["scene_analysis", "object_detection"])
    assert analysis.analysis_types == ["object_detection", "scene_analysis"]
    assert analysis.analysis_results.objects and analysis.analysis_results.objects[0].label == "cup"
    assert analysis.analysis_results.scene and analysis.analysis_results.scene.top_classes[0].label == "espresso"
    with pytest.raises(ApiError) as refused:
        sdk.vision.classify(photo, top_k=0)
    assert refused.value.status == 400
    with pytest.raises(ApiError) as no_frame:
        sdk.vision.classify(camera="head_camera")
    assert no_frame.value.status == 503
