"""Seed 002's vision service: ``POST /v1/ai/vision/analyze`` and ``POST /v1/ai/vision/classify``.

The image is an upload (PNG or JPEG, checked as ``POST /v1/vision/detect`` checks it) or, with ``camera``,
that camera's latest frame as the bridge keeps it. ``object_detection`` goes to the perception node's detect
service through the media port, as ``/v1/vision/detect`` does (503 when no perception node runs).

The ImageNet classifier (``embodied_ai.perception.classifier``: EfficientNet-Lite0 on ONNX Runtime, built by
models/classifier/build.py) and ``text_extraction``'s OCR (``embodied_ai.perception.ocr``: RapidOCR on ONNX
Runtime) run on the perception side of the graph, in the ``vision_services`` node (services
``classify_image``, ``read_text``), reached through the media port. The route decodes the image once (in a
worker thread, as the scene summary runs) and sends the pixels.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from typing import Annotated, get_args

import numpy as np
from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from embodied_ai.bridge.errors import ApiError, error_responses
from embodied_ai.bridge.ports.hardware import HardwarePort
from embodied_ai.bridge.ports.media import MediaPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.ai_llm import request_id
from embodied_ai.bridge.routes.multimodal import detected_objects
from embodied_ai.bridge.schemas.ai_vision import (
    AnalysisResults,
    AnalysisType,
    ImageInfo,
    Prediction,
    SceneLayout,
    SceneResult,
    TextRegion,
    VisionAnalysis,
    VisionClassification,
)
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.uploads import IMAGE_TYPES, read_upload
from embodied_ai.perception.classifier import MAX_TOP_K, ClassScore
from embodied_ai.perception.ocr import DEFAULT_MIN_CONFIDENCE
from embodied_ai.perception.scene_analysis import BoxedObject, summarize_scene

router = APIRouter(prefix=f"{deps.API_PREFIX}/ai/vision", tags=["ai-vision"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 413, 429, 503, 504))
Media = Annotated[MediaPort, Depends(deps.media)]
Hardware = Annotated[HardwarePort, Depends(deps.hardware)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]
ANALYSIS_TYPES: tuple[str, ...] = get_args(AnalysisType)
NEEDS_DETECTIONS = ("object_detection", "scene_analysis")
# The detector's and the classifier's own bounds (perception.detector.check_image), checked on the
# image's header before its pixels are decoded: a small file must not decode into gigabytes.
MIN_SIDE, MAX_SIDE = 16, 8192
SCENE_TOP_CLASSES = 3
CLASSIFIER_MODEL = "efficientnet_lite0"

ImageFile = Annotated[UploadFile | None, File(description="PNG or JPEG; or send `camera` instead")]
CameraName = Annotated[str | None, Form(max_length=64, description="analyse this camera's latest frame "
                                                                   "(e.g. head_camera) instead of an upload")]


@dataclass(frozen=True)
class VisionInput:
    encoded: bytes
    rgb: np.ndarray   # HxWx3 uint8
    info: ImageInfo


def decode_image(encoded: bytes, camera: str | None) -> VisionInput:
    """Decode PNG/JPEG bytes to RGB after checking the size the header declares (400 if outside bounds)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(encoded)) as picture:
            width, height = picture.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise ApiError(400, f"image is {width}x{height} pixels; each side must be {MIN_SIDE}..{MAX_SIDE}")
            image_format = picture.format
            rgb = np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ApiError(400, "the image could not be decoded", str(exc)) from exc
    if image_format not in ("PNG", "JPEG"):
        raise ApiError(400, f"image must be PNG or JPEG, not {image_format}")
    return VisionInput(encoded, rgb, ImageInfo(width=width, height=height, format=image_format,
                                               size_bytes=len(encoded), camera=camera))


async def vision_input(image: UploadFile | None, camera: str | None, hardware: HardwarePort,
                       settings: BridgeSettings) -> VisionInput:
    if (image is None) == (camera is None):
        raise ApiError(400, "send either an image file or a camera name", "got both" if image else "got neither")
    if camera is not None:
        if camera not in settings.cameras:
            raise ApiError(400, f"unknown camera '{camera}'", f"cameras: {', '.join(settings.cameras)}")
        encoded = hardware.camera_frame(camera).jpeg   # 503 when the camera has no recent frame
    else:
        assert image is not None
        encoded = await read_upload(image, IMAGE_TYPES, "image", settings.max_upload_bytes)
    return await run_in_threadpool(decode_image, encoded, camera)


def analysis_types(values: list[str] | None) -> list[AnalysisType]:
    """The requested analyses, in the order of ANALYSIS_TYPES. A form may repeat the field, or send one
    JSON list (``["object_detection", "scene_analysis"]``) or a comma-separated list."""
    names: list[str] = []
    for value in values or ["object_detection"]:
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ApiError(400, "analysis_type is not a valid JSON list", str(exc)) from exc
            if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
                raise ApiError(400, "analysis_type must be a list of names")
            names.extend(p.strip() for p in parsed)
        else:
            names.extend(part.strip() for part in text.split(",") if part.strip())
    problems = [f"unknown analysis_type '{n}'" for n in dict.fromkeys(names) if n not in ANALYSIS_TYPES]
    if problems:
        raise ApiError(400, "; ".join(problems), f"available: {', '.join(ANALYSIS_TYPES)}")
    if not names:
        raise ApiError(400, "analysis_type names no analysis", f"available: {', '.join(ANALYSIS_TYPES)}")
    return [t for t in get_args(AnalysisType) if t in names]


def predictions(scores: list[ClassScore]) -> list[Prediction]:
    return [Prediction.model_validate({"class": s.label, "confidence": s.confidence, "class_id": s.class_id})
            for s in scores]


async def classify_rgb(media: MediaPort, rgb: np.ndarray, top_k: int) -> list[Prediction]:
    """The classifier's ``top_k`` (the vision_services node's)."""
    return predictions(await media.classify(rgb, top_k))


async def extract_text(media: MediaPort, rgb: np.ndarray) -> list[TextRegion]:
    """The lines of text in the image (the vision_services node's OCR)."""
    lines = await media.read_text(rgb, DEFAULT_MIN_CONFIDENCE)
    return [TextRegion(text=line.text, confidence=round(line.confidence, 4),
                       bbox=[line.box[0], line.box[1], line.box[0] + line.box[2], line.box[1] + line.box[3]])
            for line in lines]


@router.post("/analyze", summary="Detect objects, read text and summarise the scene in an image or a camera's "
                                 "frame")
async def analyze(media: Media, hardware: Hardware, settings: Settings, image: ImageFile = None,
                  camera: CameraName = None,
                  analysis_type: Annotated[list[str] | None, Form(
                      description=f"one or more of {', '.join(ANALYSIS_TYPES)} (default object_detection)")] = None,
                  model: Annotated[str | None, Form(max_length=128, description=(
                      "only `default`: detection is the perception node's model"))] = None,
                  ) -> Envelope[VisionAnalysis]:
    started = time.perf_counter()
    wanted = analysis_types(analysis_type)
    if model not in (None, "", "default"):
        raise ApiError(400, f"unknown model '{model}'", "detection uses the perception node's model: send none")
    source = await vision_input(image, camera, hardware, settings)
    needs_detections = any(t in wanted for t in NEEDS_DETECTIONS)
    found = detected_objects((await media.detect(source.encoded)).detections) if needs_detections else []
    results = AnalysisResults(objects=found if "object_detection" in wanted else None)
    if "text_extraction" in wanted:
        results.text = await extract_text(media, source.rgb)
    if "scene_analysis" in wanted:
        boxed = [BoxedObject(o.label, o.confidence, (o.bbox[0], o.bbox[1], o.bbox[2], o.bbox[3]),
                             o.object_id if o.object_id >= 0 else None) for o in found]
        summary = await run_in_threadpool(summarize_scene, source.rgb, boxed)
        results.scene = SceneResult(description=summary.description, brightness=summary.brightness,
                                    lighting=summary.lighting,
                                    layout=SceneLayout(**summary.layout),
                                    top_classes=await classify_rgb(media, source.rgb, SCENE_TOP_CLASSES))
    return ok(VisionAnalysis(request_id=request_id(), image_info=source.info, analysis_types=wanted,
                             analysis_results=results, processing_time=round(time.perf_counter() - started, 4)))


@router.post("/classify", summary="The most probable ImageNet-1k classes of an image or a camera's frame")
async def classify(media: Media, hardware: Hardware, settings: Settings, image: ImageFile = None,
                   camera: CameraName = None,
                   top_k: Annotated[int, Form(ge=1, le=MAX_TOP_K)] = 5,
                   model: Annotated[str | None, Form(max_length=128, description=(
                       f"only `{CLASSIFIER_MODEL}` (the default)"))] = None,
                   ) -> Envelope[VisionClassification]:
    started = time.perf_counter()
    if model not in (None, "", "default", CLASSIFIER_MODEL):
        raise ApiError(400, f"unknown model '{model}'", f"available: {CLASSIFIER_MODEL}")
    source = await vision_input(image, camera, hardware, settings)
    found = await classify_rgb(media, source.rgb, top_k)
    return ok(VisionClassification(request_id=request_id(), model=CLASSIFIER_MODEL, image_info=source.info,
                                   predictions=found, processing_time=round(time.perf_counter() - started, 4)))
