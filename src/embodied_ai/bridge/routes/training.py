"""Training API: dataset upload and training jobs, over the experts node."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile

from embodied_ai.bridge.errors import ApiError, error_responses
from embodied_ai.bridge.port import RobotGraph
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.training import (DatasetInfo, TrainingJob, TrainingStart, TrainingStatus,
                                                 TrainingStopped)
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings

router = APIRouter(prefix=deps.API_PREFIX, tags=["training"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 413, 422, 429, 503, 504))
Graph = Annotated[RobotGraph, Depends(deps.graph)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]
JobId = Annotated[int, Path(ge=0, le=2**63 - 1)]
DATASET_SUFFIXES = {".jsonl", ".txt", ".csv"}
UPLOADS = ("datasets", "uploads")  # under the state directory


@router.post("/datasets/upload", summary="Upload a training dataset (JSONL, TXT or CSV)")
async def upload_dataset(
    settings: Settings, graph: Graph,
    file: Annotated[UploadFile, File(description="JSONL, TXT or CSV, UTF-8")],
    expert_id: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")],
    name: Annotated[str, Form(min_length=1, max_length=128)],
) -> Envelope[DatasetInfo]:
    # The client's file name picks only the suffix; the stored name is ours.
    suffix = PurePath(file.filename or "").suffix.lower()
    if suffix not in DATASET_SUFFIXES:
        raise ApiError(400, f"dataset must be one of {', '.join(sorted(DATASET_SUFFIXES))}", file.filename)
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(413, f"dataset larger than {settings.max_upload_bytes} bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "dataset is not UTF-8 text", f"byte {exc.start}") from exc
    folder = settings.state_dir.joinpath(*UPLOADS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    try:
        return ok(await graph.register_dataset(path, expert_id, name))
    finally:
        # Taken or refused, the experts node has answered: it keeps its own validated copy of
        # what it took, so the upload is not kept twice (and nothing is kept when refused).
        path.unlink(missing_ok=True)


@router.post("/training/start", status_code=201, summary="Start training an expert")
async def start_training(body: TrainingStart, graph: Graph) -> Envelope[TrainingJob]:
    return ok(await graph.start_training(body))


@router.get("/training/{job_id}/status", summary="A training job's progress")
async def training_status(job_id: JobId, graph: Graph) -> Envelope[TrainingStatus]:
    return ok(await graph.training_status(job_id))


@router.post("/training/{job_id}/stop", summary="Stop a training job (a checkpoint is saved)")
async def stop_training(job_id: JobId, graph: Graph) -> Envelope[TrainingStopped]:
    return ok(await graph.stop_training(job_id))
