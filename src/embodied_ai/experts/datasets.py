"""Training datasets for the experts: load JSONL / TXT / CSV, validate row by row, dedup, split.

A malformed row never sinks the file: it is reported by its row number (1-based line number in
the file; for CSV the line the record starts on, the header being line 1) and the good rows are
kept. Only a dataset with no usable row at all is refused, with the Robot API's DATASET_INVALID.

Accepted rows (each normalised to a `DatasetRow`):
- JSONL, instruction style: {"prompt": ..., "completion": ...}
- JSONL, Alpaca style: {"instruction": ..., "input": ... (optional), "output": ...}
- JSONL, chat: {"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}
  ending with an assistant turn
- JSONL, plain text: {"text": ...}
- TXT: one text per line (language-model training); blank lines are skipped
- CSV: a header with `prompt` and `completion` columns (others ignored)

One dataset holds one kind of row (the kind of its first good row): a text row in an
instruction dataset is reported, not silently trained on as something else.

Example::

    dataset = load_dataset("python.jsonl")
    for error in dataset.errors:
        print(f"row {error.row}: {error.message}")
    parts = split(dataset, validation_fraction=0.1, seed=0)
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from embodied_ai.errors import EmbodiedError, ErrorCode

DatasetFormat = Literal["jsonl", "txt", "csv"]
RowKind = Literal["instruction", "chat", "text"]

FORMAT_BY_SUFFIX: dict[str, DatasetFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt", ".csv": "csv"}
CHAT_ROLES = ("system", "user", "assistant")
# The Robot API's bad-input case is a 100 000-character prompt: longer rows are reported, since no
# expert's context window can hold them and silently cutting them would train on a fragment.
DEFAULT_MAX_ROW_CHARS = 100_000
# English text runs at about four characters per token for BPE tokenizers; good enough for a
# size estimate without loading a tokenizer.
CHARS_PER_TOKEN = 4


class DatasetInvalidError(EmbodiedError):
    """A dataset that cannot be used at all (missing, unknown format, no usable row)."""

    code = ErrorCode.DATASET_INVALID


@dataclass(frozen=True)
class RowError:
    row: int
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class DatasetRow:
    """One training example. For `text` rows, `completion` holds the text and `prompt` is ""; for
    `chat` rows, `prompt` is the last user turn and `completion` the final assistant turn (the
    whole conversation is in `messages`)."""

    row: int
    kind: RowKind
    prompt: str
    completion: str
    messages: tuple[ChatMessage, ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.kind == "chat":
            return {"messages": [asdict(m) for m in self.messages]}
        if self.kind == "text":
            return {"text": self.completion}
        return {"prompt": self.prompt, "completion": self.completion}

    def dedup_key(self) -> tuple:
        if self.kind == "chat":
            return ("chat",) + tuple((m.role, m.content.strip()) for m in self.messages)
        return (self.kind, self.prompt.strip(), self.completion.strip())


@dataclass(frozen=True)
class FieldLengths:
    """Character lengths of one field over the kept rows."""

    min: int
    max: int
    mean: float

    @classmethod
    def of(cls, lengths: list[int]) -> FieldLengths:
        if not lengths:
            return cls(0, 0, 0.0)
        return cls(min(lengths), max(lengths), round(sum(lengths) / len(lengths), 2))


@dataclass(frozen=True)
class DatasetStats:
    format: DatasetFormat
    kind: RowKind | None
    rows_read: int            # non-blank rows in the file (header excluded)
    rows: int                 # kept: valid and not a duplicate
    invalid_rows: int
    duplicates_removed: int
    blank_lines_skipped: int
    approx_tokens: int        # characters / 4 over prompt + completion of the kept rows
    field_lengths: dict[str, FieldLengths] = field(default_factory=dict)
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ValidatedDataset:
    path: Path
    rows: list[DatasetRow]
    errors: list[RowError]
    stats: DatasetStats


@dataclass(frozen=True)
class DatasetSplit:
    train: list[DatasetRow]
    validation: list[DatasetRow]
    seed: int
    validation_fraction: float


class _RowInvalid(ValueError):
    """Internal: the reason one row is rejected."""


def load_dataset(
    path: str | Path,
    format: DatasetFormat | None = None,
    max_row_chars: int = DEFAULT_MAX_ROW_CHARS,
) -> ValidatedDataset:
    """Read and validate a dataset file; the format comes from the suffix unless given."""
    path = Path(path)
    dataset_format = format or _format_from_suffix(path)
    if dataset_format not in ("jsonl", "txt", "csv"):
        raise DatasetInvalidError(f"unknown dataset format {dataset_format!r}: use jsonl, txt or csv")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetInvalidError(f"cannot read dataset {path}: {error.strerror or error}") from error
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row is reported by
    # number instead of the whole file failing to decode.
    text = raw.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")

    candidates = {"jsonl": _jsonl_rows, "txt": _txt_rows, "csv": _csv_rows}[dataset_format](text)
    rows: list[DatasetRow] = []
    errors: list[RowError] = []
    seen: set[tuple] = set()
    rows_read = blank = duplicates = 0
    kind: RowKind | None = None
    for row_number, parse in candidates:
        if parse is None:
            blank += 1
            continue
        rows_read += 1
        try:
            row = parse()
            _check_row(row, max_row_chars)
            kind = kind or row.kind
            if row.kind != kind:
                raise _RowInvalid(f"a {row.kind} row in a dataset of {kind} rows")
        except _RowInvalid as reason:
            errors.append(RowError(row_number, str(reason)))
            continue
        key = row.dedup_key()
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        rows.append(row)

    stats = _stats(dataset_format, kind, rows, rows_read, len(errors), duplicates, blank, len(raw))
    if not rows:
        # Name several problem rows: one is often not the only kind of mistake in a file.
        shown = "; ".join(f"row {e.row}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        detail = f"; problems: {shown}{more}" if errors else ""
        raise DatasetInvalidError(f"dataset {path.name} has no usable rows ({rows_read} read){detail}")
    return ValidatedDataset(path=path, rows=rows, errors=errors, stats=stats)


def split(dataset: ValidatedDataset, validation_fraction: float, seed: int) -> DatasetSplit:
    """Seeded shuffle, then the first `validation_fraction` of rows are validation.

    The same rows and seed always give the same split (Python's `random.Random` sequence is
    stable across platforms). With a fraction > 0 and at least two rows, both parts get a row.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    shuffled = list(dataset.rows)
    random.Random(seed).shuffle(shuffled)
    held = int(round(len(shuffled) * validation_fraction))
    if validation_fraction > 0 and len(shuffled) >= 2:
        held = min(max(held, 1), len(shuffled) - 1)
    return DatasetSplit(
        train=shuffled[held:], validation=shuffled[:held], seed=seed, validation_fraction=validation_fraction
    )


def rows_to_jsonl(rows: list[DatasetRow]) -> str:
    """The normalised rows as JSONL (one object per line), e.g. to store an uploaded dataset."""
    return "".join(json.dumps(row.to_json(), ensure_ascii=False) + "\n" for row in rows)


def _format_from_suffix(path: Path) -> DatasetFormat:
    dataset_format = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if dataset_format is None:
        raise DatasetInvalidError(
            f"cannot tell the format of {path.name} from its suffix: name it .jsonl, .txt or .csv or pass format="
        )
    return dataset_format


# Each reader yields (row number, parse): parse is None for a blank line, else a function that
# builds the row or raises _RowInvalid, so every row's error is caught in one place.
RowCandidate = tuple[int, Callable[[], DatasetRow] | None]


def _jsonl_rows(text: str) -> Iterator[RowCandidate]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            yield number, None
            continue
        yield number, partial(_row_from_json_line, line, number)


def _row_from_json_line(line: str, number: int) -> DatasetRow:
    _require_utf8(line)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _RowInvalid(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise _RowInvalid(f"expected a JSON object, got {type(record).__name__}")
    if "messages" in record:
        return _chat_row(record["messages"], number)
    if "prompt" in record or "completion" in record:
        return DatasetRow(
            number, "instruction", _text_field(record, "prompt"), _text_field(record, "completion")
        )
    if "instruction" in record or "output" in record:
        instruction = _text_field(record, "instruction")
        extra = record.get("input", "")
        if not isinstance(extra, str):
            raise _RowInvalid(f"field 'input' must be a string, got {type(extra).__name__}")
        prompt = f"{instruction}\n\n{extra.strip()}" if extra.strip() else instruction
        return DatasetRow(number, "instruction", prompt, _text_field(record, "output"))
    if "text" in record:
        return DatasetRow(number, "text", "", _text_field(record, "text"))
    raise _RowInvalid(
        "unknown row shape: expected prompt/completion, instruction/input/output, messages or text; "
        f"got keys {sorted(record)[:8]}"
    )


def _text_field(record: dict[str, Any], name: str) -> str:
    if name not in record:
        raise _RowInvalid(f"missing field '{name}'")
    value = record[name]
    if not isinstance(value, str):
        raise _RowInvalid(f"field '{name}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise _RowInvalid(f"field '{name}' is empty")
    return value


def _chat_row(messages: Any, number: int) -> DatasetRow:
    if not isinstance(messages, list) or not messages:
        raise _RowInvalid("'messages' must be a non-empty list")
    parsed: list[ChatMessage] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _RowInvalid(f"message {index} is not an object")
        role, content = message.get("role"), message.get("content")
        if role not in CHAT_ROLES:
            raise _RowInvalid(f"message {index} has role {role!r}; expected one of {', '.join(CHAT_ROLES)}")
        if not isinstance(content, str) or not content.strip():
            raise _RowInvalid(f"message {index} has no text content")
        parsed.append(ChatMessage(role, content))
    if parsed[-1].role != "assistant":
        raise _RowInvalid("the last message must be the assistant's (the completion to learn)")
    user_turns = [m for m in parsed if m.role == "user"]
    if not user_turns:
        raise _RowInvalid("no user message")
    return DatasetRow(number, "chat", user_turns[-1].content, parsed[-1].content, tuple(parsed))


def _txt_rows(text: str) -> Iterator[RowCandidate]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            yield number, None
            continue
        yield number, partial(_text_row, line, number)


def _text_row(line: str, number: int) -> DatasetRow:
    _require_utf8(line)
    return DatasetRow(number, "text", "", line.strip())


def _csv_rows(text: str) -> Iterator[RowCandidate]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise DatasetInvalidError(f"CSV header is malformed: {error}") from None
    columns = [name.strip().lower() for name in header]
    if "prompt" not in columns or "completion" not in columns:
        raise DatasetInvalidError(f"CSV header must name 'prompt' and 'completion' columns, got {header}")
    prompt_at, completion_at = columns.index("prompt"), columns.index("completion")
    while True:
        start_line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = f"malformed CSV ({error})"
            yield start_line, partial(_raise, message)
            continue
        if not record or not any(cell.strip() for cell in record):
            yield start_line, None
            continue
        yield start_line, partial(_csv_row, record, start_line, len(columns), prompt_at, completion_at)


def _csv_row(record: list[str], number: int, width: int, prompt_at: int, completion_at: int) -> DatasetRow:
    if len(record) != width:
        raise _RowInvalid(f"expected {width} columns like the header, got {len(record)}")
    for cell in record:
        _require_utf8(cell)
    prompt, completion = record[prompt_at], record[completion_at]
    if not prompt.strip():
        raise _RowInvalid("field 'prompt' is empty")
    if not completion.strip():
        raise _RowInvalid("field 'completion' is empty")
    return DatasetRow(number, "instruction", prompt, completion)


def _raise(message: str) -> DatasetRow:
    raise _RowInvalid(message)


def _require_utf8(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _RowInvalid("not valid UTF-8") from None


def _check_row(row: DatasetRow, max_row_chars: int) -> None:
    length = len(row.prompt) + len(row.completion)
    if row.kind == "chat":
        length = sum(len(m.content) for m in row.messages)
    if length > max_row_chars:
        raise _RowInvalid(f"row has {length} characters, more than the limit of {max_row_chars}")


def _stats(
    dataset_format: DatasetFormat,
    kind: RowKind | None,
    rows: list[DatasetRow],
    rows_read: int,
    invalid: int,
    duplicates: int,
    blank: int,
    size_bytes: int,
) -> DatasetStats:
    if kind == "text":
        lengths = {"text": FieldLengths.of([len(r.completion) for r in rows])}
    else:
        lengths = {
            "prompt": FieldLengths.of([len(r.prompt) for r in rows]),
            "completion": FieldLengths.of([len(r.completion) for r in rows]),
        }
        if kind == "chat":
            lengths["messages"] = FieldLengths.of([len(r.messages) for r in rows])
    characters = sum(len(r.prompt) + len(r.completion) for r in rows)
    return DatasetStats(
        format=dataset_format,
        kind=kind,
        rows_read=rows_read,
        rows=len(rows),
        invalid_rows=invalid,
        duplicates_removed=duplicates,
        blank_lines_skipped=blank,
        approx_tokens=math.ceil(characters / CHARS_PER_TOKEN),
        field_lengths=lengths,
        size_bytes=size_bytes,
    )
