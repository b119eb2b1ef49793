"""The expert registry: SQLite plus one folder per expert version, under the state directory.

    <state>/experts.sqlite               experts and their versions (WAL, synchronous=FULL:
                                         a call that returned has reached the disk)
    <state>/experts/<name>/v<N>/         that version's files (an .onnx_adapter, or an ONNX
                                         model folder for an expert trained from scratch)

Fields follow the Robot API's Expert API: id, name, domain, category, status (initializing /
training / ready / disabled), config (a base model, or d_model / n_layers / n_heads / d_ff),
quantization (Q8 / Q4 / FP16), metrics, performance (measured), usage, versions. Deleting is
soft by default (status disabled, hidden from listings, files kept); a hard delete removes
the row and the files.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from embodied_ai.database import open_database, transaction
from embodied_ai.errors import EmbodiedError, ErrorCode

Status = Literal["initializing", "training", "ready", "disabled"]
Quantization = Literal["Q8", "Q4", "FP16"]
STATUSES: tuple[str, ...] = ("initializing", "training", "ready", "disabled")
QUANTIZATIONS: tuple[str, ...] = ("Q8", "Q4", "FP16")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    domain TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    quantization TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    performance TEXT NOT NULL DEFAULT '{}',
    total_calls INTEGER NOT NULL DEFAULT 0,
    last_used TEXT,
    current_version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS experts_live_name ON experts(name) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS versions (
    expert_id INTEGER NOT NULL REFERENCES experts(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,                 -- base | adapter | model
    path TEXT,                          -- relative to the state directory
    config TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (expert_id, version)
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class ExpertNotFound(EmbodiedError):
    code = ErrorCode.EXPERT_NOT_FOUND


@dataclass(frozen=True)
class ExpertVersion:
    version: int
    kind: str
    path: str | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    note: str
    created_at: str


@dataclass(frozen=True)
class Expert:
    id: int
    name: str
    domain: str
    category: str
    status: str
    config: dict[str, Any]
    quantization: str
    metrics: dict[str, Any]
    performance: dict[str, Any]
    total_calls: int
    last_used: str | None
    current_version: int
    created_at: str
    updated_at: str
    deleted_at: str | None
    versions: list[ExpertVersion] = field(default_factory=list)

    @property
    def current(self) -> ExpertVersion | None:
        return next((v for v in self.versions if v.version == self.current_version), None)

    def to_dict(self) -> dict[str, Any]:
        """The Robot API's GET /experts/{id} shape."""
        return {
            "id": self.id, "name": self.name, "domain": self.domain, "category": self.category,
            "status": self.status, "config": self.config, "quantization": self.quantization,
            "metrics": self.metrics, "performance": self.performance,
            "usage_stats": {"total_calls": self.total_calls, "last_used": self.last_used},
            "current_version": self.current_version, "created_at": self.created_at,
            "versions": [v.__dict__ for v in self.versions],
        }


class ExpertRegistry:
    """All reads and writes of the experts' metadata; safe to share between threads."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = open_database(state_dir / "experts.sqlite", _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    def version_dir(self, name: str, version: int) -> Path:
        return self.state_dir / "experts" / name / f"v{version}"

    # -- create / read ------------------------------------------------------------------
    def create(self, name: str, domain: str = "", category: str = "", config: dict[str, Any] | None = None,
               quantization: str = "Q8", status: str = "initializing") -> Expert:
        _check_name(name)
        _check_choice("quantization", quantization, QUANTIZATIONS)
        _check_choice("status", status, STATUSES)
        now = _now()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM experts WHERE name=? AND deleted_at IS NULL", (name,)).fetchone():
                raise EmbodiedError(f"an expert named '{name}' already exists", ErrorCode.EXPERT_CREATION_FAILED)
            cursor = db.execute(
                "INSERT INTO experts(name, domain, category, status, config, quantization, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, domain, category, status, json.dumps(config or {}), quantization, now, now))
            expert_id = int(cursor.lastrowid or 0)
        return self.get(expert_id)

    def get(self, key: int | str, include_deleted: bool = False) -> Expert:
        """By id, or by name (an all-digit string is an id)."""
        with self._lock:
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                row = self._db.execute("SELECT * FROM experts WHERE id=?", (int(key),)).fetchone()
            else:
                row = self._db.execute("SELECT * FROM experts WHERE name=? AND deleted_at IS NULL", (key,)).fetchone()
            if row is None or (row["deleted_at"] is not None and not include_deleted):
                raise ExpertNotFound(f"expert '{key}' does not exist")
            versions = self._db.execute("SELECT * FROM versions WHERE expert_id=? ORDER BY version",
                                        (row["id"],)).fetchall()
        return _expert(row, versions)

    def list(self, category: str | None = None, status: str | None = None, sort_by: str = "name",
             limit: int = 50, offset: int = 0) -> tuple[list[Expert], int]:
        where, args = ["deleted_at IS NULL"], []
        if category:
            where.append("category=?")
            args.append(category)
        if status:
            where.append("status=?")
            args.append(status)
        order = {"name": "name", "accuracy": "json_extract(metrics, '$.accuracy') DESC",
                 "speed": "json_extract(performance, '$.inference_speed_tokens_per_sec') DESC", "id": "id"}.get(sort_by)
        if order is None:
            raise EmbodiedError(f"sort_by must be name, accuracy or speed, not {sort_by!r}", ErrorCode.EXPERT_NOT_FOUND)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM experts WHERE {' AND '.join(where)}", args).fetchone()[0]
            ids = [r["id"] for r in self._db.execute(
                f"SELECT id FROM experts WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, limit, offset])]
        return [self.get(i) for i in ids], int(total)

    # -- update -------------------------------------------------------------------------
    def update(self, key: int | str, **fields: Any) -> Expert:
        """Metadata only: domain, category, status, quantization, config, metrics, performance."""
        allowed = {"domain", "category", "status", "quantization", "config", "metrics", "performance"}
        unknown = set(fields) - allowed
        if unknown:
            raise EmbodiedError(f"cannot update {sorted(unknown)}", ErrorCode.EXPERT_CREATION_FAILED)
        if "status" in fields:
            _check_choice("status", fields["status"], STATUSES)
        if "quantization" in fields:
            _check_choice("quantization", fields["quantization"], QUANTIZATIONS)
        expert = self.get(key)
        values = {k: json.dumps(v) if k in ("config", "metrics", "performance") else v for k, v in fields.items()}
        if values:
            with self._transaction() as db:
                db.execute(f"UPDATE experts SET {', '.join(f'{k}=?' for k in values)}, updated_at=? WHERE id=?",
                           [*values.values(), _now(), expert.id])
        return self.get(expert.id)

    def set_status(self, key: int | str, status: str, expected: tuple[str, ...] | None = None) -> Expert:
        """Change the status; with ``expected``, only from one of those (atomic check-and-set)."""
        _check_choice("status", status, STATUSES)
        expert = self.get(key)
        with self._transaction() as db:
            current = db.execute("SELECT status FROM experts WHERE id=?", (expert.id,)).fetchone()["status"]
            if expected is not None and current not in expected:
                raise EmbodiedError(f"expert '{expert.name}' is {current}", ErrorCode.EXPERT_NOT_READY)
            db.execute("UPDATE experts SET status=?, updated_at=? WHERE id=?", (status, _now(), expert.id))
        return self.get(expert.id)

    def record_usage(self, key: int | str, calls: int = 1) -> None:
        expert = self.get(key)
        with self._transaction() as db:
            db.execute("UPDATE experts SET total_calls=total_calls+?, last_used=? WHERE id=?",
                       (calls, _now(), expert.id))

    # -- versions -----------------------------------------------------------------------
    def add_version(self, key: int | str, kind: str, source: Path | None, config: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None, note: str = "", make_current: bool = True) -> ExpertVersion:
        """Copy ``source`` (a file or a folder) into the next version's folder and record it."""
        expert = self.get(key)
        version = max((v.version for v in expert.versions), default=0) + 1
        relative: str | None = None
        if source is not None:
            target = self.version_dir(expert.name, version)
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            if source.is_dir():
                shutil.copytree(source, target / source.name)
            else:
                shutil.copyfile(source, target / source.name)
            relative = str((target / source.name).relative_to(self.state_dir))
        now = _now()
        with self._transaction() as db:
            db.execute("INSERT INTO versions(expert_id, version, kind, path, config, metrics, note, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (expert.id, version, kind, relative, json.dumps(config or {}), json.dumps(metrics or {}), note,
                        now))
            if make_current:
                db.execute("UPDATE experts SET current_version=?, metrics=?, updated_at=? WHERE id=?",
                           (version, json.dumps(metrics or expert.metrics), now, expert.id))
        return next(v for v in self.get(expert.id).versions if v.version == version)

    def artifact(self, key: int | str) -> tuple[str, Path | None]:
        """(kind, absolute path) of the current version."""
        expert = self.get(key)
        current = expert.current
        if current is None:
            raise EmbodiedError(f"expert '{expert.name}' has no trained version yet", ErrorCode.EXPERT_NOT_READY)
        return current.kind, (self.state_dir / current.path) if current.path else None

    # -- delete -------------------------------------------------------------------------
    def delete(self, key: int | str, hard: bool = False) -> None:
        expert = self.get(key, include_deleted=hard)
        with self._transaction() as db:
            if hard:
                db.execute("DELETE FROM versions WHERE expert_id=?", (expert.id,))
                db.execute("DELETE FROM experts WHERE id=?", (expert.id,))
            else:
                db.execute("UPDATE experts SET status='disabled', deleted_at=?, updated_at=? WHERE id=?",
                           (_now(), _now(), expert.id))
        if hard:
            # Files go after the rows: a crash in between leaves files without a row (harmless),
            # never a row pointing at missing files.
            shutil.rmtree(self.state_dir / "experts" / expert.name, ignore_errors=True)


def _expert(row: sqlite3.Row, versions: list[sqlite3.Row]) -> Expert:
    return Expert(
        id=row["id"], name=row["name"], domain=row["domain"], category=row["category"], status=row["status"],
        config=json.loads(row["config"]), quantization=row["quantization"], metrics=json.loads(row["metrics"]),
        performance=json.loads(row["performance"]), total_calls=row["total_calls"], last_used=row["last_used"],
        current_version=row["current_version"], created_at=row["created_at"], updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
        versions=[ExpertVersion(v["version"], v["kind"], v["path"], json.loads(v["config"]), json.loads(v["metrics"]),
                                v["note"], v["created_at"]) for v in versions])


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "_-" for c in name) or name.isdigit() or len(name) > 64:
        raise EmbodiedError(f"invalid expert name {name!r}: letters, digits, '_' and '-', not all digits",
                            ErrorCode.EXPERT_CREATION_FAILED)


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise EmbodiedError(f"{what} must be one of {', '.join(choices)}, not {value!r}",
                            ErrorCode.EXPERT_CREATION_FAILED)
