"""JobRunner with real worker threads on a real SQLite file: outcomes, order, cancel, stop, recovery."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import Conflict, EmbodiedError, ErrorCode, InvalidRequest
from embodied_ai.jobs import INTERNAL_ERROR, JobContext, JobKind, JobRunner, JobStatus, JobStore, LogLevel
from embodied_ai.jobs.runner import INTERRUPTED, PAUSED, RESUMED, STOPPED
from tests.unit.jobs.conftest import Clock, Recorder

WAIT_S = 5.0


@pytest.fixture
def runners(store: JobStore) -> Iterator[Callable[..., JobRunner]]:
    """Makes runners (on ``store`` unless told otherwise) and stops them all at the end."""
    made: list[JobRunner] = []

    def make(kinds: Mapping[str, JobKind], on: JobStore | None = None, workers: int = 1, start: bool = True,
             poll_s: float = 1.0) -> JobRunner:
        runner = JobRunner(on or store, kinds, workers=workers, poll_s=poll_s)
        made.append(runner)
        if start:
            runner.start()
        return runner
    yield make
    for runner in made:
        runner.stop(timeout=WAIT_S)


def wait_for_cancel(ctx: JobContext, poke: threading.Event) -> None:
    """What a long body does: check the flag between units of work (here, until the test pokes it)."""
    while not ctx.cancelled:
        poke.wait(0.01)


def test_a_job_runs_and_completes(store: JobStore, events: Recorder, runners: Callable[..., JobRunner]) -> None:
    def body(ctx: JobContext) -> dict[str, Any]:
        ctx.log("INFO", "loading", agent="DatasetAgent")
        ctx.progress(0.5, "half way")
        ctx.log(LogLevel.METRIC, "train", step=1, epoch=0.5, loss=2.0)
        return {"answer": ctx.job.config["x"] * 2}
    runner = runners({"double": JobKind(body)})
    job = runner.submit("double", {"x": 21})
    events.wait(job.id, "job.completed")
    done = store.get(job.id)
    assert (done.status, done.result, done.progress, done.attempts) == (JobStatus.COMPLETED, {"answer": 42}, 1.0, 1)
    assert [(line.level.value, line.agent, line.message) for line in store.logs(job.id)] == [
        ("INFO", "DatasetAgent", "loading"), ("INFO", "", "half way"), ("METRIC", "", "train"),
        ("INFO", "", "completed")]
    assert events.of(job.id) == ["job.submitted", "job.started", "job.progress", "job.completed"]


def test_an_unknown_type_or_a_bad_config_is_refused_before_anything_is_stored(
        store: JobStore, runners: Callable[..., JobRunner]) -> None:
    def validate(config: dict[str, Any]) -> None:
        if "dataset_id" not in config:
            raise InvalidRequest("invalid pipeline", ["dataset_id: missing"])
    runner = runners({"training": JobKind(lambda ctx: {}), "pipeline": JobKind(lambda ctx: {}, validate=validate)},
                     start=False)
    with pytest.raises(InvalidRequest) as caught:
        runner.submit("rl", {})
    assert caught.value.problems == ["type: 'rl' is not one of: pipeline, training"]
    with pytest.raises(InvalidRequest) as caught:
        runner.submit("pipeline", {})
    assert caught.value.problems == ["dataset_id: missing"]
    assert store.list() == ([], 0)


def test_workers_take_the_highest_priority_first(store: JobStore, events: Recorder,
                                                 runners: Callable[..., JobRunner]) -> None:
    gate, order = threading.Event(), []

    def body(ctx: JobContext) -> dict[str, Any]:
        order.append(ctx.job.config["name"])
        if ctx.job.config["name"] == "gate":
            gate.wait(WAIT_S)
        return {}
    runner = runners({"t": JobKind(body)})
    first = runner.submit("t", {"name": "gate"})
    events.wait(first.id, "job.started")      # the only worker is busy: the others queue
    low = runner.submit("t", {"name": "low"}, priority=0)
    runner.submit("t", {"name": "high"}, priority=10)
    runner.submit("t", {"name": "mid"}, priority=5)
    gate.set()
    events.wait(low.id, "job.completed")
    assert order == ["gate", "high", "mid", "low"]


def test_two_workers_run_two_jobs_at_once(store: JobStore, events: Recorder,
                                          runners: Callable[..., JobRunner]) -> None:
    both_running = threading.Barrier(2, timeout=WAIT_S)

    def body(ctx: JobContext) -> dict[str, Any]:
        both_running.wait()       # BrokenBarrierError (the job fails) unless the other runs too
        return {}
    runner = runners({"t": JobKind(body)}, workers=2)
    jobs = [runner.submit("t"), runner.submit("t")]
    for job in jobs:
        events.wait(job.id, "job.completed")


@pytest.mark.parametrize(("error", "code", "message", "problems"), [
    (InvalidRequest("bad pipeline", ["edge a->z: no node z", "a cycle: a->b->a"]), 400, "bad pipeline",
     ["edge a->z: no node z", "a cycle: a->b->a"]),
    (EmbodiedError("no usable rows", ErrorCode.DATASET_INVALID), 2001, "no usable rows", None),
    (RuntimeError("boom"), INTERNAL_ERROR, "internal error: RuntimeError: boom", None),
])
def test_a_body_that_raises_fails_the_job_with_a_code(store: JobStore, events: Recorder,
                                                      runners: Callable[..., JobRunner], error: Exception, code: int,
                                                      message: str, problems: list[str] | None) -> None:
    def body(ctx: JobContext) -> dict[str, Any]:
        raise error
    runner = runners({"t": JobKind(body)})
    job = runner.submit("t")
    events.wait(job.id, "job.failed")
    expected: dict[str, Any] = {"code": code, "message": message}
    if problems:
        expected["problems"] = problems
    assert store.get(job.id).error == expected
    assert store.logs(job.id)[-1].message == f"failed: {message}"


def test_a_result_that_is_not_json_fails_the_job(store: JobStore, events: Recorder,
                                                 runners: Callable[..., JobRunner]) -> None:
    runner = runners({"t": JobKind(lambda ctx: {"loss": float("nan")})})
    job = runner.submit("t")
    events.wait(job.id, "job.failed")
    error = store.get(job.id).error
    assert error is not None and error["code"] == INTERNAL_ERROR
    assert error["message"].startswith("internal error: the job's result is not JSON")


@pytest.mark.parametrize("ends_by", ["returning", "raising"])
def test_cancelling_a_running_job(store: JobStore, events: Recorder, runners: Callable[..., JobRunner],
                                  ends_by: str) -> None:
    poke = threading.Event()

    def body(ctx: JobContext) -> dict[str, Any]:
        wait_for_cancel(ctx, poke)
        if ends_by == "raising":
            ctx.raise_if_cancelled()
        return {"partial": True}
    runner = runners({"t": JobKind(body)})
    job = runner.submit("t")
    events.wait(job.id, "job.started")
    assert runner.cancel(job.id).status is JobStatus.RUNNING
    poke.set()
    events.wait(job.id, "job.cancelled")
    ended = store.get(job.id)
    assert (ended.status, ended.result, ended.error) == (JobStatus.CANCELLED, None, None)
    with pytest.raises(Conflict, match="already cancelled"):
        runner.cancel(job.id)


def test_a_body_that_finishes_without_seeing_the_cancel_completes(store: JobStore, events: Recorder,
                                                                   runners: Callable[..., JobRunner]) -> None:
    gate = threading.Event()

    def body(ctx: JobContext) -> dict[str, Any]:
        gate.wait(WAIT_S)
        return {"done": True}
    runner = runners({"t": JobKind(body)})
    job = runner.submit("t")
    events.wait(job.id, "job.started")
    runner.cancel(job.id)
    gate.set()
    events.wait(job.id, "job.completed")
    assert store.get(job.id).result == {"done": True}


def test_cancelling_a_queued_job_means_it_never_runs(store: JobStore, events: Recorder,
                                                     runners: Callable[..., JobRunner]) -> None:
    gate, ran = threading.Event(), []

    def body(ctx: JobContext) -> dict[str, Any]:
        ran.append(ctx.job.id)
        gate.wait(WAIT_S)
        return {}
    runner = runners({"t": JobKind(body)})
    busy = runner.submit("t")
    events.wait(busy.id, "job.started")
    queued = runner.submit("t")
    assert runner.cancel(queued.id).status is JobStatus.CANCELLED
    after = runner.submit("t")
    gate.set()
    events.wait(after.id, "job.completed")
    assert ran == [busy.id, after.id]


def test_a_scheduled_job_runs_once_it_is_due(store: JobStore, clock: Clock, events: Recorder,
                                             runners: Callable[..., JobRunner]) -> None:
    runner = runners({"t": JobKind(lambda ctx: {})})
    job = runner.submit("t", scheduled_at="2024-05-01T12:00:30Z")
    assert store.get(job.id).status is JobStatus.PENDING
    clock.advance(30)
    store.wake()   # the worker would look again within its poll interval anyway
    events.wait(job.id, "job.completed")


def test_resumed_job_skips_its_finished_steps(db_path: Path, clock: Clock, runners: Callable[..., JobRunner]) -> None:
    """A body finishes step a and saves a checkpoint in step b, then its process "dies" (its runner is
    abandoned with the body stuck); a new store and runner on the same file resume it without
    running step a again."""
    calls: dict[str, int] = {"a": 0, "b": 0}
    stuck, release = threading.Event(), threading.Event()

    def body(ctx: JobContext) -> dict[str, Any]:
        def step_a() -> dict[str, Any]:
            calls["a"] += 1
            return {"rows": 10}
        a = ctx.run_step("a", step_a)

        def step_b() -> dict[str, Any]:
            calls["b"] += 1
            resumed_from = ctx.last_checkpoint()
            ctx.checkpoint({"epoch": 1})
            if ctx.job.attempts == 1:         # the first process dies here
                stuck.set()
                release.wait(WAIT_S)
            return {"resumed_from": resumed_from}
        b = ctx.run_step("b", step_b)
        return {"a": a, "b": b}
    kinds = {"pipeline": JobKind(body, resumable=True)}

    first_store = JobStore(db_path, clock=clock)
    first = runners(kinds, on=first_store)
    job = first.submit("pipeline")
    assert stuck.wait(WAIT_S)
    assert first.stop(timeout=0.05) is False            # the body did not stop: the job stays running
    assert first_store.get(job.id).status is JobStatus.RUNNING

    second_store = JobStore(db_path, clock=clock)
    events = Recorder()
    second_store.on_event(events)
    second = runners(kinds, on=second_store, start=False)
    recovered = second.start()
    assert [(j.id, j.status) for j in recovered] == [(job.id, JobStatus.QUEUED)]
    events.wait(job.id, "job.completed")
    done = second_store.get(job.id)
    assert done.result == {"a": {"rows": 10}, "b": {"resumed_from": {"epoch": 1}}}
    assert (done.attempts, calls) == (2, {"a": 1, "b": 2})
    messages = [line.message for line in second_store.logs(job.id)]
    assert messages == [RESUMED, "step 'a' already finished: skipped", "completed"]
    assert second_store.logs(job.id)[0].level is LogLevel.WARN

    # The abandoned body ends late: its attempt is stale and changes nothing.
    release.set()
    assert first.stop(timeout=WAIT_S) is True
    assert second_store.get(job.id) == done
    assert second_store.finished_steps(job.id)["b"] == done.result["b"]
    first_store.close()
    second_store.close()


def test_recovery_fails_what_cannot_resume(store: JobStore, events: Recorder,
                                           runners: Callable[..., JobRunner]) -> None:
    kinds = {"once": JobKind(lambda ctx: {}), "resumable": JobKind(lambda ctx: {}, resumable=True, max_attempts=2)}
    # A process that died while running these (claimed, never finished):
    once = store.submit("once")
    store.claim()
    tried = store.submit("resumable")
    store.claim()
    store.requeue(tried.id, "resumed")
    store.claim()                      # its second attempt dies too
    cancelled = store.submit("once")
    store.claim()
    store.request_cancel(cancelled.id)
    foreign = store.submit("someone-elses")
    store.claim()

    recovered = runners(kinds, start=False).start()
    assert [(j.id, j.status) for j in recovered] == [
        (once.id, JobStatus.FAILED), (tried.id, JobStatus.FAILED), (cancelled.id, JobStatus.CANCELLED)]
    assert store.get(once.id).error == {"code": INTERNAL_ERROR, "message": INTERRUPTED}
    error = store.get(tried.id).error
    assert error is not None and error["message"] == f"{INTERRUPTED}, on each of its 2 attempts"
    assert store.get(foreign.id).status is JobStatus.RUNNING     # not a kind of this runner
    assert events.of(once.id)[-1] == "job.failed"


@pytest.mark.parametrize(("resumable", "status", "message"), [
    (True, JobStatus.QUEUED, PAUSED), (False, JobStatus.FAILED, f"failed: {STOPPED}")])
def test_stopping_the_runner_asks_bodies_to_stop(store: JobStore, events: Recorder,
                                                 runners: Callable[..., JobRunner], resumable: bool,
                                                 status: JobStatus, message: str) -> None:
    poke = threading.Event()
    runner = runners({"t": JobKind(lambda ctx: wait_for_cancel(ctx, poke), resumable=resumable)})
    job = runner.submit("t")
    events.wait(job.id, "job.started")
    assert runner.stop(timeout=WAIT_S) is True
    stopped = store.get(job.id)
    assert (stopped.status, store.logs(job.id)[-1].message) == (status, message)
    with pytest.raises(RuntimeError, match="starts once"):
        runner.start()


def test_a_new_runner_starts_on_an_empty_queue_and_waits(store: JobStore, events: Recorder,
                                                          runners: Callable[..., JobRunner]) -> None:
    runner = runners({"t": JobKind(lambda ctx: {"n": ctx.job.id})}, poll_s=60.0)
    assert runner.store.list() == ([], 0)
    job = runner.submit("t")     # wakes the idle worker at once, not after its poll interval
    events.wait(job.id, "job.completed")


def test_pausing_a_running_job_keeps_its_checkpoint_and_resume_continues_it(
        store: JobStore, events: Recorder, runners: Callable[..., JobRunner]) -> None:
    def count_to_five(ctx: JobContext) -> dict[str, Any]:
        done = (ctx.last_checkpoint() or {}).get("done", 0)
        for unit in range(done, 5):
            if ctx.cancelled:
                ctx.raise_if_cancelled()
            ctx.log("INFO", f"unit {unit}")
            ctx.checkpoint({"done": unit + 1})
            if unit == 1:   # the caller pauses here; the body sees it at its next check
                runner.pause(ctx.job.id, "make room")
        return {"done": 5}
    runner = runners({"count": JobKind(count_to_five, resumable=True)})
    job = runner.submit("count")
    events.wait(job.id, "job.paused")
    paused = store.get(job.id)
    assert (paused.status, paused.pause_requested, store.last_checkpoint(job.id)) == (
        JobStatus.PAUSED, False, {"done": 2})
    with pytest.raises(Conflict, match="paused"):
        runner.pause(job.id)
    assert runner.resume(job.id, "room again").status is JobStatus.QUEUED
    events.wait(job.id, "job.completed")
    units = [line.message for line in store.logs(job.id) if line.message.startswith("unit")]
    assert units == [f"unit {n}" for n in range(5)]   # none run twice, none skipped
    assert store.get(job.id).result == {"done": 5}
    with pytest.raises(Conflict, match="is completed: only a paused job resumes"):
        runner.resume(job.id)


def test_only_resumable_kinds_pause_and_a_queued_job_pauses_at_once(
        store: JobStore, events: Recorder, runners: Callable[..., JobRunner]) -> None:
    runner = runners({"once": JobKind(lambda ctx: {}), "again": JobKind(lambda ctx: {}, resumable=True)},
                     start=False)
    once, again = runner.submit("once"), runner.submit("again")
    with pytest.raises(Conflict, match="cannot pause"):
        runner.pause(once.id)
    assert runner.pause(again.id).status is JobStatus.PAUSED
    assert runner.cancel(again.id).status is JobStatus.CANCELLED   # a paused job can be stopped for good


def test_a_pause_asked_before_the_process_died_is_honoured_at_recovery(
        db_path: Path, clock: Clock, runners: Callable[..., JobRunner]) -> None:
    first = JobStore(db_path, clock=clock)
    job = first.submit("t")
    first.claim()
    first.request_pause(job.id)
    first.close()
    second = JobStore(db_path, clock=clock)
    runner = runners({"t": JobKind(lambda ctx: {}, resumable=True)}, on=second, start=False)
    assert [(j.id, j.status) for j in runner.start()] == [(job.id, JobStatus.PAUSED)]
    runner.stop(timeout=WAIT_S)
    second.close()
