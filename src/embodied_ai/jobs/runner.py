"""Runs jobs: worker threads claim due jobs from the store and run their kind's body.

A kind (``JobKind``) is a body ``run(ctx) -> result`` and whether it can resume. The body gets a
``JobContext``: its job, a log, progress, a cancel flag to check, a memo of finished steps
(``run_step``) and a checkpoint. How a body ends decides the job's status:

    returns                                      -> completed with the result
    raises                                       -> failed: an EmbodiedError's code and message,
                                                    else 500 "internal error: ..."
    saw ``cancelled`` (returned or raised)       -> cancelled, when a caller asked; paused, when a caller
                                                    asked a resumable job to pause; when the runner
                                                    stopped: queued again (resumable) or failed

On start, jobs a killed process left ``running`` are recovered: resumable kinds go back to the
queue (their finished steps and checkpoint kept), the others fail with the reason. One runner
process owns the jobs of its kinds in a database.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from embodied_ai.errors import Conflict, EmbodiedError, InvalidRequest
from embodied_ai.jobs.models import INTERNAL_ERROR, Job, LogLevel, LogLine
from embodied_ai.jobs.store import CANCEL, PAUSE, JobStore, Listener

log = logging.getLogger(__name__)

RESUMED = "resumed after the job process stopped"
INTERRUPTED = "interrupted: the job process stopped while the job was running"
PAUSED = "paused: the job runner stopped; the job resumes when it starts again"
STOPPED = "interrupted: the job runner stopped while the job was running"
PAUSED_BY_CALLER = "paused: its checkpoint is kept; resume continues from it"


class JobCancelled(Exception):
    """Raised by ``JobContext.raise_if_cancelled``: the body stops because it was asked to."""


@dataclass(frozen=True)
class JobKind:
    """How to run one type of job."""

    run: Callable[[JobContext], dict[str, Any] | None]
    resumable: bool = False
    # Checks a request's config before the job is stored (InvalidRequest listing every problem),
    # so a bad request is refused rather than failing later.
    validate: Callable[[dict[str, Any]], None] | None = None
    # A resumable job whose process died this many times fails instead of crashing it forever.
    max_attempts: int = 3
    # The kind's own view of a job's progress from its finished steps (a pipeline's agents and
    # their states, for seed 004's progress and the DAG view); None: only the fraction.
    describe: Callable[[Job, Mapping[str, Any]], dict[str, Any]] | None = None


class JobContext:
    """What a running body sees of its job."""

    def __init__(self, store: JobStore, job: Job, stopping: threading.Event) -> None:
        self.job = job
        self._store = store
        self._stopping = stopping
        self._memo = store.finished_steps(job.id)
        self.saw_cancel = False      # the body was told a caller cancelled it
        self.saw_pause = False       # the body was told a caller paused it (it keeps its checkpoint)
        self.saw_stop = False        # the body was told the runner stops

    @property
    def cancelled(self) -> bool:
        """Whether the body should stop now (a caller cancelled or paused the job, or the runner stops);
        a body stops the same way in each case, checkpointing what it can resume from."""
        request = self._store.stop_requested(self.job.id)
        if request == CANCEL:
            self.saw_cancel = True
        elif request == PAUSE:
            self.saw_pause = True
        elif self._stopping.is_set():
            self.saw_stop = True
        return self.saw_cancel or self.saw_pause or self.saw_stop

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled(f"job {self.job.id} was cancelled")

    def log(self, level: str | LogLevel, message: str, agent: str = "", step: int | None = None,
            epoch: float | None = None, loss: float | None = None, values: dict[str, Any] | None = None) -> LogLine:
        return self._store.log(self.job.id, level, message, agent, step, epoch, loss, values)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (0..1), with an INFO line when ``message`` is given."""
        # Fenced by the attempt (as steps and checkpoints are): a body that a recovery replaced learns it
        # at once (Conflict) and cannot write over its successor's state.
        self._store.set_progress(self.job.id, fraction, attempt=self.job.attempts)
        if message:
            self.log(LogLevel.INFO, message)

    @property
    def finished_steps(self) -> dict[str, dict[str, Any]]:
        return dict(self._memo)

    def run_step(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``fn()``'s output, recorded as step ``name``; a step an earlier attempt finished is not run
        again: its recorded output is returned."""
        if name in self._memo:
            self.log(LogLevel.INFO, f"step '{name}' already finished: skipped")
            return self._memo[name]
        output = fn()
        self._store.step_done(self.job.id, name, output, attempt=self.job.attempts)
        self._memo[name] = output
        return output

    def checkpoint(self, data: dict[str, Any]) -> None:
        self._store.checkpoint(self.job.id, data, attempt=self.job.attempts)

    def last_checkpoint(self) -> dict[str, Any] | None:
        return self._store.last_checkpoint(self.job.id)


class JobRunner:
    """Worker threads running the jobs of ``kinds`` from ``store``."""

    def __init__(self, store: JobStore, kinds: Mapping[str, JobKind], workers: int = 1, poll_s: float = 1.0) -> None:
        """``poll_s``: the longest an idle worker waits before looking again (jobs submitted by another
        process, scheduled jobs wake it sooner)."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.store = store
        self.kinds = dict(kinds)
        self._workers = workers
        self._poll_s = poll_s
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def on_event(self, listener: Listener) -> Callable[[], None]:
        """``listener(job, event)`` on every status change and progress (see JobStore.on_event)."""
        return self.store.on_event(listener)

    def submit(self, type: str, config: dict[str, Any] | None = None, priority: int = 0,
               scheduled_at: str | datetime | None = None) -> Job:
        """Store a new job after checking its type and config; InvalidRequest lists what is wrong."""
        kind = self.kinds.get(type)
        if kind is None:
            known = ", ".join(sorted(self.kinds)) or "none"
            raise InvalidRequest(f"unknown job type '{type}'", [f"type: '{type}' is not one of: {known}"])
        if kind.validate is not None:
            kind.validate({} if config is None else config)
        return self.store.submit(type, config, priority, scheduled_at)

    def cancel(self, job_id: int) -> Job:
        return self.store.request_cancel(job_id)

    def pause(self, job_id: int, reason: str = "") -> Job:
        """Pause a job of a resumable kind (a running one stops at its next check, with its checkpoint);
        Conflict for a kind that cannot resume, or a job that is paused or has ended."""
        job = self.store.get(job_id)
        kind = self.kinds.get(job.type)
        if kind is None or not kind.resumable:
            raise Conflict(f"job {job_id} is a {job.type} job, which cannot pause (it cannot resume from a "
                           "checkpoint): cancel it instead")
        return self.store.request_pause(job_id, reason)

    def resume(self, job_id: int, reason: str = "") -> Job:
        """A paused job is queued again and continues from its checkpoint (Conflict if it is not paused)."""
        return self.store.resume(job_id, reason)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> list[Job]:
        """Recover what a killed process left running, then start the workers; returns the recovered jobs."""
        if self._threads or self._stopping.is_set():
            raise RuntimeError("a JobRunner starts once")
        recovered = self._recover()
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"job-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return recovered

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask running bodies to stop (their ``cancelled`` turns true) and wait for the workers; False if a
        body did not stop in time: its job stays running, for the next start's recovery."""
        self._stopping.set()
        self.store.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _recover(self) -> list[Job]:
        """Jobs of our kinds left running by a process that stopped: resumable ones (with attempts left)
        are queued again, the others fail with the reason; a cancel asked before the stop is honoured.
        Only before the workers start: afterwards, running jobs are this runner's own."""
        recovered = []
        for job in self.store.running(self.kinds):
            kind = self.kinds[job.type]
            try:
                if job.cancel_requested:
                    recovered.append(self.store.mark_cancelled(job.id, attempt=job.attempts))
                elif job.pause_requested and kind.resumable:
                    recovered.append(self.store.mark_paused(job.id, PAUSED_BY_CALLER, attempt=job.attempts))
                elif kind.resumable and job.attempts < kind.max_attempts:
                    recovered.append(self.store.requeue(job.id, RESUMED, attempt=job.attempts))
                elif kind.resumable:
                    recovered.append(self.store.fail(
                        job.id, INTERNAL_ERROR, f"{INTERRUPTED}, on each of its {job.attempts} attempts",
                        attempt=job.attempts))
                else:
                    recovered.append(self.store.fail(job.id, INTERNAL_ERROR, INTERRUPTED, attempt=job.attempts))
            except Conflict:
                log.warning("job %d changed while it was being recovered", job.id)
        return recovered

    # -- workers ----------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stopping.is_set():
            generation = self.store.work_generation
            try:
                job = self.store.claim(self.kinds)
            except sqlite3.ProgrammingError:  # the store was closed under us
                return
            except Exception:  # e.g. the database stayed locked past its timeout: try again later
                log.exception("claiming a job failed")
                self._stopping.wait(self._poll_s)
                continue
            if job is None:
                self.store.wait_for_work(generation, self._idle_wait())
                continue
            try:
                self._run(job)
            except Exception:
                # A store write failed: the job stays running, for recovery; the worker goes on.
                log.exception("job %d could not be finished", job.id)

    def _idle_wait(self) -> float:
        due = self.store.seconds_until_due(self.kinds)
        return self._poll_s if due is None else min(self._poll_s, max(due, 0.01))

    def _run(self, job: Job) -> None:
        kind = self.kinds[job.type]
        ctx = JobContext(self.store, job, self._stopping)
        result: dict[str, Any] | None = None
        error: Exception | None = None
        try:
            result = kind.run(ctx)
        except Exception as exc:  # BaseException (KeyboardInterrupt) leaves the job to recovery
            error = exc
        try:
            self._finish(job, kind, ctx, result, error)
        except Conflict as exc:
            # A recovery (a new runner on the same database) took the job over: this attempt's end is stale.
            log.warning("job %d ended on a stale attempt: %s", job.id, exc)

    def _finish(self, job: Job, kind: JobKind, ctx: JobContext, result: dict[str, Any] | None,
                error: Exception | None) -> None:
        attempt = job.attempts
        if ctx.saw_pause and not ctx.saw_cancel and kind.resumable and not self.store.cancel_requested(job.id):
            self.store.mark_paused(job.id, PAUSED_BY_CALLER, attempt=attempt)
        elif ctx.saw_cancel or ctx.saw_pause or ctx.saw_stop or isinstance(error, JobCancelled):
            if ctx.saw_stop and not ctx.saw_cancel and not self.store.cancel_requested(job.id):
                if kind.resumable:
                    self.store.requeue(job.id, PAUSED, attempt=attempt)
                else:
                    self.store.fail(job.id, INTERNAL_ERROR, STOPPED, attempt=attempt)
            else:
                self.store.mark_cancelled(job.id, attempt=attempt)
        elif isinstance(error, EmbodiedError):
            problems = error.problems if isinstance(error, InvalidRequest) else None
            self.store.fail(job.id, int(error.code), error.message, problems, attempt=attempt)
        elif error is not None:
            log.error("job %d (%s) raised", job.id, job.type, exc_info=error)
            self.store.fail(job.id, INTERNAL_ERROR, f"internal error: {type(error).__name__}: {error}",
                            attempt=attempt)
        else:
            try:
                self.store.complete(job.id, result, attempt=attempt)
            except InvalidRequest as exc:
                self.store.fail(job.id, INTERNAL_ERROR, f"internal error: the job's result is not JSON: {exc}",
                                exc.problems, attempt=attempt)
