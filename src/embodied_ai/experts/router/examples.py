"""Labelled prompts for training the router: JSONL rows of {"prompt": ..., "expert": ...}.

Validated like the experts' datasets: a malformed row is reported by its line number and
skipped, the good rows are kept, and a file with no usable row is DATASET_INVALID.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from embodied_ai.experts.datasets import DatasetInvalidError, RowError
from embodied_ai.experts.router.storage import atomic_write_bytes


@dataclass(frozen=True)
class LabelledPrompt:
    prompt: str
    expert: str


@dataclass(frozen=True)
class LabelledPrompts:
    examples: list[LabelledPrompt]
    errors: list[RowError]
    duplicates_removed: int


def load_labelled_prompts(path: str | Path) -> LabelledPrompts:
    """Read a JSONL of labelled prompts; the same prompt twice keeps the first label (a
    conflicting second label is reported, since the gate cannot learn both)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as error:
        raise DatasetInvalidError(f"cannot read labelled prompts {path}: {error.strerror or error}") from error
    examples: list[LabelledPrompt] = []
    errors: list[RowError] = []
    label_of: dict[str, str] = {}
    duplicates = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            example = _parse(line)
        except ValueError as reason:
            errors.append(RowError(number, str(reason)))
            continue
        key = " ".join(example.prompt.split()).lower()
        if key in label_of:
            if label_of[key] != example.expert:
                errors.append(RowError(number, f"prompt already labelled {label_of[key]!r}, here {example.expert!r}"))
            else:
                duplicates += 1
            continue
        label_of[key] = example.expert
        examples.append(example)
    if not examples:
        detail = f"; first problem: row {errors[0].row}: {errors[0].message}" if errors else ""
        raise DatasetInvalidError(f"{path.name} has no usable labelled prompts{detail}")
    return LabelledPrompts(examples, errors, duplicates)


def _parse(line: str) -> LabelledPrompt:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    values = []
    for name in ("prompt", "expert"):
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"field '{name}' must be a non-empty string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid UTF-8") from None
        values.append(value.strip())
    return LabelledPrompt(*values)


def write_labelled_prompts(path: str | Path, examples: Iterable[LabelledPrompt]) -> None:
    lines = (json.dumps({"prompt": e.prompt, "expert": e.expert}, ensure_ascii=False) + "\n" for e in examples)
    atomic_write_bytes(Path(path), "".join(lines).encode("utf-8"))
