"""The Datasets API's contract: seed 000's upload (``{dataset_id, num_samples, size_mb, status}`` for an
expert's training data) and seed 004's (upload with its ``analysis``, get, preview) in one shape, inside
the Robot API's envelope. Dataset ids are integers.

``rows`` / ``num_rows`` count the table's usable rows (what a pipeline reads); ``num_samples`` the rows an
expert trains on (prompt/completion, instruction/output, chat or text rows, valid and not duplicates),
with ``invalid_rows``, ``duplicates_removed`` and ``row_errors`` about them; a table without such rows
has ``num_samples`` 0, ``trainable`` false and ``training_error`` saying why.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from embodied_ai.bridge.ports.datasets import DatasetView
from embodied_ai.bridge.schemas.common import Pagination


class LengthStats(BaseModel):
    """Character lengths of the text column."""

    min_length: int
    avg_length: float
    max_length: int
    p50_length: int
    p95_length: int


class DatasetAnalysis(BaseModel):
    """Seed 004's upload ``analysis``."""

    format: str
    rows: int = Field(description="usable rows")
    columns: list[str]
    text_column: str | None = Field(description="the column that holds the text (a usual name, else the longest)")
    stats: LengthStats
    invalid_rows: int = Field(description="rows the table reader refused")
    errors: list[str] = Field(description='"row N: why", the first 20')
    size_bytes: int


class DatasetData(BaseModel):
    dataset_id: int
    name: str
    filename: str = Field(description="the uploaded file's name")
    format: str = Field(description="csv | json | jsonl | parquet | txt")
    description: str
    expert: str | None = Field(description="the name of the expert it was uploaded for (seed 000's expert_id), "
                                           "else null")
    status: str = Field(description="ready")
    rows: int = Field(description="the table's usable rows (seed 004)")
    num_rows: int = Field(description="the same as rows")
    columns: list[str]
    text_column: str | None
    size_bytes: int
    size_mb: float
    file_path: str = Field(description="the stored file, relative to the datasets folder (a DatasetAgent's "
                                       "file_path; its dataset_id reads the same file)")
    analysis: DatasetAnalysis
    num_samples: int = Field(description="training rows kept: valid and not duplicates (seed 000)")
    invalid_rows: int = Field(description="training rows left out as invalid")
    duplicates_removed: int
    row_errors: list[str] = Field(description='"row N: why" for the training rows left out (the first 20)')
    trainable: bool = Field(description="it has training rows (what /training/start reads)")
    training_kind: str | None = Field(description="instruction | chat | text")
    training_error: str | None = Field(description="why it has no training rows")
    created_at: str


class DatasetPreview(BaseModel):
    dataset_id: int
    samples: list[dict[str, Any]]
    total_rows: int


class DatasetList(BaseModel):
    datasets: list[DatasetData]
    pagination: Pagination


def dataset_data(view: DatasetView) -> DatasetData:
    return DatasetData.model_validate(view)
