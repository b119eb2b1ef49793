"""Seed 002's vision service (``/v1/ai/vision/analyze`` and ``/v1/ai/vision/classify``): what they answer.

The requests are multipart forms (an image file, or ``camera`` for a camera's latest frame), so their
fields are declared on the routes; these are the answers, with seed 002's field names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.bridge.schemas.multimodal import DetectedObject
from embodied_ai.perception.scene_analysis import Lighting

# In seed 002's order, which is also the order of a reply's analysis_types.
AnalysisType = Literal["object_detection", "text_extraction", "scene_analysis"]


class ImageInfo(BaseModel):
    width: int
    height: int
    format: Literal["PNG", "JPEG"]
    size_bytes: int
    camera: str | None = Field(default=None, description="the camera whose latest frame this is; null for an upload")


class Prediction(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    label: str = Field(alias="class", serialization_alias="class", examples=["golden_retriever"],
                       description="ImageNet-1k class name in snake_case")
    confidence: float = Field(description="softmax probability")
    class_id: int = Field(description="ImageNet-1k index, 0..999")


class TextRegion(BaseModel):
    text: str = Field(examples=["EXIT 42"], description="one line of text as read")
    confidence: float = Field(description="the recogniser's mean character probability, 0..1")
    bbox: list[int] = Field(min_length=4, max_length=4, examples=[[150, 50, 200, 100]],
                            description="[x_min, y_min, x_max, y_max] in pixels, as the objects' bbox")


class SceneLayout(BaseModel):
    left: list[str]
    centre: list[str]
    right: list[str]


class SceneResult(BaseModel):
    description: str = Field(description="one sentence naming the detected objects")
    brightness: float = Field(description="mean luma, 0 (black) .. 1 (white)")
    lighting: Lighting
    layout: SceneLayout = Field(description="detected objects by the third of the image their centre is in")
    top_classes: list[Prediction] = Field(description="the whole image's three most probable ImageNet classes")


class AnalysisResults(BaseModel):
    objects: list[DetectedObject] | None = Field(default=None, description="object_detection: the perception "
                                                 "node's detections, bbox [x_min, y_min, x_max, y_max] in pixels")
    text: list[TextRegion] | None = Field(default=None, description="text_extraction: the lines of text read "
                                          "(RapidOCR), top to bottom and left to right; [] when there is none")
    scene: SceneResult | None = Field(default=None, description="scene_analysis")


class VisionAnalysis(BaseModel):
    request_id: str
    image_info: ImageInfo
    analysis_types: list[AnalysisType]
    analysis_results: AnalysisResults
    processing_time: float = Field(description="seconds")


class VisionClassification(BaseModel):
    request_id: str
    model: str
    image_info: ImageInfo
    predictions: list[Prediction]
    processing_time: float = Field(description="seconds")
