"""Multimodal API (the Robot API): detection, transcription, synthesis, and their combination."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.bridge.schemas.common import Strict


class DetectedObject(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    label: str = Field(alias="class", serialization_alias="class")
    confidence: float
    bbox: list[float] = Field(description="[x_min, y_min, x_max, y_max] in pixels")
    center: list[float]
    object_id: int = Field(default=-1, description="perception's tracker id (-1 when untracked)")


class Detections(BaseModel):
    detections: list[DetectedObject]
    num_objects: int
    inference_time_ms: float


class Transcription(BaseModel):
    text: str
    language: str
    confidence: float
    duration_seconds: float


class SynthesizeBody(Strict):
    text: str = Field(min_length=1, max_length=10_000)
    voice: str = Field(default="default", max_length=64)
    speed: float = Field(default=1.0, ge=0.25, le=4.0, allow_inf_nan=False)


class VisionUnderstanding(BaseModel):
    objects: list[str]
    confidence: float | None = Field(description="mean detection score; null with no detections")
    detections: list[DetectedObject]


class TextUnderstanding(BaseModel):
    intent: str = Field(description="\"command\" when robot actions were carried out, else \"query\"")
    actions: list[object] = Field(description="the robot actions the commander carried out")
    expert: str
    success: bool


class Understanding(BaseModel):
    transcript: Transcription | None = None
    vision: VisionUnderstanding | None = None
    text: TextUnderstanding | None = None


class MultimodalResult(BaseModel):
    understanding: Understanding
    response: str | None = Field(description="the commander's reply to the text (typed or transcribed)")


class CommandBody(Strict):
    text: str = Field(min_length=1, max_length=10_000)
