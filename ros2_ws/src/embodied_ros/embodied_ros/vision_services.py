"""Vision services node: the image classifier and OCR on the perception side of the graph, for the
REST bridge's seed-002 vision service and any other client.

  services  classify_image (embodied_interfaces/ClassifyImage: an image and top_k in, the ImageNet
            classes out), read_text (embodied_interfaces/ReadText: an image in, its lines of text in
            reading order out)

Each engine is loaded on its first request (the classifier ~20 MB, OCR ~60 MB), so a robot that
never asks pays nothing. Requests are served one at a time on this node's own thread: a
classification takes ~12 ms, reading a sign ~0.5 s on a CPU. The node is wiring: the engines are
embodied_ai.perception.classifier and embodied_ai.perception.ocr.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from embodied_interfaces.srv import ClassifyImage, ReadText
from rclpy.node import Node

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ros.kit.spin import Component, run_standalone
from embodied_ros.vision import image_from_msg


class VisionServicesNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("vision_services", **node_options)
        self.create_service(ClassifyImage, "classify_image", self._on_classify)
        self.create_service(ReadText, "read_text", self._on_read_text)

    def _on_classify(self, request: Any, response: Any) -> Any:
        from embodied_ai.perception.classifier import shared_classifier

        def work() -> str:
            scores = shared_classifier().classify(image_from_msg(request.image), int(request.top_k))
            return json.dumps([asdict(score) for score in scores])
        response.success, response.error_code, response.message, response.predictions_json = answer(work)
        return response

    def _on_read_text(self, request: Any, response: Any) -> Any:
        from embodied_ai.perception.ocr import read_text

        def work() -> str:
            rgb = image_from_msg(request.image)[:, :, ::-1]   # image_from_msg gives BGR
            lines = read_text(rgb, float(request.min_confidence))
            return json.dumps([{"text": line.text, "confidence": line.confidence, "box": list(line.box)}
                               for line in lines])
        response.success, response.error_code, response.message, response.lines_json = answer(work)
        return response


def answer(work: Any) -> tuple[bool, int, str, str]:
    """(success, error code, message, the work's JSON): a refusal carries its code and reason."""
    try:
        return True, 0, "", work()
    except ValueError as exc:   # an argument out of range (top_k, min_confidence)
        return False, int(ErrorCode.BAD_REQUEST), str(exc), ""
    except EmbodiedError as exc:   # an engine not built or installed, an image it cannot read
        return False, int(exc.code), str(exc), ""


def component(**node_options: Any) -> Component:
    return Component(VisionServicesNode(**node_options), threads=1)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
