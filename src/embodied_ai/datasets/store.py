"""The dataset registry: one row per dataset in the operations database, its files under the datasets
directory (``<state>/datasets``), served by the jobs node to both seeds' uploads.

    <datasets>/ds-<hex>/<file name>      the file as uploaded (a pipeline's DatasetAgent reads it)
    <datasets>/ds-<hex>/training.jsonl   its validated training rows, when it has any (training reads it)
    <datasets>/.incoming/<hex>/          an add under way

An add is staged in ``.incoming``: copied (refused past the size limit), analysed and validated there,
then its folder is renamed into place and the row inserted last, so a refused or failed add leaves
nothing and a reader never finds a row without its files. Ids are SQLite AUTOINCREMENT: stable, never
reused. The database file is the caller's, shared with other modules' tables (hence the ``dataset``
prefix); one store per process, safe to share between threads.
"""

from __future__ import annotations

import builtins
import io
import json
import re
import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, cast

from embodied_ai.database import open_database, page_problems, transaction
from embodied_ai.datasets.ingest import TrainingRows, ingest
from embodied_ai.datasets.models import Dataset
from embodied_ai.errors import InvalidRequest, NotFound
from embodied_ai.experts.datasets import (
    DEFAULT_MAX_DATASET_BYTES,
    PREVIEW_DEFAULT_LIMIT,
    TABLE_FORMAT_BY_SUFFIX,
    TABLE_FORMATS,
    DatasetInvalidError,
    TableFormat,
    check_dataset_size,
    check_preview_limit,
    preview,
    save_dataset_stream,
    table_format,
)
from embodied_ai.jobs.models import format_time

MAX_NAME = 200
MAX_FILENAME = 255
MAX_DESCRIPTION = 1000
MAX_EXPERT = 64
TRAINING_FILE = "training.jsonl"
INCOMING = ".incoming"
STALE_S = 3600.0    # what a crashed add left is removed when the store opens after this long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- stable, never reused
    name TEXT NOT NULL,
    filename TEXT NOT NULL,                 -- as the client named the file
    format TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    expert TEXT,                            -- the expert it was uploaded for (seed 000), else NULL
    folder TEXT NOT NULL UNIQUE,            -- relative to the datasets directory
    stored_name TEXT NOT NULL,              -- the original file in the folder
    size_bytes INTEGER NOT NULL,
    analysis TEXT NOT NULL,                 -- JSON: DatasetAnalysis.to_dict()
    training TEXT,                          -- JSON: TrainingRows.to_dict(); NULL when no training rows
    training_error TEXT,                    -- why there are none
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_by_expert ON datasets(expert, id);
"""


def _dataset(row: sqlite3.Row) -> Dataset:
    training = json.loads(row["training"]) if row["training"] else None
    return Dataset(
        id=row["id"], name=row["name"], filename=row["filename"], format=row["format"],
        description=row["description"], expert=row["expert"], folder=row["folder"], stored_name=row["stored_name"],
        size_bytes=row["size_bytes"], analysis=json.loads(row["analysis"]),
        training=TrainingRows.from_dict(training) if training else None, training_error=row["training_error"],
        created_at=row["created_at"])


def dataset_id_of(value: int | str) -> int:
    """A dataset id: an integer, or its digits as text (how a pipeline's ``dataset_id`` names it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise NotFound(f"dataset {value!r} does not exist (dataset ids are whole numbers)")


def stored_name(filename: str, format: TableFormat) -> str:
    """The name the original file is kept under: the client's, with unusual characters replaced, ending
    in its format's suffix (so that a reader of the file alone tells its format)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", PurePath(filename.replace("\\", "/")).name).lstrip(".")[:100] or "data"
    if TABLE_FORMAT_BY_SUFFIX.get(PurePath(name).suffix.lower()) != format:
        name = f"{name}.{format}"
    return f"upload-{name}" if name == TRAINING_FILE else name


class DatasetStore:
    def __init__(self, database: Path | str, root: Path, max_bytes: int = DEFAULT_MAX_DATASET_BYTES) -> None:
        self.root, self.max_bytes = root, max_bytes
        self._lock = threading.Lock()
        self._db = open_database(database, _SCHEMA, foreign_keys=False)
        root.mkdir(parents=True, exist_ok=True)
        self._sweep()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    # -- adding ---------------------------------------------------------------------------
    def add(self, source: bytes | Path, filename: str, name: str | None = None, expert: str | None = None,
            description: str = "", format: str | None = None) -> Dataset:
        """Keep a copy of ``source`` (the file's bytes, or a file this store may read) as a new dataset.

        ``filename`` is the client's name for the file: its suffix gives the format unless ``format`` does
        (else the first bytes tell), it is the default ``name``. With ``expert`` (an expert's name: seed
        000's upload) the rows must be training rows. InvalidRequest lists every problem with the arguments;
        DatasetTooLarge past ``max_bytes``; DatasetInvalidError when the file is not what its format says,
        has no usable row, or (with ``expert``) no usable training row, naming the problem rows.
        """
        declared = self._check(filename, name, expert, description, format)
        if isinstance(source, bytes):
            check_dataset_size(len(source), self.max_bytes)
        staging = self.root / INCOMING / uuid.uuid4().hex
        try:
            upload = self._copy(source, staging / "upload")
            found = declared or TABLE_FORMAT_BY_SUFFIX.get(PurePath(filename).suffix.lower()) or table_format(upload)
            original = upload.rename(staging / stored_name(filename, found))
            ingested = ingest(original, found, staging / TRAINING_FILE, require_training=expert is not None)
            folder = self.root / f"ds-{staging.name}"
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO datasets(name, filename, format, description, expert, folder, stored_name, "
                    "size_bytes, analysis, training, training_error, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ((name or "").strip() or PurePath(filename).name or "dataset", filename, found, description,
                     expert, folder.name, original.name, ingested.analysis.size_bytes,
                     json.dumps(ingested.analysis.to_dict()),
                     json.dumps(ingested.training.to_dict()) if ingested.training else None,
                     ingested.training_error, format_time(datetime.now(timezone.utc))))
                dataset_id = int(cursor.lastrowid or 0)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.get(dataset_id)

    @staticmethod
    def _check(filename: str, name: str | None, expert: str | None, description: str,
               format: str | None) -> TableFormat | None:
        """The declared format, once every argument is checked (InvalidRequest lists every problem)."""
        problems = []
        if not isinstance(filename, str) or len(filename) > MAX_FILENAME or "\x00" in filename:
            problems.append(f"filename: the file's name, text of at most {MAX_FILENAME} characters")
        elif not filename.strip() and not name:
            problems.append("filename: give the file's name, or a name for the dataset")
        if name is not None and (not isinstance(name, str) or len(name.strip()) > MAX_NAME):
            problems.append(f"name: text of at most {MAX_NAME} characters")
        if expert is not None and (not isinstance(expert, str) or not 1 <= len(expert.strip()) <= MAX_EXPERT):
            problems.append(f"expert: an expert's id or name, 1 to {MAX_EXPERT} characters")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            problems.append(f"description: text of at most {MAX_DESCRIPTION} characters")
        declared = format.strip().lower() if isinstance(format, str) and format.strip() else None
        if declared is not None and declared not in TABLE_FORMATS:
            problems.append(f"format: {format!r} is not one of {', '.join(TABLE_FORMATS)}")
        if problems:
            raise InvalidRequest(f"invalid dataset: {'; '.join(problems)}", problems)
        return cast(TableFormat | None, declared)

    def _copy(self, source: bytes | Path, destination: Path) -> Path:
        if isinstance(source, bytes):
            save_dataset_stream(io.BytesIO(source), destination, self.max_bytes)
            return destination
        try:
            check_dataset_size(source.stat().st_size, self.max_bytes)  # refused before a byte is copied
            with source.open("rb") as file:
                save_dataset_stream(file, destination, self.max_bytes)
        except OSError as error:
            raise DatasetInvalidError(f"cannot read the dataset file {source.name}: {error.strerror or error}") \
                from error
        return destination

    def inside(self, path: str | Path) -> Path:
        """``path`` resolved, if it is a file inside the datasets directory (where the REST bridge writes
        uploads): what a caller over ROS may hand to ``add``. InvalidRequest elsewhere, NotFound if absent."""
        resolved = Path(path).expanduser().resolve()
        if not str(path).strip() or not resolved.is_relative_to(self.root.resolve()):
            raise InvalidRequest(f"{str(path)!r} is not inside the datasets directory", [
                f"path: {str(path)!r} is outside {self.root}; put the file in the datasets directory"])
        if not resolved.is_file():
            raise NotFound(f"no dataset file at {path}")
        return resolved

    def _sweep(self) -> None:
        """Removes what adds that crashed left behind: staging folders, and dataset folders no row names."""
        with self._lock:
            known = {row[0] for row in self._db.execute("SELECT folder FROM datasets")}
        leftovers = list((self.root / INCOMING).glob("*"))
        leftovers += [p for p in self.root.glob("ds-*") if p.name not in known]
        cutoff = time.time() - STALE_S
        for path in leftovers:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

    # -- reading ----------------------------------------------------------------------------
    def get(self, dataset_id: int | str) -> Dataset:
        """NotFound for an unknown id."""
        number = dataset_id_of(dataset_id)
        with self._lock:
            row = self._db.execute("SELECT * FROM datasets WHERE id=?", (number,)).fetchone()
        if row is None:
            raise NotFound(f"dataset {number} does not exist")
        return _dataset(row)

    def list(self, limit: int = 50, offset: int = 0) -> tuple[builtins.list[Dataset], int]:
        """A page of datasets, newest first, and how many there are."""
        problems = page_problems(limit, offset)
        if problems:
            raise InvalidRequest(f"invalid page: {'; '.join(problems)}", problems)
        with self._lock:
            rows = self._db.execute("SELECT * FROM datasets ORDER BY id DESC LIMIT ? OFFSET ?",
                                    (limit, offset)).fetchall()
            total = int(self._db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0])
        return [_dataset(row) for row in rows], total

    def latest_for_expert(self, expert: str) -> int | None:
        """The id of the newest dataset uploaded for ``expert`` (by name; seed 000's ``dataset_id`` 0), None when
        there is none."""
        with self._lock:
            row = self._db.execute("SELECT id FROM datasets WHERE expert=? ORDER BY id DESC LIMIT 1",
                                   (expert,)).fetchone()
        return int(row[0]) if row else None

    def preview(self, dataset_id: int | str, limit: int = PREVIEW_DEFAULT_LIMIT) -> dict[str, Any]:
        """Seed 004's preview: ``{dataset_id, samples (the first ``limit`` usable rows), total_rows}``.
        InvalidRequest for a limit outside 1..PREVIEW_MAX_LIMIT, NotFound for an unknown id."""
        check_preview_limit(limit)
        dataset = self.get(dataset_id)
        return {"dataset_id": dataset.id, **preview(self.file(dataset.id), limit, dataset.format)}

    def file(self, dataset_id: int | str) -> Path:
        """The file as uploaded (what a pipeline's DatasetAgent reads for its ``dataset_id``)."""
        return self.root / self.get(dataset_id).file_path

    def training_file(self, dataset_id: int | str) -> Path:
        """The validated training rows as JSONL (what training reads). DATASET_INVALID when the dataset
        has none (a table of other columns), with the reason."""
        dataset = self.get(dataset_id)
        if dataset.training is None:
            raise DatasetInvalidError(
                f"dataset {dataset.id} ({dataset.name}) has no training rows: {dataset.training_error}. Training "
                "needs prompt/completion, instruction/output, chat (messages) or text rows")
        return self.root / dataset.folder / TRAINING_FILE

    # -- deleting --------------------------------------------------------------------------
    def delete(self, dataset_id: int | str) -> Dataset:
        """Remove a dataset, its row first (so none is found without its files); its id is not reused."""
        dataset = self.get(dataset_id)
        with self._transaction() as db:
            db.execute("DELETE FROM datasets WHERE id=?", (dataset.id,))
        shutil.rmtree(self.root / dataset.folder, ignore_errors=True)
        return dataset
