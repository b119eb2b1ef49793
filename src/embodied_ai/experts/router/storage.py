"""The router's state on disk: atomic file writes and the SQLite store of routing statistics.

A crash mid-write must never leave a half-written gate or config: files are written to a
temporary sibling, fsynced, then renamed over the old one (rename is atomic on POSIX).
Statistics live in SQLite, whose transactions give the same guarantee for counters.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# Decisions are kept so feedback can name a request; older ones are dropped past this count
# (their counters stay). Bounded so a long-running robot does not grow the file forever.
MAX_KEPT_DECISIONS = 20_000
# A prompt is stored (for feedback by prompt text and retraining) up to this length: the
# embedder reads only its first 256 tokens anyway, and 20 000 kept 100 000-character prompts
# would otherwise make a 2 GB file.
STORED_PROMPT_CHARS = 4096


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, payload: object) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


@dataclass(frozen=True)
class ExpertCounters:
    expert: str
    selections: int
    confidence_sum: float
    feedback_total: int
    feedback_correct: int


@dataclass(frozen=True)
class StoredDecision:
    request_id: str
    prompt: str
    expert: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT UNIQUE NOT NULL,
    prompt TEXT NOT NULL,
    expert TEXT NOT NULL,
    top_expert TEXT NOT NULL,
    confidence REAL NOT NULL,
    fallback INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_prompt ON decisions(prompt);
CREATE TABLE IF NOT EXISTS expert_counters (
    expert TEXT PRIMARY KEY,
    selections INTEGER NOT NULL DEFAULT 0,
    confidence_sum REAL NOT NULL DEFAULT 0,
    feedback_total INTEGER NOT NULL DEFAULT 0,
    feedback_correct INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS totals (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- One verdict per request (a later one replaces it); the prompt is copied here so corrections
-- outlive the pruned decision and can be fed back into retraining.
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    routed_expert TEXT NOT NULL,
    correct_expert TEXT NOT NULL,
    created REAL NOT NULL
);
"""


class StatisticsStore:
    """Counters per expert, recent decisions and feedback in one SQLite file; thread-safe."""

    def __init__(self, path: Path, max_kept_decisions: int = MAX_KEPT_DECISIONS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_kept_decisions = max_kept_decisions
        self._lock = threading.Lock()
        # The node's executor may call from several threads; one connection behind a lock.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_decisions(self, rows: list[tuple[str, str, str, str, float, bool]]) -> None:
        """rows: (request_id, prompt, expert, top_expert, confidence, fallback), one transaction."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO decisions(request_id, prompt, expert, top_expert, confidence, fallback, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r[0], r[1][:STORED_PROMPT_CHARS], r[2], r[3], r[4], int(r[5]), now) for r in rows],
            )
            for _, _, expert, _, confidence, _ in rows:
                self._db.execute(
                    "INSERT INTO expert_counters(expert, selections, confidence_sum) VALUES (?, 1, ?)"
                    " ON CONFLICT(expert) DO UPDATE SET selections = selections + 1,"
                    " confidence_sum = confidence_sum + excluded.confidence_sum",
                    (expert, confidence),
                )
            self._add_total("requests", len(rows))
            self._add_total("fallbacks", sum(1 for r in rows if r[5]))
            self._db.execute(
                "DELETE FROM decisions WHERE seq <= (SELECT MAX(seq) FROM decisions) - ?",
                (self.max_kept_decisions,),
            )

    def _add_total(self, name: str, amount: int) -> None:
        self._db.execute(
            "INSERT INTO totals(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
            (name, amount, amount),
        )

    def find_decision(self, request_id_or_prompt: str) -> StoredDecision | None:
        """By request id first, else the most recent decision for exactly this prompt."""
        with self._lock:
            row = self._db.execute(
                "SELECT request_id, prompt, expert FROM decisions WHERE request_id = ?", (request_id_or_prompt,)
            ).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT request_id, prompt, expert FROM decisions WHERE prompt = ? ORDER BY seq DESC LIMIT 1",
                    (request_id_or_prompt[:STORED_PROMPT_CHARS],),
                ).fetchone()
        return StoredDecision(*row) if row else None

    def record_feedback(self, decision: StoredDecision, correct_expert: str) -> None:
        """Count a verdict against the expert that was routed to; a repeated verdict replaces the old."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            previous = self._db.execute(
                "SELECT routed_expert, correct_expert FROM feedback WHERE request_id = ?", (decision.request_id,)
            ).fetchone()
            if previous is not None:
                self._count_feedback(previous[0], previous[0] == previous[1], sign=-1)
            self._db.execute(
                "INSERT OR REPLACE INTO feedback(request_id, prompt, routed_expert, correct_expert, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (decision.request_id, decision.prompt, decision.expert, correct_expert, time.time()),
            )
            self._count_feedback(decision.expert, decision.expert == correct_expert, sign=1)

    def _count_feedback(self, expert: str, correct: bool, sign: int) -> None:
        self._db.execute(
            "INSERT INTO expert_counters(expert) VALUES (?) ON CONFLICT(expert) DO NOTHING", (expert,)
        )
        self._db.execute(
            "UPDATE expert_counters SET feedback_total = feedback_total + ?,"
            " feedback_correct = feedback_correct + ? WHERE expert = ?",
            (sign, sign * int(correct), expert),
        )

    def counters(self) -> dict[str, ExpertCounters]:
        with self._lock:
            rows = self._db.execute(
                "SELECT expert, selections, confidence_sum, feedback_total, feedback_correct FROM expert_counters"
            ).fetchall()
        return {row[0]: ExpertCounters(*row) for row in rows}

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM totals").fetchall())

    def corrections(self) -> list[tuple[str, str]]:
        """(prompt, correct expert) for every verdict, oldest first: labelled data for retraining."""
        with self._lock:
            return self._db.execute("SELECT prompt, correct_expert FROM feedback ORDER BY created").fetchall()

    def reset(self) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            for table in ("decisions", "expert_counters", "totals", "feedback"):
                self._db.execute(f"DELETE FROM {table}")
