"""Serving figures of model versions: one row per request, summaries and time series.

The serving path calls ``record`` for every request; rows gather in memory and are written
in one transaction per batch (``batch_size`` rows, or the first row waiting ``max_delay_s``),
so recording costs a list append almost always and one fsync per batch. Readers flush first,
so they see every request recorded so far. A crash loses at most the unwritten batch: these
are operating figures, not records the API acknowledged. The owner should also call
``flush`` on a timer, so that a quiet model's last requests reach the disk.

Rows older than the retention (default 7 days) are left out of every figure and deleted on
a flush at most once an hour (and by ``prune``). The table is ``model_requests``, in the
caller's database file (the operations database), next to the registry's tables.

Figures: latency in milliseconds; the p95 is the nearest-rank percentile (the smallest
recorded latency with at least 95 % of the requests at or below it: the ceil(0.95 n)-th
smallest), always a latency that was measured; success rate in percent, as seed 002 reports it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from embodied_ai.database import open_database, transaction
from embodied_ai.errors import InvalidRequest

# The windows are embodied_ai.timeseries' (shared with the bridge's system samples); INTERVALS and MAX_BUCKETS
# are re-exported for the registry's package, which names them.
from embodied_ai.timeseries import INTERVALS as INTERVALS
from embodied_ai.timeseries import MAX_BUCKETS as MAX_BUCKETS
from embodied_ai.timeseries import epoch_ms, format_epoch_ms, parse_window

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 7.0
PRUNE_EVERY_S = 3600.0

Clock = Callable[[], datetime]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_requests (
    model_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,        -- when the request ended, epoch milliseconds
    latency_ms REAL NOT NULL,
    success INTEGER NOT NULL,      -- 1 or 0
    memory_mb REAL                 -- the serving process's memory then, when known
);
CREATE INDEX IF NOT EXISTS model_requests_by_model ON model_requests(model_id, at_ms);
CREATE INDEX IF NOT EXISTS model_requests_by_time ON model_requests(at_ms);
"""

# Count, mean, successes and the nearest-rank p95 per bucket, in one pass of SQLite's window functions:
# the p95 is the row whose rank in its bucket is ceil(0.95 n) = (95 n + 99) / 100 in integer arithmetic.
_AGGREGATE = """
WITH picked AS (
    SELECT {bucket} AS bucket, latency_ms, success FROM model_requests
    WHERE model_id=? AND at_ms>=? AND at_ms<?
), ranked AS (
    SELECT bucket, latency_ms, success,
           ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY latency_ms) AS position,
           COUNT(*) OVER (PARTITION BY bucket) AS n
    FROM picked
)
SELECT bucket, COUNT(*) AS requests, AVG(latency_ms) AS avg_latency, SUM(success) AS successes,
       MAX(CASE WHEN position = (95 * n + 99) / 100 THEN latency_ms END) AS p95_latency
FROM ranked GROUP BY bucket ORDER BY bucket
"""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _rate(successes: int, requests: int) -> float | None:
    return None if requests == 0 else 100.0 * successes / requests


@dataclass(frozen=True)
class Bucket:
    """One interval of a time series; an empty one has zero requests and no figures."""

    start: str
    requests: int
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    success_rate: float | None         # percent

    def to_dict(self) -> dict[str, Any]:
        return {"timestamp": self.start, "requests": self.requests, "avg_latency_ms": self.avg_latency_ms,
                "p95_latency_ms": self.p95_latency_ms, "success_rate": self.success_rate}


@dataclass(frozen=True)
class MetricsSeries:
    model_id: str
    interval: str
    start_time: str                    # the first bucket's start (start_time rounded down to the interval)
    end_time: str                      # the last bucket's end
    buckets: tuple[Bucket, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "interval": self.interval, "start_time": self.start_time,
                "end_time": self.end_time, "buckets": [b.to_dict() for b in self.buckets]}


@dataclass(frozen=True)
class Performance:
    """A version's serving figures over the retained window."""

    model_id: str
    window_start: str
    window_end: str
    requests_total: int
    successes: int
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    success_rate: float | None         # percent
    requests_last_hour: int
    memory_mb: float | None            # the latest recorded
    peak_memory_mb: float | None
    last_request_at: str | None

    @property
    def error_rate(self) -> float | None:
        return None if self.success_rate is None else 100.0 - self.success_rate

    def to_dict(self) -> dict[str, Any]:
        """Seed 002's shape (response times in seconds, rates in percent), with the milliseconds as well."""
        def seconds(ms: float | None) -> float | None:
            return None if ms is None else ms / 1000.0
        return {
            "model_id": self.model_id,
            "performance_metrics": {
                "requests_total": self.requests_total, "avg_response_time": seconds(self.avg_latency_ms),
                "p95_response_time": seconds(self.p95_latency_ms), "avg_latency_ms": self.avg_latency_ms,
                "p95_latency_ms": self.p95_latency_ms, "success_rate": self.success_rate,
                "error_rate": self.error_rate, "throughput_per_hour": self.requests_last_hour,
            },
            "resource_usage": {"memory_mb": self.memory_mb, "peak_memory_mb": self.peak_memory_mb},
            "window": {"start_time": self.window_start, "end_time": self.window_end},
            "last_request_at": self.last_request_at,
        }


class PerformanceLog:
    """Records serving requests and answers summaries and time series; safe to share between threads."""

    def __init__(self, db_path: Path, retention_days: float = DEFAULT_RETENTION_DAYS, clock: Clock = _utc_now,
                 batch_size: int = 256, max_delay_s: float = 1.0) -> None:
        if not retention_days > 0 or batch_size < 1 or max_delay_s < 0:
            raise ValueError("retention_days must be > 0, batch_size >= 1 and max_delay_s >= 0")
        self.db_path = db_path
        self.retention_ms = int(retention_days * 86_400_000)
        self.batch_size = batch_size
        self.max_delay_ms = int(max_delay_s * 1000)
        self._clock = clock
        self._lock = threading.Lock()              # the connection
        self._pending_lock = threading.Lock()      # the unwritten rows
        self._pending: list[tuple[str, int, float, int, float | None]] = []
        self._next_prune_ms = 0
        # Plain tuples: the figures are read by position.
        self._db = open_database(db_path, _SCHEMA, foreign_keys=False, named_rows=False)

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    # -- writing ----------------------------------------------------------------------
    def record(self, model_id: str, latency_ms: float, success: bool, memory_mb: float | None = None) -> None:
        """One served request of ``model_id`` that ended now. A bad figure is the caller's bug (InvalidRequest);
        a failed write of the batch is logged, never raised into the serving path."""
        problems = []
        if not isinstance(model_id, str) or not model_id:
            problems.append(f"model_id: {model_id!r} is not a non-empty string")
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, (int, float)) or not math.isfinite(latency_ms) \
                or latency_ms < 0:
            problems.append(f"latency_ms: {latency_ms!r} is not a finite number >= 0")
        if memory_mb is not None and (isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, float))
                                      or not math.isfinite(memory_mb) or memory_mb < 0):
            problems.append(f"memory_mb: {memory_mb!r} is not a finite number >= 0")
        if problems:
            raise InvalidRequest("invalid request record", problems)
        now_ms = epoch_ms(self._clock())
        row = (model_id, now_ms, float(latency_ms), int(bool(success)), None if memory_mb is None else float(memory_mb))
        with self._pending_lock:
            self._pending.append(row)
            due = len(self._pending) >= self.batch_size or now_ms - self._pending[0][1] >= self.max_delay_ms
        if due:
            try:
                self.flush()
            except sqlite3.Error:
                log.exception("could not write the serving figures of a batch of requests; they are dropped")

    def flush(self) -> int:
        """Write the rows recorded so far (one transaction), pruning when an hour has passed. Returns how many
        rows it wrote."""
        now_ms = epoch_ms(self._clock())
        written, _ = self._write(now_ms, prune=now_ms >= self._next_prune_ms)
        return written

    def prune(self) -> int:
        """Delete the rows older than the retention now (after writing the pending ones); returns how many."""
        _, deleted = self._write(epoch_ms(self._clock()), prune=True)
        return deleted

    def _write(self, now_ms: int, prune: bool) -> tuple[int, int]:
        with self._pending_lock:
            rows, self._pending = self._pending, []
        if not rows and not prune:
            return 0, 0
        deleted = 0
        with self._transaction() as db:
            if rows:
                db.executemany("INSERT INTO model_requests(model_id, at_ms, latency_ms, success, memory_mb) "
                               "VALUES (?, ?, ?, ?, ?)", rows)
            if prune:
                deleted = db.execute("DELETE FROM model_requests WHERE at_ms<?",
                                     (now_ms - self.retention_ms,)).rowcount
        if prune:
            self._next_prune_ms = now_ms + int(min(PRUNE_EVERY_S * 1000, self.retention_ms))
        return len(rows), deleted

    # -- reading ----------------------------------------------------------------------
    def performance(self, model_id: str) -> Performance:
        """Requests, average and p95 latency, success rate and memory over the retained window. The model is
        not looked up here: the caller resolves it in the registry first (NotFound, a name to its id)."""
        self.flush()
        now_ms = epoch_ms(self._clock())
        since_ms = now_ms - self.retention_ms
        with self._lock:
            rows = self._db.execute(_AGGREGATE.format(bucket="0"), (model_id, since_ms, now_ms + 1)).fetchall()
            last_hour = self._db.execute("SELECT COUNT(*) FROM model_requests WHERE model_id=? AND at_ms>=? AND "
                                         "at_ms<=?", (model_id, now_ms - 3_600_000, now_ms)).fetchone()[0]
            latest = self._db.execute("SELECT memory_mb FROM model_requests WHERE model_id=? AND at_ms>=? AND "
                                      "memory_mb IS NOT NULL ORDER BY at_ms DESC, rowid DESC LIMIT 1",
                                      (model_id, since_ms)).fetchone()
            peak, last_at = self._db.execute("SELECT MAX(memory_mb), MAX(at_ms) FROM model_requests WHERE "
                                             "model_id=? AND at_ms>=?", (model_id, since_ms)).fetchone()
        _, requests, avg, successes, p95 = rows[0] if rows else (0, 0, None, 0, None)
        return Performance(
            model_id=model_id, window_start=format_epoch_ms(since_ms), window_end=format_epoch_ms(now_ms),
            requests_total=int(requests), successes=int(successes or 0), avg_latency_ms=avg, p95_latency_ms=p95,
            success_rate=_rate(int(successes or 0), int(requests)), requests_last_hour=int(last_hour),
            memory_mb=None if latest is None else latest[0], peak_memory_mb=peak,
            last_request_at=None if last_at is None else format_epoch_ms(int(last_at)))

    def metrics(self, model_id: str, start_time: str | datetime | None = None,
                end_time: str | datetime | None = None, interval: str = "1m") -> MetricsSeries:
        """The buckets of the window ``start_time``, ``end_time``, ``interval`` names (``timeseries.parse_window``:
        1m, 5m, 1h; by default the last 60 intervals), each with requests, average and p95 latency and success
        rate; a bucket without requests is there with zero, so charts stay continuous. InvalidRequest lists every
        problem of the window."""
        window = parse_window(start_time, end_time, interval, self._clock())
        step_ms, first_ms, end_ms = window.step_ms, window.first_ms, window.end_ms
        self.flush()
        since_ms = max(first_ms, epoch_ms(self._clock()) - self.retention_ms)
        with self._lock:
            rows = self._db.execute(_AGGREGATE.format(bucket="(at_ms - ?) / ?"),
                                    (first_ms, step_ms, model_id, since_ms, end_ms)).fetchall()
        found = {int(index): (int(requests), avg, int(successes), p95)
                 for index, requests, avg, successes, p95 in rows}
        buckets = []
        for index in range(window.count):
            requests, avg, successes, p95 = found.get(index, (0, None, 0, None))
            buckets.append(Bucket(start=window.bucket_start(index), requests=requests, avg_latency_ms=avg,
                                  p95_latency_ms=p95, success_rate=_rate(successes, requests)))
        return MetricsSeries(model_id=model_id, interval=interval, start_time=window.start_time,
                             end_time=window.end_time, buckets=tuple(buckets))
