"""The media port: perception's detect, speech recognition and synthesis, and the commander's
command action (a text the robot carries out or answers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from embodied_ai.bridge.ports.common import Detection


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

    async def transcribe(self, audio: bytes, language: str) -> TranscribeOutcome:
        """``audio``: WAV, MP3, OGG or FLAC bytes; ``language`` "": the node's own."""
        ...

    async def synthesize(self, text: str, speed: float) -> SpeakOutcome: ...

    async def handle_command(self, text: str) -> CommandOutcome: ...
