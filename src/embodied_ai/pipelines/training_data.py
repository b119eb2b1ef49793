"""The rows a TrainingAgent trains on: the upstream table as the experts' training JSONL, split into
training rows and held-out rows (kept for the EvaluationAgent).

The table's columns decide what each record becomes, the first that fits:

- ``messages`` (PreprocessingAgent's chatml template, or chat data): a chat row, ``{"messages"}``;
- ``prompt`` and ``completion`` (its alpaca template, or raw data): ``{"prompt", "completion"}``;
- ``instruction`` and ``output`` (``input`` too when present): joined as the experts' loader joins them;
- ``question`` and ``answer``: a prompt and its completion;
- else the text column (the dataset's ``text_column``, else guessed): ``{"text"}``, plain language-model
  text with the loss on all of it. Not an empty prompt with the text as its answer: in the chat format
  that would teach the model to answer an empty user turn.

`training.ChatDataset` reads the first three in the chat format every expert is served with, the loss on
the answer only. The rows go through the experts' own loader (`datasets.load_dataset`: empty fields, one
row kind per dataset, duplicates; a bad row is reported by its row in the table and left out), then a
seeded split (`datasets.split`) holds ``validation_fraction`` of them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_ai.experts.datasets import (
    DatasetInvalidError,
    RowError,
    detect_text_column,
    load_dataset,
    read_records,
    split,
    write_records_jsonl,
)
from embodied_ai.pipelines.agents import DatasetRef
from embodied_ai.pipelines.templates import as_text

# Columns that hold a question and its answer, and the training row's names for them.
ANSWER_COLUMNS: tuple[tuple[str, str], ...] = (("prompt", "completion"), ("question", "answer"))


@dataclass(frozen=True)
class TrainingData:
    train: Path                 # JSONL rows the training job copies and trains on
    held_out: Path              # JSONL rows it never sees (possibly none)
    train_rows: int
    held_out_rows: int

    @classmethod
    def read(cls, train: Path, held_out: Path) -> TrainingData:
        """The split an earlier attempt wrote (a resumed run trains on exactly those rows)."""
        return cls(train, held_out, _count_rows(train), _count_rows(held_out))


def training_rows(records: list[Mapping[str, Any]], columns: list[str],
                  text_column: str | None) -> list[dict[str, Any]]:
    """Each record as a row the experts' loader reads (the module's docstring says which)."""
    if "messages" in columns:
        return [{"messages": values.get("messages")} for values in records]
    for question, answer in ANSWER_COLUMNS:
        if question in columns and answer in columns:
            return [{"prompt": as_text(v.get(question)), "completion": as_text(v.get(answer))} for v in records]
    if "instruction" in columns and "output" in columns:
        return [{"instruction": as_text(v.get("instruction")), "input": as_text(v.get("input")),
                 "output": as_text(v.get("output"))} for v in records]
    if text_column is None or text_column not in columns:
        raise DatasetInvalidError(f"the dataset has nothing to train on: no messages, prompt/completion, "
                                  f"instruction/output or question/answer columns, and no text column (columns: "
                                  f"{', '.join(columns)})")
    return [{"text": as_text(values.get(text_column))} for values in records]


def prepare_training_data(ref: DatasetRef, train: Path, held_out: Path, validation_fraction: float, seed: int,
                          max_bytes: int | None = None) -> tuple[TrainingData, list[RowError]]:
    """Write the training and held-out rows of the table ``ref``; also returns the rows left out (numbered
    as in the table). DatasetInvalidError when no row is usable or none is left to train on."""
    table = read_records(ref.path, ref.format, max_bytes=max_bytes)
    text_column = ref.text_column or detect_text_column(table.records, table.columns)
    rows = training_rows([r.values for r in table.records], table.columns, text_column)
    staged = train.with_name(f".{train.name}.rows")
    write_records_jsonl(staged, rows)
    try:
        validated = load_dataset(staged, "jsonl")
    finally:
        staged.unlink(missing_ok=True)
    # The loader numbers the lines of the staged file: one per record, in order.
    errors = sorted([*table.errors, *(RowError(table.records[e.row - 1].row, e.message) for e in validated.errors)],
                    key=lambda e: e.row)
    parts = split(validated, validation_fraction, seed)
    if not parts.train:
        raise DatasetInvalidError(f"no rows left to train on: {len(validated.rows)} usable, all held out by "
                                  f"validation_fraction {validation_fraction}")
    write_records_jsonl(held_out, (row.to_json() for row in parts.validation))
    write_records_jsonl(train, (row.to_json() for row in parts.train))
    return TrainingData(train, held_out, len(parts.train), len(parts.validation)), errors


def _count_rows(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
