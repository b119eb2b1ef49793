"""Seed 002's vision service through the graph: the bridge sends the pixels to the vision_services
node (in the sensing process) for classification and OCR, an upload or the head camera's frame."""

from __future__ import annotations

import io
import time

import httpx
from PIL import Image, ImageDraw, ImageFont

from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)
from tests.unit.vision_samples import ensure_classifier_built, sample_photo_path


def served(http: httpx.Client, path: str, **request: object) -> dict:  # noqa: F811
    deadline = time.monotonic() + 60
    while (response := http.post(path, **request)).status_code == 503:   # the node discovered, the model loaded
        assert time.monotonic() < deadline, response.text
        time.sleep(0.5)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_photo_is_classified_and_a_sign_read_by_the_vision_services_node(http: httpx.Client) -> None:  # noqa: F811
    ensure_classifier_built()
    cat = sample_photo_path("skimage", "data/chelsea.png").read_bytes()
    found = served(http, "/v1/ai/vision/classify", files={"image": ("cat.png", cat, "image/png")},
                   data={"top_k": "3"})
    assert found["predictions"][0]["class"] in {"tiger_cat", "tabby", "egyptian_cat"}
    sign = Image.new("RGB", (480, 160), "white")
    ImageDraw.Draw(sign).text((30, 40), "EXIT 42", fill="black", font=ImageFont.load_default(size=64))
    png = io.BytesIO()
    sign.save(png, "PNG")
    read = served(http, "/v1/ai/vision/analyze", files={"image": ("sign.png", png.getvalue(), "image/png")},
                  data={"analysis_type": "text_extraction"})
    assert "".join(line["text"] for line in read["analysis_results"]["text"]).replace(" ", "") == "EXIT42"
    frame = served(http, "/v1/ai/vision/classify", data={"camera": "head_camera", "top_k": "5"})
    assert frame["image_info"]["camera"] == "head_camera" and len(frame["predictions"]) == 5
