"""Seed 002's vision service through the real app: classify and analyze an upload or a camera's frame,
with the real classifier (EfficientNet-Lite0 on ONNX Runtime) and the fake graph's detector."""

from __future__ import annotations

import io
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from embodied_ai.bridge.ports.hardware import CameraFrame
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.test_routes_multimodal import wav
from tests.unit.perception.test_ocr import draw_sign
from tests.unit.vision_samples import ensure_classifier_built, sample_photo

CLASSIFY, ANALYZE = "/v1/ai/vision/classify", "/v1/ai/vision/analyze"


@pytest.fixture(scope="module", autouse=True)
def built_classifier() -> Iterator[None]:
    ensure_classifier_built()
    yield


def jpeg(photo: np.ndarray, width: int = 320) -> bytes:
    """A BGR photo as a JPEG small enough for the test app's 64 KiB upload limit."""
    height = round(photo.shape[0] * width / photo.shape[1])
    ok, encoded = cv2.imencode(".jpg", cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA),
                               [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return encoded.tobytes()


def png(width: int, height: int, colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def cat() -> bytes:
    return jpeg(sample_photo("skimage", "data/chelsea.png"))


def test_classify_names_the_cat_in_an_upload(client: TestClient, fake: FakeGraph) -> None:
    found = data(client.post(CLASSIFY, files={"image": ("cat.jpg", cat(), "image/jpeg")}, data={"top_k": "3"}))
    assert found["model"] == "efficientnet_lite0" and found["request_id"].startswith("req_")
    assert found["image_info"] == {"width": 320, "height": 213, "format": "JPEG", "size_bytes": len(cat()),
                                   "camera": None}
    predictions = found["predictions"]
    assert len(predictions) == 3 and set(predictions[0]) == {"class", "confidence", "class_id"}
    assert predictions[0]["class"] in {"tabby", "tiger_cat", "egyptian_cat"} and predictions[0]["class_id"] in \
        {281, 282, 285}
    assert [p["confidence"] for p in predictions] == sorted((p["confidence"] for p in predictions), reverse=True)
    assert found["processing_time"] > 0
    assert fake.calls == [("classify", ((213, 320, 3), 3))]   # the vision_services node's, with the pixels


def test_classify_reads_a_cameras_latest_frame(client: TestClient, fake: FakeGraph) -> None:
    coffee = jpeg(sample_photo("skimage", "data/coffee.png"))
    fake.frames["head_camera"] = CameraFrame("head_camera", coffee, 320, 213, stamp=1.0)
    found = data(client.post(CLASSIFY, data={"camera": "head_camera", "top_k": "1"}))
    assert [p["class"] for p in found["predictions"]] == ["espresso"]
    assert found["image_info"]["camera"] == "head_camera" and found["image_info"]["format"] == "JPEG"


def test_a_camera_without_a_frame_is_503_and_an_unknown_camera_400(client: TestClient) -> None:
    error(client.post(CLASSIFY, data={"camera": "wrist_camera"}), 503, 4000)
    assert "head_camera" in error(client.post(CLASSIFY, data={"camera": "tail_camera"}), 400, 400)["details"]


@pytest.mark.parametrize("top_k", ["0", "101", "5000", "five"])
def test_top_k_outside_1_to_100_is_refused(client: TestClient, top_k: str) -> None:
    error(client.post(CLASSIFY, files={"image": ("a.png", png(32, 32), "image/png")}, data={"top_k": top_k}),
          400, 400)


def test_analyze_detects_and_summarises_the_scene(client: TestClient, fake: FakeGraph) -> None:
    photo = cat()
    result = data(client.post(ANALYZE, files={"image": ("cat.jpg", photo, "image/jpeg")},
                              data={"analysis_type": '["object_detection", "scene_analysis"]'}))
    assert result["analysis_types"] == ["object_detection", "scene_analysis"]
    objects = result["analysis_results"]["objects"]
    assert objects == [{"class": "cup", "confidence": 0.9, "bbox": [10.0, 20.0, 30.0, 60.0], "center": [20.0, 40.0],
                        "object_id": 3}]
    scene = result["analysis_results"]["scene"]
    assert scene["description"] == "I see 1 object (1 cup): a cup (object 3)."
    assert scene["layout"] == {"left": ["cup"], "centre": [], "right": []}
    assert 0.0 < scene["brightness"] < 1.0 and scene["lighting"] in {"dark", "dim", "bright"}
    assert len(scene["top_classes"]) == 3 and scene["top_classes"][0]["class_id"] in {281, 282, 285}
    assert [call[0] for call in fake.calls] == ["detect", "classify"]   # the scene's top classes
    assert fake.calls[0] == ("detect", len(photo))


def test_analyze_takes_repeated_or_comma_separated_types_and_defaults_to_detection(client: TestClient) -> None:
    image = {"image": ("a.png", png(64, 48, "black"), "image/png")}
    only = data(client.post(ANALYZE, files=image))
    assert only["analysis_types"] == ["object_detection"] and only["analysis_results"]["scene"] is None
    both = data(client.post(ANALYZE, files=image, data={"analysis_type": ["scene_analysis", "object_detection"]}))
    assert both["analysis_types"] == ["object_detection", "scene_analysis"]
    scene = data(client.post(ANALYZE, files=image, data={"analysis_type": "scene_analysis"}))
    assert scene["analysis_results"]["objects"] is None and scene["analysis_results"]["scene"]["lighting"] == "dark"
    listed = data(client.post(ANALYZE, files=image, data={"analysis_type": "scene_analysis, object_detection"}))
    assert listed["analysis_types"] == ["object_detection", "scene_analysis"]


@pytest.mark.parametrize(("analysis_type", "said"), [
    ("colour_histogram", "unknown analysis_type 'colour_histogram'"),
    ('["object_detection", "faces"]', "unknown analysis_type 'faces'"),
    ("[not json", "not a valid JSON list"),
    (" , ", "names no analysis"),
])
def test_analysis_types_it_does_not_have_are_400(client: TestClient, fake: FakeGraph, analysis_type: str,
                                                 said: str) -> None:
    refused = error(client.post(ANALYZE, files={"image": ("a.png", png(32, 32), "image/png")},
                                data={"analysis_type": analysis_type}), 400, 400)
    assert said in refused["message"] and not fake.calls


def test_what_is_not_an_image_or_too_large_is_refused(client: TestClient, fake: FakeGraph) -> None:
    for path in (CLASSIFY, ANALYZE):
        error(client.post(path, files={"image": ("a.png", wav(), "image/png")}), 400, 400)
        wide = error(client.post(path, files={"image": ("a.png", png(8200, 16), "image/png")}), 400, 400)
        assert "8200x16" in wide["message"]
        error(client.post(path, files={"image": ("a.png", png(8, 8), "image/png")}), 400, 400)
        noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), np.uint8)
        big = cv2.imencode(".png", noise)[1].tobytes()   # > the test app's 64 KiB
        error(client.post(path, files={"image": ("a.png", big, "image/png")}), 413, 413)
        truncated = png(64, 64)[:60]   # a PNG signature, then nothing decodable
        error(client.post(path, files={"image": ("a.png", truncated, "image/png")}), 400, 400)
    assert not fake.calls


def test_an_image_and_a_camera_or_neither_is_400(client: TestClient) -> None:
    for path in (CLASSIFY, ANALYZE):
        error(client.post(path, files={"image": ("a.png", png(32, 32), "image/png")},
                          data={"camera": "head_camera"}), 400, 400)
        error(client.post(path, data={"top_k": "3"} if path == CLASSIFY else {}), 400, 400)


def test_a_model_it_does_not_serve_is_400(client: TestClient) -> None:
    image = {"image": ("a.png", png(32, 32), "image/png")}
    assert "efficientnet_lite0" in error(client.post(CLASSIFY, files=image, data={"model": "resnet-50"}),
                                         400, 400)["details"]
    error(client.post(ANALYZE, files=image, data={"model": "yolo-v8"}), 400, 400)
    assert data(client.post(CLASSIFY, files=image, data={"model": "efficientnet_lite0", "top_k": "1"}))


def sign_png(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(draw_sign(lines, size=48)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_analyze_reads_the_text_of_a_sign_without_the_perception_node(client: TestClient, fake: FakeGraph) -> None:
    sign = sign_png(["EXIT 42", "NO ENTRY"])
    result = data(client.post(ANALYZE, files={"image": ("sign.png", sign, "image/png")},
                              data={"analysis_type": "text_extraction"}))
    assert result["analysis_types"] == ["text_extraction"] and result["analysis_results"]["objects"] is None
    text = result["analysis_results"]["text"]
    assert "".join(t["text"] for t in text).replace(" ", "") == "EXIT42NOENTRY"
    assert all(set(t) == {"text", "confidence", "bbox"} and t["confidence"] > 0.9 for t in text)
    for t in text:   # [x_min, y_min, x_max, y_max] inside the 360x200 sign
        assert 0 <= t["bbox"][0] < t["bbox"][2] <= 360 and 0 <= t["bbox"][1] < t["bbox"][3] <= 200
    assert text[0]["bbox"][3] <= text[-1]["bbox"][1]   # EXIT 42 above NO ENTRY
    assert fake.calls == [("read_text", ((200, 360, 3), 0.5))]   # the vision_services node's OCR, not perception


def test_analyze_in_seed_order_with_text_and_objects(client: TestClient, fake: FakeGraph) -> None:
    blank = png(64, 48)
    result = data(client.post(ANALYZE, files={"image": ("a.png", blank, "image/png")},
                              data={"analysis_type": ["text_extraction", "object_detection"]}))
    assert result["analysis_types"] == ["object_detection", "text_extraction"]
    assert result["analysis_results"]["text"] == [] and len(result["analysis_results"]["objects"]) == 1
    assert fake.calls == [("detect", len(blank)), ("read_text", ((48, 64, 3), 0.5))]
