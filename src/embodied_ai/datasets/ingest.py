"""What an added dataset file holds: its table analysis (seed 004's ``analysis``) and, when its rows are
training rows, the validated JSONL an expert trains on (seed 000's upload).

Both readers come from embodied_ai.experts.datasets: ``read_records`` / ``analyse_records`` read any
table (CSV, JSON, JSONL, Parquet, TXT); ``load_dataset`` validates training rows (prompt/completion,
instruction/output, chat messages or text), counts invalid rows and duplicates and names the bad rows.
``load_dataset`` reads JSONL, TXT and CSV files; a JSON or Parquet table's records are handed to it as
JSONL lines at their own row numbers, so a bad row is named by its number in the uploaded file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_ai.experts.datasets import (
    MAX_REPORTED_ERRORS,
    DatasetAnalysis,
    DatasetFormat,
    DatasetInvalidError,
    RecordSet,
    RowError,
    TableFormat,
    ValidatedDataset,
    analyse_records,
    load_dataset,
    read_records,
    write_records_jsonl,
)

# Formats load_dataset reads itself (seed 000's upload formats); the others go through their records.
TRAINING_FORMATS: dict[str, DatasetFormat] = {"jsonl": "jsonl", "txt": "txt", "csv": "csv"}


@dataclass(frozen=True)
class TrainingRows:
    """The rows an expert trains on, as seed 000's upload reports them."""

    kind: str                   # instruction | chat | text
    samples: int                # kept: valid and not duplicates
    invalid_rows: int
    duplicates_removed: int
    row_errors: list[str]       # "row N: why", the first MAX_REPORTED_ERRORS
    approx_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "samples": self.samples, "invalid_rows": self.invalid_rows,
                "duplicates_removed": self.duplicates_removed, "row_errors": list(self.row_errors),
                "approx_tokens": self.approx_tokens}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> TrainingRows:
        return cls(kind=value["kind"], samples=value["samples"], invalid_rows=value["invalid_rows"],
                   duplicates_removed=value["duplicates_removed"], row_errors=list(value["row_errors"]),
                   approx_tokens=value["approx_tokens"])


@dataclass(frozen=True)
class Ingested:
    analysis: DatasetAnalysis
    training: TrainingRows | None   # None: no training rows (training_error says why)
    training_error: str | None


def ingest(original: Path, format: TableFormat, training_file: Path, *, require_training: bool) -> Ingested:
    """Analyse ``original`` and write its validated training rows to ``training_file`` when it has any.

    DatasetInvalidError when the table has no usable row, and, with ``require_training`` (an upload for an
    expert), when it has no usable training row: its message names the problem rows.
    """
    table = read_records(original, format)
    _check_column_names(table)
    analysis = analyse_records(table)
    try:
        validated, table_errors = _training_rows(table, training_file.parent / ".records")
    except DatasetInvalidError as error:
        if require_training:
            raise
        return Ingested(analysis, None, str(error))
    write_records_jsonl(training_file, (row.to_json() for row in validated.rows))
    errors = sorted(table_errors + validated.errors, key=lambda e: e.row)
    stats = validated.stats
    training = TrainingRows(kind=str(stats.kind), samples=stats.rows, invalid_rows=len(errors),
                            duplicates_removed=stats.duplicates_removed, approx_tokens=stats.approx_tokens,
                            row_errors=[str(e) for e in errors[:MAX_REPORTED_ERRORS]])
    return Ingested(analysis, training, None)


def _check_column_names(table: RecordSet) -> None:
    """DatasetInvalidError for a column name that is not UTF-8 (the table reader checks the values only);
    such a name could not be answered as JSON."""
    for column in table.columns:
        try:
            column.encode("utf-8")
        except UnicodeEncodeError:
            shown = column.encode("utf-8", errors="replace").decode("utf-8")
            raise DatasetInvalidError(f"{table.path.name}: the column name {shown!r} is not valid UTF-8") from None


def _training_rows(table: RecordSet, scratch_dir: Path) -> tuple[ValidatedDataset, list[RowError]]:
    """The validated training rows of ``table``, and the rows its table reader already refused (which a
    conversion to JSONL leaves out, so they are counted here)."""
    own_format = TRAINING_FORMATS.get(table.format)
    if own_format is not None:
        return load_dataset(table.path, own_format), []
    by_row = {record.row: record.values for record in table.records}
    # The file's own name, so that load_dataset's messages name the file the client sent.
    scratch = scratch_dir / table.path.name
    try:
        scratch_dir.mkdir(exist_ok=True)
        # Line N is row N; a row the table reader refused is a blank line, which load_dataset skips.
        scratch.write_text("".join(json.dumps(by_row[n], ensure_ascii=False) + "\n" if n in by_row else "\n"
                                   for n in range(1, max(by_row) + 1)), encoding="utf-8")
        validated = load_dataset(scratch, "jsonl")
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
    return validated, list(table.errors)
