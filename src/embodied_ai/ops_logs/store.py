"""Operations logs: every node's ``/rosout`` lines in SQLite, queried by node, level and time with cursor paging.

The database file is the caller's (the operations database in the state directory, shared with other
modules' tables, hence the ``ops_logs`` prefix). WAL with synchronous=NORMAL: a log line lost in a power
cut costs little, and appends stay cheap.

Order: newest first means most recently stored first (``id`` descending). Ids only grow, so a cursor
(the last row's id) keeps its place while new lines arrive: they land before page one, never between
pages. Each batch is stored in timestamp order, so within a batch stored order is time order too.

Pruning (at most once a minute, from ``append``) drops lines stored more than ``retention_s`` ago and
then the oldest beyond ``max_rows``; so between two prunings the table may hold up to a minute's lines
more than ``max_rows``. Age counts from when the store received a line, not from its stamp: a node on
simulated time stamps its lines near 1970, and those must not be dropped on arrival.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from embodied_ai.database import MAX_PAGE, open_database, transaction
from embodied_ai.errors import InvalidRequest
from embodied_ai.ops_logs.models import (
    LEVELS,
    MAX_MESSAGE_CHARS,
    TRUNCATED,
    OpsLogLine,
    from_ros_levels,
    iso_z,
    level_name,
    parse_instant,
)

DEFAULT_PAGE = 100
DEFAULT_RETENTION_S = 7 * 24 * 3600.0
DEFAULT_MAX_ROWS = 200_000
PRUNE_EVERY_S = 60.0
MAX_SERVICES = 50  # names in one comma-separated ``service`` filter
MAX_SERVICE_CHARS = 255

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never come back, so cursors stay valid
    ts REAL NOT NULL,                      -- the line's stamp, epoch seconds
    received_at REAL NOT NULL,             -- when the store got it (what retention counts from)
    level INTEGER NOT NULL,                -- 10 DEBUG .. 50 FATAL, as rcl_interfaces/msg/Log
    service TEXT NOT NULL,                 -- the node
    logger TEXT NOT NULL,                  -- the full logger name
    message TEXT NOT NULL,
    details TEXT NOT NULL                  -- JSON object
);
CREATE INDEX IF NOT EXISTS ops_logs_service ON ops_logs(service, id);
CREATE INDEX IF NOT EXISTS ops_logs_level ON ops_logs(level, id);
CREATE INDEX IF NOT EXISTS ops_logs_ts ON ops_logs(ts);
CREATE INDEX IF NOT EXISTS ops_logs_received ON ops_logs(received_at);
CREATE TABLE IF NOT EXISTS ops_logs_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# A cursor is base64url (no padding) of 16 bytes: the last row's id (8 bytes, big-endian) and the first
# 8 bytes of an HMAC-SHA256 of it under a key kept in the database, so an edited cursor is refused
# rather than read as some other place.
_CURSOR_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
_CURSOR_CONTEXT = b"ops_logs.cursor:"


def page_body(lines: list[dict[str, Any]], next_cursor: str | None, limit: int) -> dict[str, Any]:
    """Seed 002's answer to ``GET /ops/logs``: ``logs`` and ``pagination``."""
    return {"logs": lines, "pagination": {"limit": limit, "has_more": next_cursor is not None,
                                          "next_cursor": next_cursor}}


def _details_json(details: Any) -> str:
    """The details as a JSON object; values JSON cannot hold (NaN, objects) become text rather than
    costing the line."""
    try:
        return json.dumps(dict(details), default=str, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps({str(key): value if isinstance(value, (str, int, bool)) or value is None else str(value)
                           for key, value in dict(details).items()})


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - len(TRUNCATED)] + TRUNCATED


def _line_dict(row: sqlite3.Row) -> dict[str, Any]:
    details = json.loads(row["details"])
    # The full logger name (servo_controller.control) says more than the node; seed 002 has no field for it.
    details.setdefault("logger", row["logger"])
    return {"timestamp": iso_z(row["ts"]), "level": from_ros_levels(row["level"]), "service": row["service"],
            "message": row["message"], "trace_id": None, "details": details}


def _services(value: str | Sequence[str] | None, problems: list[str]) -> list[str]:
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(part, str) for part in parts):
        problems.append(f"service: {value!r} is not a node name or comma-separated node names")
        return []
    names = list(dict.fromkeys(part.strip() for part in parts))
    if not names or any(not name for name in names):
        problems.append(f"service: {value!r} has an empty node name")
    elif len(names) > MAX_SERVICES:
        problems.append(f"service: at most {MAX_SERVICES} node names, got {len(names)}")
    elif any(len(name) > MAX_SERVICE_CHARS for name in names):
        problems.append(f"service: node names are at most {MAX_SERVICE_CHARS} characters")
    return names


def _min_severity(value: str | None, problems: list[str]) -> int | None:
    if value is None:
        return None
    name = level_name(value) if isinstance(value, str) else None
    if name is None:
        problems.append(f"level: {value!r} is not one of {', '.join(level.lower() for level in LEVELS)}")
        return None
    return LEVELS[name]


def _limit(value: int | str, problems: list[str]) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 1 <= number <= MAX_PAGE:
        problems.append(f"limit: {value!r} is not a whole number from 1 to {MAX_PAGE}")
        return DEFAULT_PAGE
    return number


class OpsLogStore:
    """Nodes' log lines in the ``ops_logs`` table of ``db_path``; safe to share between threads."""

    def __init__(self, db_path: Path | str, retention_s: float = DEFAULT_RETENTION_S,
                 max_rows: int = DEFAULT_MAX_ROWS, clock: Callable[[], float] = time.time) -> None:
        if not (math.isfinite(retention_s) and retention_s > 0):
            raise ValueError(f"retention_s must be a positive number of seconds, got {retention_s!r}")
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a whole number >= 1, got {max_rows!r}")
        self.retention_s = float(retention_s)
        self.max_rows = max_rows
        self._clock = clock
        self._next_prune_at = -math.inf  # the first append prunes what a previous run left
        self._lock = threading.Lock()
        self._db = open_database(db_path, _SCHEMA, synchronous="NORMAL", foreign_keys=False)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO ops_logs_meta(name, value) VALUES ('cursor_key', ?)",
                       (secrets.token_hex(32),))
            self._cursor_key = bytes.fromhex(
                db.execute("SELECT value FROM ops_logs_meta WHERE name='cursor_key'").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    # -- writing ------------------------------------------------------------------------
    def append(self, lines: Iterable[OpsLogLine]) -> int:
        """Store a batch of lines in one transaction (and prune, when a minute has passed since the last
        pruning); returns how many lines were stored."""
        batch = sorted(lines, key=lambda line: line.timestamp)
        now = self._clock()
        prune_due = now >= self._next_prune_at
        if not batch and not prune_due:
            return 0
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO ops_logs(ts, received_at, level, service, logger, message, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(line.timestamp, now, LEVELS[line.level], line.service, line.logger, _message(line.message),
                  _details_json(line.details)) for line in batch],
            )
            if prune_due:
                self._prune(db, now)
        return len(batch)

    def prune(self) -> int:
        """Drop lines past retention and the oldest beyond ``max_rows`` now; returns how many went."""
        now = self._clock()
        with self._transaction() as db:
            return self._prune(db, now)

    def _prune(self, db: sqlite3.Connection, now: float) -> int:
        self._next_prune_at = now + PRUNE_EVERY_S
        removed = db.execute("DELETE FROM ops_logs WHERE received_at < ?", (now - self.retention_s,)).rowcount
        # The newest ``max_rows`` lines stay: everything older than the max_rows-th newest goes.
        row = db.execute("SELECT id FROM ops_logs ORDER BY id DESC LIMIT 1 OFFSET ?", (self.max_rows - 1,)).fetchone()
        if row is not None:
            removed += db.execute("DELETE FROM ops_logs WHERE id < ?", (row[0],)).rowcount
        return int(removed)

    # -- reading ------------------------------------------------------------------------
    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM ops_logs").fetchone()[0])

    def query(self, service: str | Sequence[str] | None = None, level: str | None = None,
              since: str | float | None = None, until: str | float | None = None, limit: int | str = DEFAULT_PAGE,
              cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of lines, newest first, and the cursor of the next page (None on the last page).

        ``service``: node names (comma-separated text or a list), exact; ``level``: the minimum level,
        case-insensitive (``warn`` gives WARN, ERROR and FATAL); ``since`` (inclusive) and ``until``
        (exclusive): ISO-8601 with a timezone, or epoch seconds; ``limit``: 1..1000; ``cursor``: the
        ``next_cursor`` of the previous page. InvalidRequest lists every bad parameter."""
        problems: list[str] = []
        services = _services(service, problems)
        min_severity = _min_severity(level, problems)
        start = end = None
        if since is not None:
            start, problem = parse_instant(since, "since")
            problems += [problem] if problem else []
        if until is not None:
            end, problem = parse_instant(until, "until")
            problems += [problem] if problem else []
        if start is not None and end is not None and start >= end:
            problems.append("since must be before until")
        page = _limit(limit, problems)
        before_id = self._decode_cursor(cursor, problems) if cursor is not None else None
        if problems:
            raise InvalidRequest(f"invalid log query: {'; '.join(problems)}", problems)

        clauses: list[str] = []
        params: list[Any] = []
        if services:
            clauses.append(f"service IN ({', '.join('?' * len(services))})")
            params += services
        for clause, value in (("level >= ?", min_severity), ("ts >= ?", start), ("ts < ?", end),
                              ("id < ?", before_id)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        with self._lock:
            # One more than the page, to know whether another page follows.
            rows = self._db.execute(f"SELECT * FROM ops_logs {where}ORDER BY id DESC LIMIT ?",
                                    (*params, page + 1)).fetchall()
        next_cursor = self._encode_cursor(rows[page - 1]["id"]) if len(rows) > page else None
        return [_line_dict(row) for row in rows[:page]], next_cursor

    # -- cursors ------------------------------------------------------------------------
    def _tag(self, packed_id: bytes) -> bytes:
        return hmac.new(self._cursor_key, _CURSOR_CONTEXT + packed_id, hashlib.sha256).digest()[:8]

    def _encode_cursor(self, row_id: int) -> str:
        packed = row_id.to_bytes(8, "big")
        return base64.urlsafe_b64encode(packed + self._tag(packed)).decode("ascii").rstrip("=")

    def _decode_cursor(self, cursor: Any, problems: list[str]) -> int | None:
        refused = "cursor: not a cursor this API gave out (use next_cursor as it came)"
        if not isinstance(cursor, str) or not _CURSOR_PATTERN.fullmatch(cursor):
            problems.append(refused)
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "==")
        except (binascii.Error, ValueError):
            problems.append(refused)
            return None
        packed, tag = raw[:8], raw[8:]
        # Re-encoding catches edits to the last character's unused bits, which decode to the same bytes.
        if len(raw) != 16 or not hmac.compare_digest(tag, self._tag(packed)) or self._encode_cursor(
                int.from_bytes(packed, "big")) != cursor:
            problems.append(refused)
            return None
        return int.from_bytes(packed, "big")

