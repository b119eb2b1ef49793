"""The model registry: every trained artefact's versions, status and exports, in SQLite.

The database file is the caller's (``<state>/operations.sqlite``), shared with other modules'
tables: everything here is prefixed ``model``. WAL lets other connections coexist;
synchronous=FULL means a call that returned has reached the disk; every write is one
transaction, so a crash leaves nothing half-written.

A model version has a stable id ``mdl_<16 hex>`` (random, never reused; the REST path's
``/v1/models/{id}``) and a ``name`` with a ``version`` 1, 2, ... per name (what OpenAI clients
list and send). ``get`` takes either: an id, ``name:N`` for one version, or a bare name for its
newest version. Ids cannot be mistaken for names: a name may not start with ``mdl_``.

Status: ``trained`` (registered, not served), ``deployed`` (loaded into the serving engine)
and ``archived`` (kept, never served). Allowed moves: trained -> deployed | archived,
deployed -> trained (unloaded), archived -> trained (restored); anything else is a Conflict
(an archived model cannot be loaded, a loaded one must be unloaded before it is archived).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from embodied_ai.database import open_database, page_problems, transaction
from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.jobs.models import finite_values, format_time, json_object
from embodied_ai.listeners import Listeners

log = logging.getLogger(__name__)

DEFAULT_PAGE = 20          # seed 004's default limit
ID_PREFIX = "mdl_"
DEFAULT_LICENSE = "apache-2.0"   # our own weights (the Hugging Face card's license id)
MAX_TEXT = 2000            # description
MAX_NAME = 64

# Events listeners receive (ModelRegistry.on_event); webhooks subscribe to the first two.
MODEL_REGISTERED = "model.registered"
MODEL_LOADED = "model.loaded"
MODEL_UNLOADED = "model.unloaded"
MODEL_ARCHIVED = "model.archived"
MODEL_RESTORED = "model.restored"
EVENTS: tuple[str, ...] = (MODEL_REGISTERED, MODEL_LOADED, MODEL_UNLOADED, MODEL_ARCHIVED, MODEL_RESTORED)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_FORMAT = re.compile(r"[a-z][a-z0-9_]{0,31}")
_LICENSE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")

Clock = Callable[[], datetime]


class ModelKind(str, Enum):
    EXPERT_ADAPTER = "expert_adapter"     # a LoRA adapter of an expert on the shared base
    EXPERT_MODEL = "expert_model"         # an expert that is a model of its own
    PIPELINE_OUTPUT = "pipeline_output"   # what a fine-tuning pipeline's RegisterAgent made
    POLICY = "policy"                     # a skill's control policy
    DETECTOR = "detector"                 # a perception model

    @classmethod
    def parse(cls, value: str | ModelKind) -> ModelKind:
        try:
            return cls(value)
        except ValueError:
            raise InvalidRequest(f"unknown model kind '{value}'", [_choices("kind", value, cls)]) from None


class ModelStatus(str, Enum):
    TRAINED = "trained"
    DEPLOYED = "deployed"     # loaded into the serving engine
    ARCHIVED = "archived"

    @classmethod
    def parse(cls, value: str | ModelStatus) -> ModelStatus:
        try:
            return cls(value)
        except ValueError:
            raise InvalidRequest(f"unknown model status '{value}'", [_choices("status", value, cls)]) from None


# The status a model may move to from each status (a move to the same status changes nothing).
TRANSITIONS: dict[ModelStatus, frozenset[ModelStatus]] = {
    ModelStatus.TRAINED: frozenset({ModelStatus.DEPLOYED, ModelStatus.ARCHIVED}),
    ModelStatus.DEPLOYED: frozenset({ModelStatus.TRAINED}),
    ModelStatus.ARCHIVED: frozenset({ModelStatus.TRAINED}),
}


@dataclass(frozen=True)
class ModelSource:
    """What produced a version; every field is optional."""

    job_id: int | None = None            # the job (jobs table) that trained or registered it
    run_id: str | None = None            # seed 004's pipeline run id
    dataset_id: str | None = None        # the dataset it was trained on (seed 000's integer ids as text)
    expert_id: int | None = None         # an expert version it mirrors (experts.sqlite)
    expert_version: int | None = None

    def problems(self) -> list[str]:
        found = []
        for name in ("job_id", "expert_id", "expert_version"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                found.append(f"source.{name}: {value!r} is not a positive integer")
        for name in ("run_id", "dataset_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value or len(value) > 200):
                found.append(f"source.{name}: {value!r} is not a string of 1 to 200 characters")
        if (self.expert_id is None) != (self.expert_version is None):
            found.append("source: expert_id and expert_version go together")
        return found


@dataclass(frozen=True)
class Artefact:
    """One export of a version: a file or a folder."""

    format: str
    path: Path                           # absolute
    bytes: int                           # the file's size, or the sum of a folder's files
    sha256: str                          # of the file; of a folder, see tree_sha256
    is_dir: bool
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields without the server's path (the download endpoint serves the file)."""
        return {"format": self.format, "bytes": self.bytes, "sha256": self.sha256, "is_dir": self.is_dir,
                "created_at": self.created_at}


@dataclass(frozen=True)
class ModelVersion:
    id: str                              # mdl_<hex>
    name: str
    version: int                         # 1, 2, ... per name
    kind: ModelKind
    status: ModelStatus
    base_model: str                      # "" when none was recorded
    description: str
    license: str
    source: ModelSource
    training_config: dict[str, Any]
    metrics: dict[str, Any]              # measured figures only
    artefacts: tuple[Artefact, ...]
    created_at: str
    updated_at: str
    loaded_at: str | None                # when it was last loaded (while deployed)
    archived_at: str | None

    @property
    def ref(self) -> str:
        """``name:version``, which ``ModelRegistry.get`` accepts."""
        return f"{self.name}:{self.version}"

    @property
    def formats(self) -> list[str]:
        return [a.format for a in self.artefacts]

    def artefact(self, format: str) -> Artefact | None:
        return next((a for a in self.artefacts if a.format == format), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields: seed 004's names (model_id, model_name, run_id, dataset_id, training_config,
        metrics, exports) plus the registry's own."""
        return {
            "id": self.id, "model_id": self.id, "name": self.name, "model_name": self.name, "version": self.version,
            "ref": self.ref, "kind": self.kind.value, "status": self.status.value, "base_model": self.base_model,
            "description": self.description, "license": self.license, "run_id": self.source.run_id,
            "job_id": self.source.job_id, "dataset_id": self.source.dataset_id, "expert_id": self.source.expert_id,
            "expert_version": self.source.expert_version, "training_config": self.training_config,
            "metrics": self.metrics, "exports": self.formats,
            "artefacts": {a.format: a.to_dict() for a in self.artefacts},
            "created_at": self.created_at, "updated_at": self.updated_at, "loaded_at": self.loaded_at,
            "archived_at": self.archived_at,
        }


Listener = Callable[[ModelVersion, str], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- registration order (ids are random)
    id TEXT NOT NULL UNIQUE,                -- mdl_<hex>
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    base_model TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    license TEXT NOT NULL,
    job_id INTEGER,
    run_id TEXT,
    dataset_id TEXT,
    expert_id INTEGER,
    expert_version INTEGER,
    training_config TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    loaded_at TEXT,
    archived_at TEXT,
    UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS models_by_kind ON models(kind, seq);
CREATE INDEX IF NOT EXISTS models_by_status ON models(status, seq);
CREATE INDEX IF NOT EXISTS models_by_job ON models(job_id) WHERE job_id IS NOT NULL;
-- One registry entry per expert version.
CREATE UNIQUE INDEX IF NOT EXISTS models_by_expert_version ON models(expert_id, expert_version)
    WHERE expert_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS model_artefacts (
    model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    path TEXT NOT NULL,                     -- relative to the artefact root when inside it, else absolute
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    is_dir INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model_id, format)
) WITHOUT ROWID;
"""

_COLUMNS = ("id, name, version, kind, status, base_model, description, license, job_id, run_id, dataset_id, "
            "expert_id, expert_version, training_config, metrics, created_at, updated_at, loaded_at, archived_at")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_model_id() -> str:
    return f"{ID_PREFIX}{secrets.token_hex(8)}"


def _choices(what: str, value: object, enum: type[Enum]) -> str:
    return f"{what}: {value!r} is not one of: {', '.join(str(m.value) for m in enum)}"


def name_problems(name: object) -> list[str]:
    """Why ``name`` cannot name a model (empty when it can)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        return [f"name: {name!r} must be 1 to {MAX_NAME} letters, digits, '_', '-' or '.', starting with a letter "
                "or digit"]
    if name.isdigit():
        return [f"name: {name!r} must not be all digits"]
    if name.startswith(ID_PREFIX):
        return [f"name: {name!r} must not start with '{ID_PREFIX}' (the prefix of model ids)"]
    return []


def _page(limit: int, offset: int = 0) -> None:
    if problems := page_problems(limit, offset):
        raise InvalidRequest("invalid paging", problems)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> tuple[int, str]:
    """(total bytes, digest) of a folder: the sha256 of its sorted lines ``<relative path>\\0<file sha256>\\n``,
    so the same files give the same digest wherever the folder lies."""
    digest = hashlib.sha256()
    total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        total += path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return total, digest.hexdigest()


def _json_object(value: Any, name: str, problems: list[str]) -> str:
    try:
        return json_object(value, name)
    except InvalidRequest as exc:
        problems.extend(exc.problems)
        return "{}"


class ModelRegistry:
    """All reads and writes of model versions and their exports; safe to share between threads."""

    def __init__(self, db_path: Path, artefact_root: Path | None = None, clock: Clock = _utc_now) -> None:
        """Open (or create) the registry's tables in ``db_path``. Artefact paths inside ``artefact_root``
        (default: the database's folder, the state directory) are stored relative to it, so the state
        directory can move; ``clock`` (timezone-aware now) is for tests."""
        self.db_path = db_path
        self.artefact_root = (artefact_root or db_path.parent).resolve()
        self._clock = clock
        self._lock = threading.Lock()
        self._db = open_database(db_path, _SCHEMA)
        self._listeners: Listeners[ModelVersion] = Listeners(log, lambda model: f"model {model.id}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    def now(self) -> str:
        return format_time(self._clock())

    # -- events -----------------------------------------------------------------------
    def on_event(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(model, event)`` after each registration and status change (``EVENTS``); returns a
        function that unsubscribes it. Listeners run on the writer's thread after the commit: keep them short;
        an exception is logged and ignored."""
        return self._listeners.add(listener)

    def _emit(self, model: ModelVersion, event: str) -> None:
        self._listeners.emit(model, event)

    # -- register / read --------------------------------------------------------------
    def register(self, name: str, kind: str | ModelKind, *, base_model: str = "", version: int | None = None,
                 training_config: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                 source: ModelSource | None = None, description: str = "",
                 license: str = DEFAULT_LICENSE, artefacts: Mapping[str, Path] | None = None) -> ModelVersion:
        """A new version of ``name`` (the next number unless ``version`` is given), status ``trained``, with
        its ``artefacts`` (format → file or folder) recorded in the same transaction, so model.registered
        listeners see them. InvalidRequest lists every problem; Conflict when the version, or the expert
        version it mirrors, is already registered. Metrics hold measured figures only; a NaN or infinity is
        kept as null."""
        problems = name_problems(name)
        kind_value = ""
        try:
            kind_value = ModelKind.parse(kind).value
        except InvalidRequest as exc:
            problems += exc.problems
        if not isinstance(base_model, str) or len(base_model) > 200:
            problems.append(f"base_model: {base_model!r} is not a string of at most 200 characters")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            problems.append(f"version: {version!r} is not a positive integer")
        if not isinstance(description, str) or len(description) > MAX_TEXT:
            problems.append(f"description: not a string of at most {MAX_TEXT} characters")
        if not isinstance(license, str) or not _LICENSE.fullmatch(license):
            problems.append(f"license: {license!r} is not a license id such as 'apache-2.0'")
        config_text = _json_object({} if training_config is None else training_config, "training_config", problems)
        metrics_text = "{}"
        if metrics is not None and not isinstance(metrics, dict):
            problems.append(f"metrics: expected a JSON object, got {type(metrics).__name__}")
        else:
            metrics_text = _json_object(finite_values(metrics or {}), "metrics", problems)
        source = source or ModelSource()
        problems += source.problems()
        measured = []
        for format, path in (artefacts or {}).items():
            try:
                measured.append(self._measure(format, path))
            except InvalidRequest as exc:
                problems += exc.problems
        if problems:
            raise InvalidRequest("invalid model registration", problems)
        now = self.now()
        model_id = new_model_id()
        with self._transaction() as db:
            if source.expert_id is not None:
                row = db.execute("SELECT id FROM models WHERE expert_id=? AND expert_version=?",
                                 (source.expert_id, source.expert_version)).fetchone()
                if row is not None:
                    raise Conflict(f"expert {source.expert_id} version {source.expert_version} is already "
                                   f"registered as model {row['id']}")
            if version is None:
                version = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM models WHERE name=?",
                                         (name,)).fetchone()[0]) + 1
            elif db.execute("SELECT 1 FROM models WHERE name=? AND version=?", (name, version)).fetchone():
                raise Conflict(f"model {name} version {version} is already registered")
            db.execute(
                "INSERT INTO models(id, name, version, kind, status, base_model, description, license, job_id, "
                "run_id, dataset_id, expert_id, expert_version, training_config, metrics, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (model_id, name, version, kind_value, ModelStatus.TRAINED.value, base_model, description, license,
                 source.job_id, source.run_id, source.dataset_id, source.expert_id, source.expert_version,
                 config_text, metrics_text, now, now))
            for format, stored, size, digest, is_dir in measured:
                db.execute("INSERT INTO model_artefacts(model_id, format, path, bytes, sha256, is_dir, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", (model_id, format, stored, size, digest, int(is_dir), now))
            model = self._read(db, model_id)
        self._emit(model, MODEL_REGISTERED)
        return model

    def get(self, key: str) -> ModelVersion:
        """By id (``mdl_...``), by ``name:N``, or by a bare name (its newest version); NotFound otherwise."""
        with self._lock:
            return self._read(self._db, self._resolve(self._db, key))

    # Annotations below say builtins.list: inside the class, this method's name hides the builtin.
    def list(self, kind: str | ModelKind | None = None, status: str | ModelStatus | None = None,
             name: str | None = None, base_model: str | None = None, job_id: int | None = None,
             expert_id: int | None = None, limit: int = DEFAULT_PAGE,
             offset: int = 0) -> tuple[builtins.list[ModelVersion], int]:
        """A page of versions, newest registration first, and how many match in all."""
        problems: builtins.list[str] = []
        try:
            _page(limit, offset)
        except InvalidRequest as exc:
            problems += exc.problems
        where: builtins.list[str] = ["1"]
        args: builtins.list[Any] = []
        if kind is not None:
            try:
                args.append(ModelKind.parse(kind).value)
                where.append("kind=?")
            except InvalidRequest as exc:
                problems += exc.problems
        if status is not None:
            try:
                args.append(ModelStatus.parse(status).value)
                where.append("status=?")
            except InvalidRequest as exc:
                problems += exc.problems
        if problems:
            raise InvalidRequest("invalid model list request", problems)
        for column, value in (("name", name), ("base_model", base_model), ("job_id", job_id),
                              ("expert_id", expert_id)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        condition = " AND ".join(where)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM models WHERE {condition}", args).fetchone()[0]
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM models WHERE {condition} ORDER BY seq DESC "
                                    "LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
            artefacts = self._artefacts(self._db, [r["id"] for r in rows])
        return [self._model(r, artefacts.get(r["id"], ())) for r in rows], int(total)

    # -- metrics ----------------------------------------------------------------------
    def update_metrics(self, key: str, metrics: dict[str, Any]) -> ModelVersion:
        """Merge measured figures into the version's metrics (an evaluation made after registration)."""
        problems: builtins.list[str] = []
        if not isinstance(metrics, dict):
            raise InvalidRequest("metrics must be a JSON object",
                                 [f"metrics: expected a JSON object, got {type(metrics).__name__}"])
        _json_object(finite_values(metrics), "metrics", problems)
        if problems:
            raise InvalidRequest("invalid metrics", problems)
        with self._transaction() as db:
            model = self._read(db, self._resolve(db, key))
            merged = json_object({**model.metrics, **finite_values(metrics)}, "metrics")
            db.execute("UPDATE models SET metrics=?, updated_at=? WHERE id=?", (merged, self.now(), model.id))
            return self._read(db, model.id)

    # -- artefacts --------------------------------------------------------------------
    def add_artefact(self, key: str, format: str, path: Path, expected_sha256: str | None = None) -> Artefact:
        """Record (or replace) the version's export in ``format`` (issue 12's adapter, merged, gguf and
        onnx_adapter, a policy's onnx, ...: any lowercase name): a file or a folder that exists. Size and
        sha256 are measured here from the disk (a folder's digest is ``tree_sha256``); ``expected_sha256``,
        when an exporter passes the digest it computed, must match (InvalidRequest otherwise)."""
        self.get(key)  # NotFound before hashing a large file for nothing
        format, stored, size, digest, is_dir = self._measure(format, path, expected_sha256)
        with self._transaction() as db:
            model_id = self._resolve(db, key)
            db.execute("INSERT OR REPLACE INTO model_artefacts(model_id, format, path, bytes, sha256, is_dir, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (model_id, format, stored, size, digest, int(is_dir), self.now()))
            db.execute("UPDATE models SET updated_at=? WHERE id=?", (self.now(), model_id))
            found = self._artefacts(db, [model_id])[model_id]
        return next(a for a in found if a.format == format)

    def _measure(self, format: str, path: Path, expected_sha256: str | None = None
                 ) -> tuple[str, str, int, str, bool]:
        """An export's (format, stored path, bytes, sha256, is_dir), measured from the disk (outside any lock:
        a merged model is gigabytes); InvalidRequest listing what is wrong."""
        problems: builtins.list[str] = []
        if not isinstance(format, str) or not _FORMAT.fullmatch(format):
            problems.append(f"format: {format!r} must be 1 to 32 lowercase letters, digits or '_', starting "
                            "with a letter")
        if expected_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", expected_sha256):
            problems.append("expected_sha256: not 64 lowercase hexadecimal digits")
        absolute = Path(path).resolve()
        if not absolute.exists():
            problems.append(f"path: '{path}' does not exist")
        if problems:
            raise InvalidRequest("invalid artefact", problems)
        if absolute.is_dir():
            size, digest = tree_sha256(absolute)
        else:
            size, digest = absolute.stat().st_size, file_sha256(absolute)
        if expected_sha256 is not None and expected_sha256 != digest:
            raise InvalidRequest("artefact checksum mismatch",
                                 [f"expected_sha256: {expected_sha256} differs from the artefact's {digest}"])
        return format, self._stored_path(absolute), size, digest, absolute.is_dir()

    def artefact(self, key: str, format: str) -> Artefact:
        """The version's export in ``format``; NotFound naming the formats it has, or when the recorded file has
        since disappeared from the disk."""
        model = self.get(key)
        found = model.artefact(format)
        if found is None:
            has = ", ".join(model.formats) if model.artefacts else "none yet"
            raise NotFound(f"model {model.id} ({model.ref}) has no '{format}' export; formats it has: {has}")
        if not found.path.exists():
            raise NotFound(f"model {model.id}'s '{format}' export is recorded at {found.path} but is no longer "
                           "on the disk")
        return found

    # -- status -----------------------------------------------------------------------
    def set_status(self, key: str, status: str | ModelStatus) -> ModelVersion:
        """Move to ``status`` along ``TRANSITIONS`` (the same status changes nothing); Conflict otherwise."""
        return self._move(key, ModelStatus.parse(status))

    def mark_loaded(self, key: str) -> ModelVersion:
        """The serving engine loaded it: ``deployed``; a reload of a deployed one renews ``loaded_at``.
        Conflict when archived."""
        return self._move(key, ModelStatus.DEPLOYED, reload=True)

    def mark_unloaded(self, key: str) -> ModelVersion:
        """The serving engine unloaded it: back to ``trained``. Conflict when it was not loaded."""
        return self._move(key, ModelStatus.TRAINED, only_from=ModelStatus.DEPLOYED)

    def archive(self, key: str) -> ModelVersion:
        """Keep it, never serve it; Conflict while it is loaded (unload it first)."""
        return self._move(key, ModelStatus.ARCHIVED)

    def _move(self, key: str, target: ModelStatus, only_from: ModelStatus | None = None,
              reload: bool = False) -> ModelVersion:
        now = self.now()
        with self._transaction() as db:
            model = self._read(db, self._resolve(db, key))
            if only_from is not None and model.status is not only_from:
                raise Conflict(f"model {model.id} ({model.ref}) is {model.status.value}, not {only_from.value}"
                               + (" (not loaded)" if only_from is ModelStatus.DEPLOYED else ""))
            if model.status is target and not (reload and target is ModelStatus.DEPLOYED):
                return model
            if model.status is not target and target not in TRANSITIONS[model.status]:
                raise Conflict(_refusal(model, target))
            loaded_at = now if target is ModelStatus.DEPLOYED else None
            archived_at = now if target is ModelStatus.ARCHIVED else None
            db.execute("UPDATE models SET status=?, loaded_at=?, archived_at=?, updated_at=? WHERE id=?",
                       (target.value, loaded_at, archived_at, now, model.id))
            changed = self._read(db, model.id)
        self._emit(changed, _event(model.status, target))
        return changed

    def reset_loaded(self, kinds: builtins.list[ModelKind] | None = None) -> builtins.list[str]:
        """Every ``deployed`` version (of ``kinds``; None: of every kind) back to ``trained``: what a serving
        engine's start calls, since a fresh engine has nothing loaded. Returns their ids."""
        now = self.now()
        names = [kind.value for kind in (kinds or list(ModelKind))]
        marks = ", ".join("?" * len(names))
        with self._transaction() as db:
            ids = [r["id"] for r in db.execute(f"SELECT id FROM models WHERE status=? AND kind IN ({marks}) "
                                               "ORDER BY seq", (ModelStatus.DEPLOYED.value, *names))]
            db.execute(f"UPDATE models SET status=?, loaded_at=NULL, updated_at=? WHERE status=? AND kind IN ({marks})",
                       (ModelStatus.TRAINED.value, now, ModelStatus.DEPLOYED.value, *names))
        return ids

    # -- internals --------------------------------------------------------------------
    def _stored_path(self, absolute: Path) -> str:
        try:
            return absolute.relative_to(self.artefact_root).as_posix()
        except ValueError:
            return str(absolute)

    def _resolve(self, db: sqlite3.Connection, key: str) -> str:
        """The id of the version ``key`` names."""
        if not isinstance(key, str) or not key:
            raise NotFound(f"model {key!r} does not exist")
        if key.startswith(ID_PREFIX):
            row = db.execute("SELECT id FROM models WHERE id=?", (key,)).fetchone()
        elif ":" in key:
            name, _, number = key.rpartition(":")
            row = db.execute("SELECT id FROM models WHERE name=? AND version=?",
                             (name, int(number))).fetchone() if number.isdigit() else None
        else:
            row = db.execute("SELECT id FROM models WHERE name=? ORDER BY version DESC LIMIT 1", (key,)).fetchone()
        if row is None:
            raise NotFound(f"model '{key}' does not exist")
        return str(row["id"])

    def _read(self, db: sqlite3.Connection, model_id: str) -> ModelVersion:
        row = db.execute(f"SELECT {_COLUMNS} FROM models WHERE id=?", (model_id,)).fetchone()
        if row is None:
            raise NotFound(f"model '{model_id}' does not exist")
        return self._model(row, self._artefacts(db, [model_id]).get(model_id, ()))

    def _artefacts(self, db: sqlite3.Connection,
                   model_ids: builtins.list[str]) -> dict[str, tuple[Artefact, ...]]:
        if not model_ids:
            return {}
        found: dict[str, builtins.list[Artefact]] = {}
        rows = db.execute(f"SELECT * FROM model_artefacts WHERE model_id IN ({', '.join('?' * len(model_ids))}) "
                          "ORDER BY model_id, format", model_ids)
        for r in rows:
            path = Path(r["path"])
            found.setdefault(r["model_id"], []).append(Artefact(
                format=r["format"], path=path if path.is_absolute() else self.artefact_root / path, bytes=r["bytes"],
                sha256=r["sha256"], is_dir=bool(r["is_dir"]), created_at=r["created_at"]))
        return {k: tuple(v) for k, v in found.items()}

    @staticmethod
    def _model(row: sqlite3.Row, artefacts: tuple[Artefact, ...]) -> ModelVersion:
        return ModelVersion(
            id=row["id"], name=row["name"], version=row["version"], kind=ModelKind(row["kind"]),
            status=ModelStatus(row["status"]), base_model=row["base_model"], description=row["description"],
            license=row["license"],
            source=ModelSource(job_id=row["job_id"], run_id=row["run_id"], dataset_id=row["dataset_id"],
                               expert_id=row["expert_id"], expert_version=row["expert_version"]),
            training_config=json.loads(row["training_config"]), metrics=json.loads(row["metrics"]),
            artefacts=artefacts, created_at=row["created_at"], updated_at=row["updated_at"],
            loaded_at=row["loaded_at"], archived_at=row["archived_at"])


def _refusal(model: ModelVersion, target: ModelStatus) -> str:
    what = f"model {model.id} ({model.ref}) is {model.status.value}"
    if model.status is ModelStatus.ARCHIVED and target is ModelStatus.DEPLOYED:
        return f"{what}: an archived model cannot be loaded (restore it to trained first)"
    if model.status is ModelStatus.DEPLOYED and target is ModelStatus.ARCHIVED:
        return f"{what}: unload it before archiving it"
    return f"{what}; it cannot become {target.value}"


def _event(before: ModelStatus, after: ModelStatus) -> str:
    """The event of a move (a reload is ``model.loaded`` again)."""
    if after is ModelStatus.DEPLOYED:
        return MODEL_LOADED
    if after is ModelStatus.ARCHIVED:
        return MODEL_ARCHIVED
    return MODEL_UNLOADED if before is ModelStatus.DEPLOYED else MODEL_RESTORED

