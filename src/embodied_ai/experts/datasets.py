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
import datetime
import io
import json
import math
import os
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Literal

from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest, NotFound

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


# -- Tables: any columns, for pipelines and uploads ------------------------------------------------
#
# A training row above has a fixed shape (prompt/completion, messages, text). A pipeline's
# dataset (seed 004) has whatever columns its file has ("question", "answer", "label", ...), which
# a PreprocessingAgent later maps onto a template; and an upload is analysed before anyone has
# said what its columns mean. So tables are read as records (column -> value), with the same
# rules as above: a bad row is reported by number and the good rows are kept, a file with no
# usable row is DATASET_INVALID. Formats: CSV (header row), JSON (an array of objects), JSONL,
# Parquet, TXT (one "text" per line).

TableFormat = Literal["csv", "json", "jsonl", "parquet", "txt"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("csv", "json", "jsonl", "parquet", "txt")
TABLE_FORMAT_BY_SUFFIX: dict[str, TableFormat] = {
    ".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
    ".txt": "txt",
}
PARQUET_MAGIC = b"PAR1"     # a Parquet file starts and ends with these bytes
# Column names tried first, in this order, when guessing which column holds the text.
TEXT_COLUMN_NAMES = ("text", "content", "prompt", "instruction", "question", "input")
# The REST upload refuses larger files before reading them (the bad input is 200 MB).
DEFAULT_MAX_DATASET_BYTES = 100 * 1024 * 1024
PREVIEW_DEFAULT_LIMIT = 10
PREVIEW_MAX_LIMIT = 100    # seed 004: "limit: Number of samples (default: 10, max: 100)"
# How many row errors an analysis carries (they are counted in full).
MAX_REPORTED_ERRORS = 20


class DatasetTooLarge(DatasetInvalidError):
    """A dataset file over the size limit (refused before it is read)."""


@dataclass(frozen=True)
class Record:
    """One row of a table: ``row`` is its number in the file (as for `RowError`), ``values`` its
    cells by column name (JSON values: str, int, float, bool, None, lists, objects)."""

    row: int
    values: dict[str, Any]


@dataclass(frozen=True)
class RecordSet:
    path: Path
    format: TableFormat
    records: list[Record]
    columns: list[str]           # in file order (CSV header, Parquet schema), else first appearance
    errors: list[RowError]
    rows_read: int               # non-blank rows (CSV header excluded)
    blank_rows: int
    size_bytes: int


@dataclass(frozen=True)
class LengthStats:
    """Character lengths of the text column (seed 004's names, with two percentiles added)."""

    min_length: int
    avg_length: float
    max_length: int
    p50_length: int
    p95_length: int

    @classmethod
    def of(cls, lengths: list[int]) -> LengthStats:
        if not lengths:
            return cls(0, 0.0, 0, 0, 0)
        ordered = sorted(lengths)
        return cls(ordered[0], round(sum(ordered) / len(ordered), 2), ordered[-1], _percentile(ordered, 50),
                   _percentile(ordered, 95))


@dataclass(frozen=True)
class DatasetAnalysis:
    """What an upload answers (seed 004's ``analysis``) and a DatasetAgent logs."""

    format: TableFormat
    rows: int
    columns: list[str]
    text_column: str | None
    stats: LengthStats
    invalid_rows: int
    errors: list[RowError]        # the first MAX_REPORTED_ERRORS
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "rows": self.rows, "columns": list(self.columns), "text_column": self.text_column,
            "stats": asdict(self.stats), "invalid_rows": self.invalid_rows, "errors": [str(e) for e in self.errors],
            "size_bytes": self.size_bytes,
        }


def table_format(path: str | Path, declared: str | None = None) -> TableFormat:
    """The format ``declared`` (any case), else the one the suffix names, else the one the first bytes show
    (Parquet's magic, a JSON array, a JSON object per line); DatasetInvalidError when none tells."""
    path = Path(path)
    if declared:
        name = declared.strip().lower()
        for known in TABLE_FORMATS:
            if name == known:
                return known
        raise DatasetInvalidError(f"unknown dataset format {declared!r}: use one of {', '.join(TABLE_FORMATS)}")
    by_suffix = TABLE_FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if by_suffix is not None:
        return by_suffix
    try:
        with path.open("rb") as file:
            head = file.read(64)
    except OSError as error:
        raise DatasetInvalidError(f"cannot read dataset {path.name}: {error.strerror or error}") from error
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"["):
        return "json"
    if start.startswith(b"{"):
        return "jsonl"
    raise DatasetInvalidError(f"cannot tell the format of {path.name}: name it .csv, .json, .jsonl, .parquet or "
                              ".txt, or give its format")


def check_dataset_size(size_bytes: int, max_bytes: int = DEFAULT_MAX_DATASET_BYTES) -> None:
    """DatasetTooLarge when ``size_bytes`` is over ``max_bytes`` (check a declared size before reading)."""
    if size_bytes > max_bytes:
        raise DatasetTooLarge(f"the dataset is {_megabytes(size_bytes)}, more than the limit of "
                              f"{_megabytes(max_bytes)}")


def save_dataset_stream(source: BinaryIO, destination: Path, max_bytes: int = DEFAULT_MAX_DATASET_BYTES,
                        chunk_bytes: int = 1 << 20) -> int:
    """Copy ``source`` to ``destination`` (its size in bytes), stopping with DatasetTooLarge as soon as it
    passes ``max_bytes``. Written beside the destination and renamed at the end: a refused or failed copy
    leaves nothing behind, a finished one is whole."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial_path = destination.with_name(f".{destination.name}.partial")
    size = 0
    try:
        with partial_path.open("wb") as out:
            while chunk := source.read(chunk_bytes):
                size += len(chunk)
                if size > max_bytes:
                    raise DatasetTooLarge(f"the dataset is more than the limit of {_megabytes(max_bytes)}")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial_path, destination)
    finally:
        partial_path.unlink(missing_ok=True)
    return size


def resolve_dataset_path(root: Path, file_path: str | Path) -> Path:
    """The real path of the file ``file_path`` names inside the datasets directory ``root`` (relative to it,
    or absolute within it). Anything that leads outside (``..``, an absolute path elsewhere, a symbolic link
    out, a URL) is InvalidRequest; a file that is not there is NotFound."""
    text = str(file_path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidRequest(f"file_path {text!r} is a URL", [
            f"file_path: {scheme}:// URLs are not read; upload the file or put it in the datasets directory"])
    if not text.strip() or "\x00" in text:
        raise InvalidRequest("file_path is not a path", [f"file_path: {text!r} is not a file name"])
    base = root.resolve()
    candidate = Path(text) if Path(text).is_absolute() else base / text
    real = candidate.resolve()      # follows every symbolic link, so a link out of root is seen as outside
    if not real.is_relative_to(base):
        raise InvalidRequest(f"file_path {text!r} is outside the datasets directory", [
            f"file_path: {text!r} leads outside the datasets directory; only files inside it are read"])
    if not real.exists():
        raise NotFound(f"dataset file {text!r} does not exist in the datasets directory")
    if not real.is_file():
        raise InvalidRequest(f"file_path {text!r} is not a file", [f"file_path: {text!r} is not a regular file"])
    return real


def read_records(path: str | Path, format: str | None = None, max_row_chars: int = DEFAULT_MAX_ROW_CHARS,
                 max_bytes: int | None = None) -> RecordSet:
    """Read a table; bad rows are reported by number and skipped. DatasetInvalidError when the file is not
    what its format says (a Parquet file that is not Parquet, JSON that is not an array of objects), or has
    no usable row; DatasetTooLarge over ``max_bytes``."""
    path = Path(path)
    dataset_format = table_format(path, format)
    try:
        if max_bytes is not None:
            check_dataset_size(path.stat().st_size, max_bytes)
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetInvalidError(f"cannot read dataset {path.name}: {error.strerror or error}") from error

    columns: list[str] = []
    if dataset_format == "parquet":
        candidates = _parquet_records(raw, path.name, columns)
    else:
        # As load_dataset: undecodable bytes stay as lone surrogates, so the row that has them is reported.
        text = raw.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
        readers = {"csv": _csv_records, "json": _json_records, "jsonl": _jsonl_records, "txt": _txt_records}
        candidates = readers[dataset_format](text, path.name, columns)

    records: list[Record] = []
    errors: list[RowError] = []
    rows_read = blank = 0
    for row_number, parse in candidates:
        if parse is None:
            blank += 1
            continue
        rows_read += 1
        try:
            values = parse()
            _check_record(values, max_row_chars)
        except _RowInvalid as reason:
            errors.append(RowError(row_number, str(reason)))
            continue
        for name in values:
            if name not in columns:
                columns.append(name)
        records.append(Record(row_number, values))
    if not records:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        detail = f"; problems: {shown}{more}" if errors else ""
        raise DatasetInvalidError(f"dataset {path.name} has no usable rows ({rows_read} read){detail}")
    return RecordSet(path=path, format=dataset_format, records=records, columns=columns, errors=errors,
                     rows_read=rows_read, blank_rows=blank, size_bytes=len(raw))


def write_records_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` as JSONL (how many); written beside ``path`` and renamed, so a reader never sees half
    a file and a crash leaves the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(f".{path.name}.partial")
    count = 0
    try:
        with partial_path.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial_path, path)
    finally:
        partial_path.unlink(missing_ok=True)
    return count


def detect_text_column(records: list[Record], columns: list[str]) -> str | None:
    """The column that holds the text: a usual name (TEXT_COLUMN_NAMES) among the columns that hold
    strings, else the string column with the longest texts; None when no column holds strings."""
    string_columns = [name for name in columns if _mostly_strings(records, name)]
    by_lower = {name.lower(): name for name in reversed(string_columns)}
    for usual in TEXT_COLUMN_NAMES:
        if usual in by_lower:
            return by_lower[usual]
    if not string_columns:
        return None
    return max(string_columns, key=lambda name: _mean_length(records, name))


def analyse_records(table: RecordSet) -> DatasetAnalysis:
    text_column = detect_text_column(table.records, table.columns)
    if text_column is not None:
        lengths = [len(v) for r in table.records if isinstance(v := r.values.get(text_column), str)]
    else:
        lengths = [sum(len(v) for v in r.values.values() if isinstance(v, str)) for r in table.records]
    return DatasetAnalysis(
        format=table.format, rows=len(table.records), columns=list(table.columns), text_column=text_column,
        stats=LengthStats.of(lengths), invalid_rows=len(table.errors), errors=table.errors[:MAX_REPORTED_ERRORS],
        size_bytes=table.size_bytes)


def analyse(path: str | Path, format: str | None = None, max_bytes: int | None = None) -> DatasetAnalysis:
    """Rows, columns, the text column and its length statistics (seed 004's upload ``analysis``)."""
    return analyse_records(read_records(path, format, max_bytes=max_bytes))


def check_preview_limit(limit: Any) -> int:
    """``limit`` as an int from 1 to PREVIEW_MAX_LIMIT; InvalidRequest otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PREVIEW_MAX_LIMIT:
        raise InvalidRequest("invalid preview limit",
                             [f"limit: {limit!r} is not an integer from 1 to {PREVIEW_MAX_LIMIT}"])
    return limit


def preview(path: str | Path, limit: int = PREVIEW_DEFAULT_LIMIT, format: str | None = None,
            max_bytes: int | None = None) -> dict[str, Any]:
    """The first ``limit`` usable rows (``samples``) and how many there are (``total_rows``), as seed 004's
    preview answers; the limit is checked before the file is read."""
    check_preview_limit(limit)
    table = read_records(path, format, max_bytes=max_bytes)
    return {"samples": [dict(r.values) for r in table.records[:limit]], "total_rows": len(table.records)}


# Each table reader yields (row number, parse) like the readers above; parse returns the row's values.
RecordCandidate = tuple[int, Callable[[], dict[str, Any]] | None]


def _csv_records(text: str, name: str, columns: list[str]) -> Iterator[RecordCandidate]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise DatasetInvalidError(f"{name}: the CSV header is malformed: {error}") from None
    names = [cell.strip() for cell in header]
    problems = [f"column {i + 1} has no name" for i, n in enumerate(names) if not n]
    problems += [f"column {n!r} appears twice" for i, n in enumerate(names) if n and n in names[:i]]
    if problems:
        raise DatasetInvalidError(f"{name}: the CSV header is not usable: {'; '.join(problems)}")
    columns.extend(names)
    while True:
        start_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start_line, partial(_raise_values, f"malformed CSV ({error})")
            continue
        if not cells or not any(cell.strip() for cell in cells):
            yield start_line, None
            continue
        yield start_line, partial(_csv_values, cells, names)


def _csv_values(cells: list[str], names: list[str]) -> dict[str, Any]:
    if len(cells) != len(names):
        raise _RowInvalid(f"expected {len(names)} columns like the header, got {len(cells)}")
    return dict(zip(names, cells))


def _json_records(text: str, name: str, columns: list[str]) -> Iterator[RecordCandidate]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        hint = "; for one JSON object per line, use .jsonl" if error.msg == "Extra data" else ""
        raise DatasetInvalidError(f"{name} is not valid JSON ({error.msg} at line {error.lineno} column "
                                  f"{error.colno}){hint}") from None
    if not isinstance(document, list):
        raise DatasetInvalidError(f"{name} holds a JSON {_json_kind(document)}; a JSON dataset is an array of "
                                  "objects, one per row")
    for number, item in enumerate(document, start=1):
        yield number, partial(_object_values, item)


def _jsonl_records(text: str, name: str, columns: list[str]) -> Iterator[RecordCandidate]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            yield number, None
            continue
        yield number, partial(_jsonl_values, line)


def _jsonl_values(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise _RowInvalid(f"not valid JSON ({error.msg} at column {error.colno})") from None
    return _object_values(item)


def _object_values(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _RowInvalid(f"expected a JSON object, got {_json_kind(item)}")
    return item


def _txt_records(text: str, name: str, columns: list[str]) -> Iterator[RecordCandidate]:
    columns.append("text")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            yield number, None
            continue
        yield number, partial(dict, text=line.strip())


def _parquet_records(raw: bytes, name: str, columns: list[str]) -> Iterator[RecordCandidate]:
    if len(raw) < 2 * len(PARQUET_MAGIC) or not raw.startswith(PARQUET_MAGIC) or not raw.endswith(PARQUET_MAGIC):
        raise DatasetInvalidError(f"{name} is not a Parquet file: a Parquet file starts and ends with the bytes "
                                  "'PAR1'")
    import pyarrow as pa  # only Parquet needs it: a heavy import
    import pyarrow.parquet as pq
    try:
        table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DatasetInvalidError(f"{name} is not a readable Parquet file: {error}") from None
    columns.extend(str(n) for n in table.column_names)
    for number, row in enumerate(table.to_pylist(), start=1):
        yield number, partial(_parquet_values, row)


def _parquet_values(row: dict[str, Any]) -> dict[str, Any]:
    return {str(key): _json_value(value, str(key)) for key, value in row.items()}


def _json_value(value: Any, column: str) -> Any:
    """A Parquet cell as a JSON value: times as ISO-8601 text, decimals as numbers, NaN as null."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _RowInvalid(f"column {column!r} holds binary data, not text") from None
    if isinstance(value, dict):
        return {str(k): _json_value(v, column) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v, column) for v in value]
    return str(value)


def _raise_values(message: str) -> dict[str, Any]:
    raise _RowInvalid(message)


def _check_record(values: dict[str, Any], max_row_chars: int) -> None:
    if not any(_has_value(v) for v in values.values()):
        raise _RowInvalid("the row has no values")
    characters = 0
    for column, value in values.items():
        for text in _strings(value):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _RowInvalid(f"column {column!r} is not valid UTF-8") from None
            characters += len(text)
    if characters > max_row_chars:
        raise _RowInvalid(f"row has {characters} characters, more than the limit of {max_row_chars}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _has_value(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _mostly_strings(records: list[Record], column: str) -> bool:
    present = [r.values[column] for r in records if r.values.get(column) is not None]
    return bool(present) and sum(isinstance(v, str) for v in present) * 2 > len(present)


def _mean_length(records: list[Record], column: str) -> float:
    lengths = [len(v) for r in records if isinstance(v := r.values.get(column), str)]
    return sum(lengths) / len(lengths) if lengths else 0.0


def _percentile(ordered: list[int], percent: int) -> int:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / (1024 * 1024):.1f} MB"
