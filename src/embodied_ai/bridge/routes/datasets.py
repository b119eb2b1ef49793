"""Datasets API (seed 000's upload for an expert's training, seed 004's upload, get and preview), over the
jobs node's dataset registry."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from embodied_ai.bridge.errors import ApiError, error_responses
from embodied_ai.bridge.ports.datasets import DatasetsPort
from embodied_ai.bridge.ports.experts import ExpertsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.paging import paginate
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.datasets import DatasetData, DatasetList, DatasetPreview, dataset_data
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.experts.datasets import (
    DEFAULT_MAX_DATASET_BYTES,
    PREVIEW_DEFAULT_LIMIT,
    PREVIEW_MAX_LIMIT,
    TABLE_FORMAT_BY_SUFFIX,
    DatasetTooLarge,
    save_dataset_stream,
)

router = APIRouter(prefix=deps.API_PREFIX, tags=["datasets"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 413, 429, 503, 504))
Datasets = Annotated[DatasetsPort, Depends(deps.datasets)]
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]
DatasetId = Annotated[int, Path(ge=1, le=2**63 - 1)]
UPLOADS = ("datasets", "uploads")  # under the state directory: where the jobs node may read an upload


@router.post("/datasets/upload", summary="Upload a dataset (CSV, JSON, JSONL, Parquet, TXT)")
async def upload_dataset(
    settings: Settings, datasets: Datasets, experts: Experts,
    file: Annotated[UploadFile, File(description="CSV (header row), JSON (an array of objects), JSONL, Parquet "
                                                 "or TXT (one text a line)")],
    name: Annotated[str | None, Form(max_length=200, description="default: the file's name")] = None,
    expert_id: Annotated[str | None, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
                                          description="seed 000: the expert (id or name) whose training data "
                                                      "this is; its rows must then be training rows")] = None,
    description: Annotated[str, Form(max_length=1000)] = "",
    format: Annotated[str | None, Form(description="csv | json | jsonl | parquet | txt; default: from the "
                                                   "file's suffix")] = None,
) -> Envelope[DatasetData]:
    filename = file.filename or ""
    if not format and PurePath(filename).suffix.lower() not in TABLE_FORMAT_BY_SUFFIX:
        raise ApiError(400, f"dataset must be one of {', '.join(sorted(TABLE_FORMAT_BY_SUFFIX))}, or give its "
                            "format", filename)
    # The client's file name picks the format only; the stored names are the bridge's and the registry's.
    path = settings.state_dir.joinpath(*UPLOADS) / f"{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"
    limit = min(settings.max_upload_bytes, DEFAULT_MAX_DATASET_BYTES)
    try:
        try:
            await run_in_threadpool(save_dataset_stream, file.file, path, limit)
        except DatasetTooLarge as exc:
            raise ApiError(413, f"dataset larger than {limit} bytes") from exc
        expert = (await experts.get_expert(expert_id)).name if expert_id else None   # 404 for an unknown one
        dataset = await datasets.add(path, filename, name or None, expert, description, format or None)
    finally:
        # Taken or refused, the jobs node has answered: it keeps its own copy of what it took.
        path.unlink(missing_ok=True)
    return ok(dataset_data(dataset))


@router.get("/datasets", summary="Datasets, newest first")
async def list_datasets(
    request: Request, response: Response, datasets: Datasets,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Envelope[DatasetList]:
    page, total = await datasets.list_datasets(limit, offset)
    return ok(DatasetList(datasets=[dataset_data(dataset) for dataset in page],
                          pagination=paginate(request, response, limit, offset, len(page), total)))


@router.get("/datasets/{dataset_id}", summary="A dataset: its file, analysis and training rows")
async def get_dataset(dataset_id: DatasetId, datasets: Datasets) -> Envelope[DatasetData]:
    return ok(dataset_data(await datasets.get(dataset_id)))


@router.get("/datasets/{dataset_id}/preview", summary="A dataset's first rows")
async def preview_dataset(
    dataset_id: DatasetId, datasets: Datasets,
    limit: Annotated[int, Query(ge=1, le=PREVIEW_MAX_LIMIT, description="rows")] = PREVIEW_DEFAULT_LIMIT,
) -> Envelope[DatasetPreview]:
    return ok(DatasetPreview.model_validate(await datasets.preview(dataset_id, limit)))
