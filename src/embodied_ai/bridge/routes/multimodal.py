"""Multimodal API: object detection, speech to text, text to speech, and all three at once
with the text (typed or heard) executed by the commander."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from embodied_ai.bridge.errors import ApiError, error_responses
from embodied_ai.bridge.ports.common import Detection
from embodied_ai.bridge.ports.media import MediaPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.multimodal import (
    DetectedObject,
    Detections,
    MultimodalResult,
    SynthesizeBody,
    TextUnderstanding,
    Transcription,
    Understanding,
    VisionUnderstanding,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.uploads import AUDIO_TYPES, IMAGE_TYPES, read_upload
from embodied_ai.errors import EmbodiedError, ErrorCode, api_error_code

router = APIRouter(prefix=deps.API_PREFIX, tags=["multimodal"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 413, 422, 429, 503, 504))
Media = Annotated[MediaPort, Depends(deps.media)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]
VOICES = ("default",)  # the speak action has one voice: the TTS node's


def detected_objects(found: list[Detection]) -> list[DetectedObject]:
    # "class" is the contract's name (a Python keyword): set by alias.
    return [DetectedObject.model_validate({
        "class": d.label, "confidence": d.score, "bbox": list(d.bbox),
        "center": [(d.bbox[0] + d.bbox[2]) / 2, (d.bbox[1] + d.bbox[3]) / 2], "object_id": d.object_id})
        for d in found]


async def transcription(media: MediaPort, audio: bytes, language: str = "") -> Transcription:
    t = await media.transcribe(audio, language)
    return Transcription(text=t.text, language=t.language, confidence=t.confidence, duration_seconds=t.duration_s)


@router.post("/vision/detect", summary="Detect objects in an image (PNG or JPEG)")
async def detect(media: Media, settings: Settings,
                 image: Annotated[UploadFile, File(description="PNG or JPEG")]) -> Envelope[Detections]:
    data = await read_upload(image, IMAGE_TYPES, "image", settings.max_upload_bytes)
    outcome = await media.detect(data)
    found = detected_objects(outcome.detections)
    return ok(Detections(detections=found, num_objects=len(found), inference_time_ms=outcome.inference_time_ms))


@router.post("/audio/transcribe", summary="Speech to text (WAV, MP3, OGG or FLAC)")
async def transcribe(media: Media, settings: Settings,
                     audio: Annotated[UploadFile, File(description="WAV, MP3, OGG or FLAC")],
                     language: Annotated[str, Form(max_length=8, pattern=r"^[a-z]{0,3}$")] = ""
                     ) -> Envelope[Transcription]:
    data = await read_upload(audio, AUDIO_TYPES, "audio", settings.max_upload_bytes)
    return ok(await transcription(media, data, language))


@router.post("/audio/synthesize", summary="Text to speech; answers a WAV file",
             response_class=Response, responses={200: {"content": {"audio/wav": {}}, "description": "16-bit WAV"}})
async def synthesize(body: SynthesizeBody, media: Media) -> Response:
    if body.voice not in VOICES:
        raise ApiError(400, f"unknown voice '{body.voice}'", f"available: {', '.join(VOICES)}")
    outcome = await media.synthesize(body.text, body.speed)
    return Response(outcome.wav, media_type="audio/wav",
                    headers={"X-Audio-Duration-Seconds": f"{outcome.duration_s:.3f}"})


@router.post("/multimodal/process", summary="Text, image and audio in; understanding and a response out",
             description="Audio is transcribed; an image goes to the detector; the text (typed, else the "
                         "transcript) goes to the commander, which runs robot commands and answers questions.")
async def process(media: Media, settings: Settings,
                  text: Annotated[str | None, Form(max_length=10_000)] = None,
                  image: Annotated[UploadFile | None, File(description="PNG or JPEG")] = None,
                  audio: Annotated[UploadFile | None, File(description="WAV, MP3, OGG or FLAC")] = None,
                  ) -> Envelope[MultimodalResult]:
    if not text and image is None and audio is None:
        raise ApiError(400, "send at least one of text, image, audio")
    understanding = Understanding()
    if audio is not None:
        understanding.transcript = await transcription(
            media, await read_upload(audio, AUDIO_TYPES, "audio", settings.max_upload_bytes))
    if image is not None:
        detected = await media.detect(await read_upload(image, IMAGE_TYPES, "image", settings.max_upload_bytes))
        found = detected_objects(detected.detections)
        understanding.vision = VisionUnderstanding(
            objects=[d.label for d in found], detections=found,
            confidence=sum(d.confidence for d in found) / len(found) if found else None)
    command = text or (understanding.transcript.text if understanding.transcript else "")
    response = None
    if command.strip():
        outcome = await media.handle_command(command)
        # No reply, or no one to carry the command out yet (the experts still loading): an
        # error, never a 200 after which nothing moved.
        if not outcome.success and (not outcome.reply or outcome.error_code == ErrorCode.EXPERT_NOT_READY):
            raise EmbodiedError(outcome.message, api_error_code(outcome.error_code, ErrorCode.INFERENCE_FAILED))
        actions = json.loads(outcome.actions_json or "[]")
        understanding.text = TextUnderstanding(intent="command" if actions else "query", actions=actions,
                                               expert=outcome.expert, success=outcome.success)
        response = outcome.reply
    return ok(MultimodalResult(understanding=understanding, response=response))
