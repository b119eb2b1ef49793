"""The media port: perception's detect, the vision services' classifier and OCR, speech recognition
and synthesis, and the commander's command action (a text the robot carries out or answers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embodied_ai.bridge.ports.common import Detection
from embodied_ai.perception.classifier import ClassScore
from embodied_ai.perception.ocr import TextLine


@dataclass(frozen=True)
class DetectOutcome:
    detections: list[Detection]
    inference_time_ms: float


@dataclass(frozen=True)
class TranscribeOutcome:
    text: str
    language: str
    confidence: float
    duration_s: float


@dataclass(frozen=True)
class SpeakOutcome:
    wav: bytes
    duration_s: float


@dataclass(frozen=True)
class CommandOutcome:
    """The command action's result as it came: a failed command may still carry a reply."""

    success: bool
    error_code: int
    message: str
    reply: str
    actions_json: str  # JSON list of the robot actions carried out
    expert: str


class MediaPort(Protocol):
    async def detect(self, image: bytes) -> DetectOutcome:
        """``image``: PNG or JPEG bytes."""
        ...

    async def classify(self, image_rgb: np.ndarray, top_k: int) -> list[ClassScore]:
        """The ImageNet classes of an HxWx3 uint8 RGB image, most probable first (the vision_services node)."""
        ...

    async def read_text(self, image_rgb: np.ndarray, min_confidence: float) -> list[TextLine]:
        """The lines of text in an RGB image, in reading order (the vision_services node's OCR)."""
        ...

    async def transcribe(self, audio: bytes, language: str) -> TranscribeOutcome:
        """``audio``: WAV, MP3, OGG or FLAC bytes; ``language`` "": the node's own."""
        ...

    async def synthesize(self, text: str, speed: float) -> SpeakOutcome: ...

    async def handle_command(self, text: str) -> CommandOutcome: ...
