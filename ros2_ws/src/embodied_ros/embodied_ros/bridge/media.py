"""The media port over rclpy: perception's detect service, the vision_services node's classify_image
and read_text, the asr node's transcribe action, the tts node's speak action and the commander's
command action."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from sensor_msgs.msg import Image

from embodied_ai.bridge.ports.media import CommandOutcome, DetectOutcome, SpeakOutcome, TranscribeOutcome
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.perception.classifier import ClassScore
from embodied_ai.perception.ocr import TextLine
from embodied_ros.bridge.plumbing import Action, Graph, Service, detections_of, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

Detect = optional_interface("embodied_interfaces.srv", "Detect")
ClassifyImage = optional_interface("embodied_interfaces.srv", "ClassifyImage")
ReadText = optional_interface("embodied_interfaces.srv", "ReadText")
Transcribe = optional_interface("embodied_interfaces.action", "Transcribe")
Speak = optional_interface("embodied_interfaces.action", "Speak")
HandleCommand = optional_interface("embodied_interfaces.action", "HandleCommand")


def image_msg(encoded: bytes) -> Image:
    """Decode a PNG/JPEG upload into the rgb8 image the detect service takes."""
    from PIL import Image as PilImage
    from PIL import UnidentifiedImageError

    try:
        with PilImage.open(io.BytesIO(encoded)) as picture:
            rgb = np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EmbodiedError(f"the image could not be decoded: {exc}", ErrorCode.INFERENCE_FAILED) from exc
    return rgb_msg(rgb)


def rgb_msg(rgb: np.ndarray) -> Image:
    """An HxWx3 uint8 RGB array as an rgb8 Image."""
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


class RosMedia:
    def __init__(self, graph: Graph, timeouts: BridgeTimeouts) -> None:
        self._timeouts = timeouts
        self._detect = Service(graph, Detect, Endpoint("detect", ErrorCode.INFERENCE_FAILED,
                                                       "the perception node is not running", server="perception"))
        vision = "the vision_services node is not running"
        self._classify = Service(graph, ClassifyImage, Endpoint("classify_image", ErrorCode.INFERENCE_FAILED, vision,
                                                                server="vision_services"))
        self._read_text = Service(graph, ReadText, Endpoint("read_text", ErrorCode.INFERENCE_FAILED, vision,
                                                            server="vision_services"))
        self._transcribe = Action(graph, Transcribe, Endpoint("transcribe", ErrorCode.INFERENCE_FAILED,
                                                              "the speech recognition (asr) node is not running",
                                                              server="asr"))
        self._speak = Action(graph, Speak, Endpoint("speak", ErrorCode.INFERENCE_FAILED,
                                                    "the text-to-speech (tts) node is not running", server="tts"))
        self._command = Action(graph, HandleCommand, Endpoint("command", ErrorCode.EXPERT_NOT_READY,
                                                              "the commander node is not running", server="commander"))

    async def detect(self, image: bytes) -> DetectOutcome:
        await self._detect.require()  # a missing node answers 503 before the image is decoded
        started = time.perf_counter()
        response = check(await self._detect.call(self._timeouts.detect_s, image=image_msg(image)),
                         self._detect.endpoint)
        return DetectOutcome(detections_of(response.detections), (time.perf_counter() - started) * 1e3)

    async def classify(self, image_rgb: np.ndarray, top_k: int) -> list[ClassScore]:
        response = check(await self._classify.call(self._timeouts.detect_s, image=rgb_msg(image_rgb), top_k=top_k),
                         self._classify.endpoint)
        return [ClassScore(**score) for score in json.loads(response.predictions_json)]

    async def read_text(self, image_rgb: np.ndarray, min_confidence: float) -> list[TextLine]:
        response = check(await self._read_text.call(self._timeouts.detect_s, image=rgb_msg(image_rgb),
                                                    min_confidence=min_confidence), self._read_text.endpoint)
        return [TextLine(line["text"], float(line["confidence"]), tuple(line["box"]))
                for line in json.loads(response.lines_json)]

    async def transcribe(self, audio: bytes, language: str) -> TranscribeOutcome:
        result = check(await self._transcribe.run(self._timeouts.transcribe_s, encoded_audio=audio, language=language),
                       self._transcribe.endpoint)
        return TranscribeOutcome(result.text, result.language, float(result.confidence), float(result.duration_s))

    async def synthesize(self, text: str, speed: float) -> SpeakOutcome:
        result = check(await self._speak.run(self._timeouts.speak_s, text=text, speed=float(speed), play=False),
                       self._speak.endpoint)
        return SpeakOutcome(bytes(result.wav), float(result.duration_s))

    async def handle_command(self, text: str) -> CommandOutcome:
        # Not checked: a command that failed may still carry the commander's reply.
        result = await self._command.run(self._timeouts.command_s, text=text, source="text")
        return CommandOutcome(result.success, result.error_code, result.message, result.reply, result.actions_json,
                              result.expert)

    def components(self) -> dict[str, str]:
        return {
            "perception": self._detect.readiness(),
            "vision_services": self._classify.readiness(),
            "speech_recognition": self._transcribe.readiness(),
            "speech_synthesis": self._speak.readiness(),
            "commander": self._command.readiness(),
        }
