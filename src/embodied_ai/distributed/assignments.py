"""Which worker took part in which task, and how it ended: a worker's tasks and performance
(seed 003's client view) come from here. In the operations database, beside the jobs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from embodied_ai.database import open_database, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    world_size INTEGER NOT NULL,
    worker_group INTEGER NOT NULL,      -- 1, 2, ...: a group restarted after a failure is a new one
    started REAL NOT NULL,              -- unix time
    ended REAL,
    outcome TEXT                        -- completed | failed | stopped | paused | lost | restarted
);
CREATE INDEX IF NOT EXISTS cluster_assignments_by_node ON cluster_assignments(node_id, id);
CREATE INDEX IF NOT EXISTS cluster_assignments_by_job ON cluster_assignments(job_id, id);
"""


@dataclass(frozen=True)
class Assignment:
    job_id: int
    node_id: str
    rank: int
    world_size: int
    started: float
    ended: float | None
    outcome: str | None


@dataclass(frozen=True)
class Performance:
    completed_tasks: int
    failed_tasks: int
    average_time_s: float | None        # of its completed tasks
    success_rate: float | None          # completed / (completed + failed + lost)


class Assignments:
    def __init__(self, db_path: Path) -> None:
        self._db = open_database(db_path, _SCHEMA, named_rows=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def started(self, job_id: int, node_id: str, rank: int, world_size: int, group: int) -> None:
        """A member of the job's worker group ``group`` started: the open rows of its earlier groups end."""
        now = time.time()
        with transaction(self._db, self._lock) as db:
            db.execute("UPDATE cluster_assignments SET ended=?, outcome='restarted' WHERE job_id=? AND "
                       "worker_group<? AND ended IS NULL", (now, job_id, group))
            db.execute("INSERT INTO cluster_assignments (job_id, node_id, rank, world_size, worker_group, started) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (job_id, node_id, rank, world_size, group, now))

    def lost(self, job_id: int, node_id: str) -> None:
        with transaction(self._db, self._lock) as db:
            db.execute("UPDATE cluster_assignments SET ended=?, outcome='lost' WHERE job_id=? AND node_id=? AND "
                       "ended IS NULL", (time.time(), job_id, node_id))

    def ended(self, job_id: int, outcome: str) -> None:
        with transaction(self._db, self._lock) as db:
            db.execute("UPDATE cluster_assignments SET ended=?, outcome=? WHERE job_id=? AND ended IS NULL",
                       (time.time(), outcome, job_id))

    def of_job(self, job_id: int) -> list[Assignment]:
        return self._select("job_id=?", job_id)

    def running_on(self, node_id: str) -> list[int]:
        """The jobs with an open assignment on ``node_id``."""
        return sorted({a.job_id for a in self._select("node_id=? AND ended IS NULL", node_id)})

    def performance(self, node_id: str) -> Performance:
        done = self._select("node_id=? AND outcome IN ('completed', 'failed', 'lost')", node_id)
        completed = [a for a in done if a.outcome == "completed"]
        times = [a.ended - a.started for a in completed if a.ended is not None]
        return Performance(len(completed), len(done) - len(completed),
                           round(sum(times) / len(times), 2) if times else None,
                           round(len(completed) / len(done), 3) if done else None)

    def _select(self, where: str, *args: object) -> list[Assignment]:
        with self._lock:
            rows = self._db.execute(f"SELECT job_id, node_id, rank, world_size, started, ended, outcome FROM "
                                    f"cluster_assignments WHERE {where} ORDER BY id", args).fetchall()
        return [Assignment(*row) for row in rows]



