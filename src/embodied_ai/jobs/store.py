"""Jobs, their logs, finished steps and checkpoints in SQLite.

The database file is the caller's (``<state>/operations.sqlite``), shared with other modules'
tables: everything here is prefixed ``jobs`` / ``job_``. WAL lets several connections (other
modules, a second process following logs) coexist; synchronous=FULL means a call that
returned has reached the disk; every write is one transaction, so a crash leaves nothing
half-written.

One JobStore per process is enough: it is safe to share between threads. Writers notify a
condition that in-process followers (log streams, idle workers) wait on; a follower in another
process polls ``logs(job_id, after_seq)``, which reads the (job_id, seq) primary key.
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from embodied_ai.database import MAX_PAGE, open_database, page_problems, transaction
from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.jobs.models import (
    JOB_CANCELLED,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_PAUSED,
    JOB_PROGRESS,
    JOB_REQUEUED,
    JOB_STARTED,
    JOB_SUBMITTED,
    TERMINAL,
    Job,
    JobStatus,
    LogLevel,
    LogLine,
    finite_or_none,
    finite_values,
    format_time,
    json_object,
    parse_time,
)
from embodied_ai.listeners import Listeners

log = logging.getLogger(__name__)

PRIORITY_LIMIT = 2**31 - 1

Clock = Callable[[], datetime]
Listener = Callable[[Job, str], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- stable, never reused
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    scheduled_at TEXT,
    progress REAL NOT NULL DEFAULT 0,
    config TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,   -- what a running body is asked: 1 cancel, 2 pause
    attempts INTEGER NOT NULL DEFAULT 0,
    checkpoint TEXT,                        -- the body's last checkpoint (JSON), kept across restarts
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, priority DESC, id);
CREATE INDEX IF NOT EXISTS jobs_by_type ON jobs(type, id);
CREATE TABLE IF NOT EXISTS job_logs (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    level TEXT NOT NULL,
    agent TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    step INTEGER,
    epoch REAL,
    loss REAL,
    metric_values TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_steps (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    output TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (job_id, step)
);
"""

# Every column but the checkpoint, which can be large and only a resuming body reads.
_JOB_COLUMNS = ("id, type, status, priority, scheduled_at, progress, config, result, error, cancel_requested, "
                "attempts, created_at, started_at, completed_at, updated_at")
_OPEN = (JobStatus.PENDING.value, JobStatus.QUEUED.value)
CANCEL, PAUSE = 1, 2   # the cancel_requested column's requests


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], type=row["type"], status=JobStatus(row["status"]), priority=row["priority"],
        scheduled_at=row["scheduled_at"], progress=row["progress"], config=json.loads(row["config"]),
        result=_loads(row["result"]), error=_loads(row["error"]), created_at=row["created_at"],
        started_at=row["started_at"], completed_at=row["completed_at"], updated_at=row["updated_at"],
        attempts=row["attempts"], cancel_requested=row["cancel_requested"] == CANCEL,
        pause_requested=row["cancel_requested"] == PAUSE)


def _log_line(row: sqlite3.Row) -> LogLine:
    return LogLine(
        job_id=row["job_id"], seq=row["seq"], timestamp=row["timestamp"], level=LogLevel(row["level"]),
        agent=row["agent"], message=row["message"], step=row["step"], epoch=row["epoch"], loss=row["loss"],
        values=json.loads(row["metric_values"]))


def _page(limit: int, offset: int = 0) -> None:
    if problems := page_problems(limit, offset):
        raise InvalidRequest("invalid paging", problems)


def _in(column: str, values: Collection[str]) -> tuple[str, list[str]]:
    """``column IN (?, ...)`` for a non-empty collection; always false for an empty one."""
    if not values:
        return "0", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


class JobStore:
    """All reads and writes of jobs; safe to share between threads."""

    def __init__(self, db_path: Path, clock: Clock = _utc_now) -> None:
        """Open (or create) the job tables in ``db_path``; ``clock`` (timezone-aware now) is for tests."""
        self.db_path = db_path
        self._clock = clock
        self._lock = threading.Lock()
        self._db = open_database(db_path, _SCHEMA)
        # Writers notify; ``_work_generation`` moves only when a job may have become claimable, so
        # idle workers do not wake for every log line of a running job.
        self._changed = threading.Condition()
        self._work_generation = 0
        self._closed = False
        self._listeners: Listeners[Job] = Listeners(log, lambda job: f"job {job.id}")

    def close(self) -> None:
        # Closed first, so that a follower's check (made under the condition) never reads a closed connection.
        with self._changed:
            self._closed = True
        with self._lock:
            self._db.close()
        self._notify(work=True)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    def now(self) -> str:
        return format_time(self._clock())

    # -- events -----------------------------------------------------------------------
    def on_event(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(job, event)`` after every status change or progress (events in models.EVENTS);
        returns a function that unsubscribes it. Listeners run on the writer's thread, after the commit:
        keep them short (queue the work), an exception is logged and ignored."""
        return self._listeners.add(listener)

    def _emit(self, job: Job, event: str) -> None:
        self._listeners.emit(job, event)

    def _notify(self, work: bool = False) -> None:
        with self._changed:
            if work:
                self._work_generation += 1
            self._changed.notify_all()

    # -- jobs -------------------------------------------------------------------------
    def submit(self, type: str, config: dict[str, Any] | None = None, priority: int = 0,
               scheduled_at: str | datetime | None = None) -> Job:
        """A new job: ``queued`` when due, ``pending`` while ``scheduled_at`` is in the future.
        InvalidRequest lists every problem of the request."""
        problems: list[str] = []
        if not isinstance(type, str) or not type.strip():
            problems.append(f"type: {type!r} is not a non-empty string")
        if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > PRIORITY_LIMIT:
            problems.append(f"priority: {priority!r} is not an integer from {-PRIORITY_LIMIT} to {PRIORITY_LIMIT}")
        config_text = scheduled = None
        try:
            config_text = json_object({} if config is None else config, "config")
        except InvalidRequest as exc:
            problems += exc.problems
        if scheduled_at is not None:
            try:
                scheduled = parse_time(scheduled_at, "scheduled_at")
            except InvalidRequest as exc:
                problems += exc.problems
        if problems:
            raise InvalidRequest("invalid job request", problems)
        moment = self._clock()
        status = JobStatus.PENDING if scheduled is not None and scheduled > moment else JobStatus.QUEUED
        now = format_time(moment)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO jobs(type, status, priority, scheduled_at, config, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (type, status.value, priority, None if scheduled is None else format_time(scheduled), config_text,
                 now, now))
            job = self._read(db, int(cursor.lastrowid or 0))
        self._notify(work=True)
        self._emit(job, JOB_SUBMITTED)
        return job

    def get(self, job_id: int) -> Job:
        """The job; NotFound if there is none."""
        with self._lock:
            return self._read(self._db, job_id)

    # Annotations below say builtins.list: inside the class, this method's name hides the builtin.
    def list(self, status: str | JobStatus | None = None, type: str | None = None, limit: int = 50,
             offset: int = 0) -> tuple[list[Job], int]:
        """A page of jobs, newest first, and how many match in all."""
        _page(limit, offset)
        where, args = ["1"], []
        if status is not None:
            where.append("status=?")
            args.append(JobStatus.parse(status).value)
        if type is not None:
            where.append("type=?")
            args.append(type)
        condition = " AND ".join(where)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE {condition}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset]).fetchall()
        return [_job(r) for r in rows], int(total)

    def running(self, types: Collection[str] | None = None) -> builtins.list[Job]:
        """Every running job (of ``types``): what recovery looks at on start."""
        where, args = "status=?", [JobStatus.RUNNING.value]
        if types is not None:
            condition, type_args = _in("type", types)
            where, args = f"{where} AND {condition}", [*args, *type_args]
        with self._lock:
            rows = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY id", args).fetchall()
        return [_job(r) for r in rows]

    def next_due(self, types: Collection[str] | None = None) -> Job | None:
        """The job ``claim`` would take now (highest priority, then oldest), without taking it."""
        with self._lock:
            return self._due(self._db, self.now(), types)

    def claim(self, types: Collection[str] | None = None) -> Job | None:
        """Atomically take the next due job (of ``types``) and mark it running, one more attempt."""
        now = self.now()
        with self._transaction() as db:
            # Pending jobs whose time has come are queued now, whichever worker looks first.
            db.execute("UPDATE jobs SET status=?, updated_at=? WHERE status=? AND scheduled_at<=?",
                       (JobStatus.QUEUED.value, now, JobStatus.PENDING.value, now))
            job = self._due(db, now, types)
            if job is None:
                return None
            db.execute("UPDATE jobs SET status=?, attempts=attempts+1, started_at=?, updated_at=? WHERE id=?",
                       (JobStatus.RUNNING.value, now, now, job.id))
            job = self._read(db, job.id)
        self._notify()
        self._emit(job, JOB_STARTED)
        return job

    def seconds_until_due(self, types: Collection[str] | None = None) -> float | None:
        """How long until the earliest pending job (of ``types``) is due; None if none is pending."""
        where, args = "status=?", [JobStatus.PENDING.value]
        if types is not None:
            condition, type_args = _in("type", types)
            where, args = f"{where} AND {condition}", [*args, *type_args]
        with self._lock:
            first = self._db.execute(f"SELECT MIN(scheduled_at) FROM jobs WHERE {where}", args).fetchone()[0]
        if first is None:
            return None
        return max(0.0, (parse_time(first, "scheduled_at") - self._clock()).total_seconds())

    def set_progress(self, job_id: int, fraction: float, attempt: int | None = None) -> Job:
        """A running job's progress, 0..1."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not math.isfinite(fraction) \
                or not 0.0 <= fraction <= 1.0:
            raise InvalidRequest("invalid progress", [f"progress: {fraction!r} is not a number from 0 to 1"])
        with self._transaction() as db:
            self._check(db, job_id, {JobStatus.RUNNING}, attempt)
            db.execute("UPDATE jobs SET progress=?, updated_at=? WHERE id=?", (float(fraction), self.now(), job_id))
            job = self._read(db, job_id)
        self._notify()
        self._emit(job, JOB_PROGRESS)
        return job

    def complete(self, job_id: int, result: dict[str, Any] | None = None, attempt: int | None = None) -> Job:
        """A running job finished with ``result`` (and a last INFO line, as failing and cancelling write theirs,
        so a log's follower sees how the job ended). ``attempt`` (the claimed job's attempts) fences off a
        worker that a recovery has since replaced: its late write is refused (Conflict)."""
        result_text = json_object({} if result is None else result, "result")
        now = self.now()
        with self._transaction() as db:
            self._check(db, job_id, {JobStatus.RUNNING}, attempt)
            db.execute("UPDATE jobs SET status=?, progress=1, result=?, completed_at=?, updated_at=? WHERE id=?",
                       (JobStatus.COMPLETED.value, result_text, now, now, job_id))
            self._insert_log(db, job_id, LogLevel.INFO, "completed")
            job = self._read(db, job_id)
        return self._ended(job, JOB_COMPLETED)

    def fail(self, job_id: int, code: int, message: str, problems: builtins.list[str] | None = None,
             attempt: int | None = None) -> Job:
        """A job that has not ended fails with the error ``{code, message}`` (and ``problems`` when given)."""
        error: dict[str, Any] = {"code": int(code), "message": str(message)}
        if problems:
            error["problems"] = [str(p) for p in problems]
        now = self.now()
        with self._transaction() as db:
            self._check(db, job_id, {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING}, attempt)
            db.execute("UPDATE jobs SET status=?, error=?, completed_at=?, updated_at=? WHERE id=?",
                       (JobStatus.FAILED.value, json.dumps(error), now, now, job_id))
            self._insert_log(db, job_id, LogLevel.ERROR, f"failed: {message}")
            job = self._read(db, job_id)
        return self._ended(job, JOB_FAILED)

    def mark_cancelled(self, job_id: int, attempt: int | None = None) -> Job:
        """A job that has not ended is cancelled (a running body saw its cancel flag)."""
        now = self.now()
        with self._transaction() as db:
            self._check(db, job_id, {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING}, attempt)
            db.execute("UPDATE jobs SET status=?, completed_at=?, updated_at=? WHERE id=?",
                       (JobStatus.CANCELLED.value, now, now, job_id))
            self._insert_log(db, job_id, LogLevel.INFO, "cancelled")
            job = self._read(db, job_id)
        return self._ended(job, JOB_CANCELLED)

    def requeue(self, job_id: int, reason: str, attempt: int | None = None) -> Job:
        """A running job goes back to the queue to resume (its steps and checkpoint stay), with a WARN
        line saying why, in the same transaction."""
        now = self.now()
        with self._transaction() as db:
            self._check(db, job_id, {JobStatus.RUNNING}, attempt)
            db.execute("UPDATE jobs SET status=?, updated_at=? WHERE id=?", (JobStatus.QUEUED.value, now, job_id))
            self._insert_log(db, job_id, LogLevel.WARN, reason)
            job = self._read(db, job_id)
        self._notify(work=True)
        self._emit(job, JOB_REQUEUED)
        return job

    def request_cancel(self, job_id: int) -> Job:
        """Cancel a job: a pending, queued or paused one at once; a running one gets its cancel flag, which
        its body sees (and then ends cancelled). Conflict for a job that has already ended."""
        now = self.now()
        with self._transaction() as db:
            status = self._read(db, job_id).status
            if status in TERMINAL:
                raise Conflict(f"job {job_id} is already {status.value}; only a pending, queued, paused or running "
                               "job can be cancelled")
            if status is JobStatus.RUNNING:
                db.execute("UPDATE jobs SET cancel_requested=?, updated_at=? WHERE id=?", (CANCEL, now, job_id))
                self._insert_log(db, job_id, LogLevel.INFO, "cancel requested")
            else:
                db.execute("UPDATE jobs SET status=?, cancel_requested=0, completed_at=?, updated_at=? WHERE id=?",
                           (JobStatus.CANCELLED.value, now, now, job_id))
                self._insert_log(db, job_id, LogLevel.INFO, f"cancelled while {status.value}")
            job = self._read(db, job_id)
        if job.status is JobStatus.CANCELLED:
            return self._ended(job, JOB_CANCELLED)
        self._notify()
        return job

    def request_pause(self, job_id: int, reason: str = "") -> Job:
        """Pause a job: a pending or queued one at once; a running one gets its pause flag, which its body
        sees (it stops with a checkpoint, then the job is paused). Conflict for a paused or ended job, or
        one already asked to stop. Whether the job's kind can pause is the runner's to check."""
        now = self.now()
        said = f"pause requested{': ' + reason if reason else ''}"
        with self._transaction() as db:
            job = self._read(db, job_id)
            if job.status in TERMINAL or job.status is JobStatus.PAUSED:
                raise Conflict(f"job {job_id} is {job.status.value}; only a pending, queued or running job can pause")
            if job.cancel_requested or job.pause_requested:
                raise Conflict(f"job {job_id} is already stopping ({'cancel' if job.cancel_requested else 'pause'} "
                               "requested)")
            if job.status is JobStatus.RUNNING:
                db.execute("UPDATE jobs SET cancel_requested=?, updated_at=? WHERE id=?", (PAUSE, now, job_id))
                self._insert_log(db, job_id, LogLevel.INFO, said)
            else:
                db.execute("UPDATE jobs SET status=?, updated_at=? WHERE id=?", (JobStatus.PAUSED.value, now, job_id))
                self._insert_log(db, job_id, LogLevel.INFO, said.replace("pause requested", "paused before it started"))
            job = self._read(db, job_id)
        if job.status is JobStatus.PAUSED:
            return self._ended(job, JOB_PAUSED)
        self._notify()
        return job

    def mark_paused(self, job_id: int, message: str, attempt: int | None = None) -> Job:
        """A running job whose body stopped on its pause flag is paused (its steps and checkpoint stay)."""
        now = self.now()
        with self._transaction() as db:
            self._check(db, job_id, {JobStatus.RUNNING}, attempt)
            db.execute("UPDATE jobs SET status=?, cancel_requested=0, updated_at=? WHERE id=?",
                       (JobStatus.PAUSED.value, now, job_id))
            self._insert_log(db, job_id, LogLevel.INFO, message)
            job = self._read(db, job_id)
        return self._ended(job, JOB_PAUSED)

    def resume(self, job_id: int, reason: str = "") -> Job:
        """A paused job goes back to the queue, to continue from its checkpoint under the same id;
        Conflict for a job that is not paused."""
        now = self.now()
        with self._transaction() as db:
            job = self._read(db, job_id)
            if job.status is not JobStatus.PAUSED:
                raise Conflict(f"job {job_id} is {job.status.value}: only a paused job resumes (a job pauses, with "
                               "its checkpoint, before it can resume)")
            db.execute("UPDATE jobs SET status=?, updated_at=? WHERE id=?", (JobStatus.QUEUED.value, now, job_id))
            self._insert_log(db, job_id, LogLevel.INFO, f"resumed{': ' + reason if reason else ''}")
            job = self._read(db, job_id)
        self._notify(work=True)
        self._emit(job, JOB_REQUEUED)
        return job

    def cancel_requested(self, job_id: int) -> bool:
        """Whether the job was asked to stop (a cheap primary-key read: bodies call it often)."""
        return self.stop_requested(job_id) == CANCEL

    def stop_requested(self, job_id: int) -> int:
        """What a running job was asked: 0 nothing, CANCEL or PAUSE (a primary-key read)."""
        with self._lock:
            row = self._db.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return int(row[0])

    def _ended(self, job: Job, event: str) -> Job:
        self._notify()
        self._emit(job, event)
        return job

    def _read(self, db: sqlite3.Connection, job_id: int) -> Job:
        row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return _job(row)

    def _check(self, db: sqlite3.Connection, job_id: int, allowed: set[JobStatus], attempt: int | None) -> Job:
        job = self._read(db, job_id)
        if job.status not in allowed:
            raise Conflict(f"job {job_id} is {job.status.value}")
        if attempt is not None and (job.status is not JobStatus.RUNNING or job.attempts != attempt):
            raise Conflict(f"job {job_id}: attempt {attempt} is no longer current (the job is {job.status.value}, "
                           f"attempt {job.attempts})")
        return job

    def _fence(self, db: sqlite3.Connection, job_id: int, attempt: int | None) -> None:
        """NotFound for a missing job; with ``attempt``, Conflict unless it is the running attempt."""
        if attempt is None:
            self._read(db, job_id)
        else:
            self._check(db, job_id, {JobStatus.RUNNING}, attempt)

    def _due(self, db: sqlite3.Connection, now: str, types: Collection[str] | None) -> Job | None:
        where = "status IN (?, ?) AND (scheduled_at IS NULL OR scheduled_at<=?)"
        args: builtins.list[Any] = [*_OPEN, now]
        if types is not None:
            condition, type_args = _in("type", types)
            where, args = f"{where} AND {condition}", [*args, *type_args]
        row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY priority DESC, id LIMIT 1",
                         args).fetchone()
        return None if row is None else _job(row)

    # -- waiting ----------------------------------------------------------------------
    @property
    def work_generation(self) -> int:
        """Moves whenever a job may have become claimable; read it before ``claim``, then
        ``wait_for_work(generation, ...)`` without missing a submit made in between."""
        with self._changed:
            return self._work_generation

    def wait_for_work(self, generation: int, timeout: float) -> bool:
        """Wait until ``work_generation`` moves past ``generation`` (or the store closes); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._work_generation != generation or self._closed, timeout)

    def wake(self) -> None:
        """Wake everything waiting for work (a runner that stops)."""
        self._notify(work=True)

    def wait_for_update(self, job_id: int, after_seq: int, status: JobStatus, timeout: float) -> bool:
        """Wait until the job has a log line after ``after_seq`` or a status other than ``status``;
        False on timeout. Only writers of this process wake it early: others are seen at the timeout."""
        def changed() -> bool:
            if self._closed:
                return True
            with self._lock:
                row = self._db.execute(
                    "SELECT status, (SELECT COALESCE(MAX(seq), 0) FROM job_logs WHERE job_id=jobs.id) "
                    "FROM jobs WHERE id=?", (job_id,)).fetchone()
            return row is None or row[0] != status.value or row[1] > after_seq
        with self._changed:
            return self._changed.wait_for(changed, timeout)

    def follow(self, job_id: int, after_seq: int = 0, wait_s: float = 1.0) -> Iterator[LogLine]:
        """The job's log lines after ``after_seq``, as they are written, until the job has ended and
        every line is read (an SSE stream in this process)."""
        while True:
            # The status before the lines: a job seen ended has written all its lines already.
            job = self.get(job_id)
            lines = self.logs(job_id, after_seq, MAX_PAGE)
            yield from lines
            if lines:
                after_seq = lines[-1].seq
            if len(lines) == MAX_PAGE:
                continue
            if job.status in TERMINAL:
                return
            self.wait_for_update(job_id, after_seq, job.status, wait_s)

    # -- logs -------------------------------------------------------------------------
    def log(self, job_id: int, level: str | LogLevel, message: str, agent: str = "", step: int | None = None,
            epoch: float | None = None, loss: float | None = None, values: dict[str, Any] | None = None) -> LogLine:
        """Append a line to the job's log; its ``seq`` is the next of that job."""
        level = LogLevel.parse(level)
        if not isinstance(values, (dict, type(None))):
            raise InvalidRequest("invalid log line", [f"values: got {type(values).__name__}, not an object"])
        with self._transaction() as db:
            self._read(db, job_id)
            line = self._insert_log(db, job_id, level, str(message), str(agent), step, epoch, loss, values)
        self._notify()
        return line

    def _insert_log(self, db: sqlite3.Connection, job_id: int, level: LogLevel, message: str, agent: str = "",
                    step: int | None = None, epoch: float | None = None, loss: float | None = None,
                    values: dict[str, Any] | None = None) -> LogLine:
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_logs WHERE job_id=?", (job_id,)).fetchone()[0]
        line = LogLine(job_id=job_id, seq=int(seq), timestamp=self.now(), level=level, agent=agent, message=message,
                       step=None if step is None else int(step), epoch=finite_or_none(epoch),
                       loss=finite_or_none(loss), values=finite_values(values or {}))
        db.execute("INSERT INTO job_logs(job_id, seq, timestamp, level, agent, message, step, epoch, loss, "
                   "metric_values) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (job_id, line.seq, line.timestamp, level.value, agent, message, line.step, line.epoch, line.loss,
                    json_object(line.values, "values")))
        return line

    def logs(self, job_id: int, after_seq: int = 0, limit: int = 100) -> builtins.list[LogLine]:
        """The job's log lines with seq > ``after_seq``, oldest first, at most ``limit`` (1..1000)."""
        _page(limit)
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise InvalidRequest("invalid log cursor", [f"after_seq: {after_seq!r} is not an integer >= 0"])
        with self._lock:
            self._read(self._db, job_id)
            rows = self._db.execute("SELECT * FROM job_logs WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?",
                                    (job_id, after_seq, limit)).fetchall()
        return [_log_line(r) for r in rows]

    # -- steps and checkpoints (what a resumed job continues from) ----------------------
    def step_done(self, job_id: int, step: str, output: dict[str, Any], attempt: int | None = None) -> None:
        """Record that ``step`` of the job finished with ``output``; a resumed job does not run it again.
        With ``attempt``, only while that attempt is the job's current one (see ``complete``)."""
        if not isinstance(step, str) or not step:
            raise InvalidRequest("invalid step", [f"step: {step!r} is not a non-empty string"])
        output_text = json_object(output, "output")
        with self._transaction() as db:
            self._fence(db, job_id, attempt)
            db.execute("INSERT INTO job_steps(job_id, step, output, finished_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT(job_id, step) DO UPDATE SET output=excluded.output, "
                       "finished_at=excluded.finished_at", (job_id, step, output_text, self.now()))

    def finished_steps(self, job_id: int) -> dict[str, dict[str, Any]]:
        """The job's finished steps and their outputs, in the order they finished."""
        with self._lock:
            self._read(self._db, job_id)
            rows = self._db.execute("SELECT step, output FROM job_steps WHERE job_id=? ORDER BY rowid",
                                    (job_id,)).fetchall()
        return {r["step"]: json.loads(r["output"]) for r in rows}

    def checkpoint(self, job_id: int, data: dict[str, Any], attempt: int | None = None) -> None:
        """Replace the job's checkpoint (what a resumable body needs to continue where it stopped).
        With ``attempt``, only while that attempt is the job's current one."""
        data_text = json_object(data, "checkpoint")
        with self._transaction() as db:
            self._fence(db, job_id, attempt)
            db.execute("UPDATE jobs SET checkpoint=?, updated_at=? WHERE id=?", (data_text, self.now(), job_id))

    def last_checkpoint(self, job_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT checkpoint FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        data: dict[str, Any] | None = _loads(row[0])
        return data
