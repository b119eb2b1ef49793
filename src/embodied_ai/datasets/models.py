"""A registered dataset, and how the API shows it: seed 004's fields (dataset_id, filename, format,
rows, columns, text_column, size_bytes, analysis, created_at) and seed 000's upload answer
(dataset_id, num_samples, size_mb, status, invalid_rows, duplicates_removed, row_errors) in one record.

``rows`` counts the table's usable rows (what a pipeline reads); ``num_samples`` the training rows an
expert would train on (prompt/completion, instruction/output, chat or text rows, valid and not
duplicates): 0 for a table that has none, e.g. a CSV of ``text,label`` (``training_error`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from embodied_ai.datasets.ingest import TrainingRows

STATUS_READY = "ready"   # seed 000's status: the dataset is stored and can be used


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    filename: str                    # the name the client gave the file
    format: str                      # csv | json | jsonl | parquet | txt
    description: str
    expert: str | None               # the name of the expert it was uploaded for (seed 000), else None
    folder: str                      # its folder, relative to the datasets directory
    stored_name: str                 # the original file's name in the folder
    size_bytes: int
    analysis: dict[str, Any]         # embodied_ai.experts.datasets.DatasetAnalysis.to_dict()
    training: TrainingRows | None    # None: no training rows
    training_error: str | None       # why there are none
    created_at: str

    @property
    def file_path(self) -> str:
        """The original file, relative to the datasets directory (a DatasetAgent's ``file_path``)."""
        return f"{self.folder}/{self.stored_name}"

    def to_dict(self) -> dict[str, Any]:
        training = self.training
        return {
            "dataset_id": self.id, "name": self.name, "filename": self.filename, "format": self.format,
            "description": self.description, "expert": self.expert, "status": STATUS_READY,
            "rows": self.analysis["rows"], "num_rows": self.analysis["rows"], "columns": self.analysis["columns"],
            "text_column": self.analysis["text_column"], "size_bytes": self.size_bytes,
            "size_mb": round(self.size_bytes / 2**20, 6), "file_path": self.file_path,
            "analysis": self.analysis,
            "num_samples": training.samples if training else 0,
            "invalid_rows": training.invalid_rows if training else 0,
            "duplicates_removed": training.duplicates_removed if training else 0,
            "row_errors": list(training.row_errors) if training else [],
            "trainable": training is not None, "training_kind": training.kind if training else None,
            "training_error": self.training_error,
            "created_at": self.created_at,
        }
