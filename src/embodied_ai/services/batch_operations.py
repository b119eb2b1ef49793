"""One item of a ``batch_processing`` job through its service: the NLP analyses and summaries
(embodied_ai.nlp), the vision classifier, OCR and scene summary (embodied_ai.perception), or the experts'
generation. Each returns the JSON-ready fields of the item's result line and raises an EmbodiedError for an
item it cannot process. The libraries are imported on first use: the jobs node starts without them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embodied_ai.perception.images import ImageError

if TYPE_CHECKING:
    from embodied_ai.experts.batch_jobs import Generate

# The detector's and the classifier's own bounds (perception.detector.check_image), checked on the file's
# header before its pixels are decoded: a small file must not decode into gigabytes.
MIN_SIDE, MAX_SIDE = 16, 8192
SCENE_TOP_CLASSES = 3   # as POST /v1/ai/vision/analyze's scene


def analyze(text: str, analysis_types: list[str] | None, language: str | None,
            max_keywords: int | None) -> dict[str, Any]:
    from embodied_ai.nlp import analyze_text

    options: dict[str, Any] = {"language": language, "max_keywords": max_keywords}
    if analysis_types:
        options["analysis_types"] = analysis_types
    return asdict(analyze_text(text, **{k: v for k, v in options.items() if v is not None}))


def summarize(text: str, max_length: int, min_length: int) -> dict[str, Any]:
    from embodied_ai.nlp import summarize_extractive

    return asdict(summarize_extractive(text, max_length, min_length))


def load_rgb(path: Path) -> np.ndarray:
    """A PNG or JPEG file as HxWx3 uint8 RGB; ImageError for anything else or a size outside the bounds."""
    from PIL import Image

    try:
        with Image.open(path) as picture:
            width, height = picture.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise ImageError(f"image is {width}x{height} pixels; each side must be {MIN_SIDE}..{MAX_SIDE}")
            if picture.format not in ("PNG", "JPEG"):
                raise ImageError(f"image must be PNG or JPEG, not {picture.format}")
            return np.asarray(picture.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"the image could not be decoded: {exc}") from exc


def classifier_problems() -> list[str]:
    """Why the ImageNet classifier cannot run here (its ONNX graph is built into the cache, not shipped)."""
    from embodied_ai.perception.classifier import default_model_path

    model = default_model_path()
    return [] if model.is_file() else [
        f"the image classifier is not built ({model} is missing): run `.venv/bin/python models/classifier/build.py`"]


def classify(path: Path, top_k: int) -> dict[str, Any]:
    rgb = load_rgb(path)
    return {"image_info": _image_info(rgb), "predictions": _predictions(rgb, top_k)}


def analyze_image(path: Path, analysis_types: list[str], min_confidence: float | None) -> dict[str, Any]:
    """``text_extraction`` (OCR lines, boxes as x1 y1 x2 y2) and ``scene_analysis`` (brightness, lighting and
    the classifier's top classes; no object layout: that needs the perception node's detections)."""
    rgb = load_rgb(path)
    result: dict[str, Any] = {"image_info": _image_info(rgb)}
    if "text_extraction" in analysis_types:
        from embodied_ai.perception.ocr import DEFAULT_MIN_CONFIDENCE, read_text

        lines = read_text(rgb, DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence)
        result["text"] = [{"text": line.text, "confidence": round(line.confidence, 4),
                           "bbox": [line.box[0], line.box[1], line.box[0] + line.box[2], line.box[1] + line.box[3]]}
                          for line in lines]
    if "scene_analysis" in analysis_types:
        from embodied_ai.perception.scene_analysis import summarize_scene

        summary = summarize_scene(rgb, [])
        result["scene"] = {"brightness": summary.brightness, "lighting": summary.lighting,
                           "top_classes": _predictions(rgb, SCENE_TOP_CLASSES)}
    return result


def generate(generator: Generate, prompt: str, expert: str, system: str, max_tokens: int,
             temperature: float) -> dict[str, Any]:
    done = generator(prompt, expert, system, max_tokens, temperature)
    return {"text": done.text, "expert": done.expert, "finish_reason": done.finish_reason,
            "completion_tokens": done.completion_tokens}


def _predictions(rgb: np.ndarray, top_k: int) -> list[dict[str, Any]]:
    """The classifier's ``top_k`` as POST /v1/ai/vision/classify names them."""
    from embodied_ai.perception.classifier import shared_classifier

    scores = shared_classifier().classify(np.ascontiguousarray(rgb[:, :, ::-1]), top_k)   # it takes BGR
    return [{"class": s.label, "confidence": round(s.confidence, 6), "class_id": s.class_id} for s in scores]


def _image_info(rgb: np.ndarray) -> dict[str, int]:
    return {"width": int(rgb.shape[1]), "height": int(rgb.shape[0])}
