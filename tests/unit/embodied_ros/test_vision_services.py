"""The vision_services node in this process, asked by a real client over ROS: a photo classified,
a drawn sign read, and a request out of range refused with its reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import rclpy
from embodied_interfaces.srv import ClassifyImage, ReadText
from PIL import Image, ImageDraw, ImageFont
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor

from embodied_ros.bridge.media import rgb_msg
from embodied_ros.vision_services import VisionServicesNode
from tests.unit.vision_samples import ensure_classifier_built, sample_photo

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def rig() -> Iterator[tuple[rclpy.node.Node, Context]]:
    ensure_classifier_built()
    context = Context()
    rclpy.init(context=context)
    server = VisionServicesNode(context=context, start_parameter_services=False)
    client = rclpy.create_node("vision_client", context=context, start_parameter_services=False)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(server)
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield client, context
    finally:
        executor.shutdown()
        rclpy.shutdown(context=context)
        spinner.join(5)


def call(client: rclpy.node.Node, kind: type, name: str, request: object) -> object:
    service = client.create_client(kind, name)
    assert service.wait_for_service(timeout_sec=10.0)
    done = threading.Event()
    future = service.call_async(request)
    future.add_done_callback(lambda _future: done.set())
    assert done.wait(60.0), f"{name} did not answer"
    return future.result()


def test_a_photo_is_classified(rig) -> None:
    client, _ = rig
    cat = sample_photo("skimage", "data/chelsea.png")[:, :, ::-1]   # BGR -> RGB
    response = call(client, ClassifyImage, "classify_image", ClassifyImage.Request(image=rgb_msg(cat), top_k=3))
    assert response.success, response.message
    predictions = json.loads(response.predictions_json)
    assert len(predictions) == 3 and predictions[0]["label"] in ("tiger_cat", "tabby", "egyptian_cat")
    assert predictions[0]["confidence"] >= predictions[1]["confidence"] >= predictions[2]["confidence"]


def test_a_sign_is_read(rig) -> None:
    client, _ = rig
    sign = Image.new("RGB", (480, 160), "white")
    ImageDraw.Draw(sign).text((30, 40), "EXIT 42", fill="black", font=ImageFont.load_default(size=64))
    response = call(client, ReadText, "read_text", ReadText.Request(image=rgb_msg(np.asarray(sign)),
                                                                      min_confidence=0.5))
    assert response.success, response.message
    lines = json.loads(response.lines_json)
    assert "".join(line["text"] for line in lines).replace(" ", "") == "EXIT42"
    assert all(0 <= line["box"][0] and line["box"][0] + line["box"][2] <= 480 for line in lines)


def test_a_request_out_of_range_is_refused_with_its_reason(rig) -> None:
    client, _ = rig
    image = rgb_msg(np.zeros((64, 64, 3), np.uint8))
    response = call(client, ClassifyImage, "classify_image", ClassifyImage.Request(image=image, top_k=0))
    assert (response.success, response.error_code) == (False, 400) and "top_k" in response.message
    response = call(client, ReadText, "read_text", ReadText.Request(image=image, min_confidence=2.0))
    assert (response.success, response.error_code) == (False, 400) and "min_confidence" in response.message
