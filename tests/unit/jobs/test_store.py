"""JobStore on a real SQLite file: submit, claim order, scheduling, paging, cancel, logs, steps."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.jobs import JobStatus, JobStore, LogLevel
from tests.unit.jobs.conftest import Clock, Recorder


def test_submit_stores_a_queued_job_with_a_stable_id(store: JobStore, db_path: Path, clock: Clock) -> None:
    job = store.submit("training", {"expert": "math"}, priority=3)
    assert (job.id, job.type, job.status, job.priority, job.config) == (1, "training", JobStatus.QUEUED, 3,
                                                                         {"expert": "math"})
    assert job.created_at == job.updated_at == "2024-05-01T12:00:00.000Z"
    assert (job.progress, job.attempts, job.result, job.error, job.started_at) == (0.0, 0, None, None, None)
    assert job.to_dict()["status"] == "queued"
    assert store.get(job.id) == job
    with pytest.raises(NotFound):
        store.get(99)
    # Another connection (a restarted process) sees the same job; ids go on, never reused.
    other = JobStore(db_path, clock=clock)
    assert other.get(1) == job
    assert other.submit("training").id == 2
    other.close()


def test_submit_lists_every_problem(store: JobStore) -> None:
    with pytest.raises(InvalidRequest) as caught:
        store.submit("", {"lr": float("nan")}, priority=True, scheduled_at="2024-05-01T12:00:00")
    assert [p.split(":")[0] for p in caught.value.problems] == ["type", "priority", "config", "scheduled_at"]
    with pytest.raises(InvalidRequest) as caught:
        store.submit("training", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert caught.value.problems == ["config: expected a JSON object, got list"]
    assert store.list()[1] == 0


def test_claim_takes_the_highest_priority_then_the_oldest(store: JobStore, events: Recorder) -> None:
    low = store.submit("t", priority=0)
    high = store.submit("t", priority=5)
    high_later = store.submit("t", priority=5)
    assert store.next_due() == high
    assert store.next_due() == high          # next_due only looks
    claimed = [store.claim() for _ in range(3)]
    assert [j.id for j in claimed if j] == [high.id, high_later.id, low.id]
    first = claimed[0]
    assert first is not None
    assert (first.status, first.attempts, first.started_at) == (JobStatus.RUNNING, 1, first.created_at)
    assert store.claim() is None
    assert events.of(high.id) == ["job.submitted", "job.started"]


def test_claim_only_takes_the_given_types(store: JobStore) -> None:
    store.submit("other", priority=9)
    mine = store.submit("mine")
    assert store.claim(types=[]) is None
    claimed = store.claim(types=["mine"])
    assert claimed is not None and claimed.id == mine.id


def test_a_scheduled_job_is_pending_until_its_time(store: JobStore, clock: Clock) -> None:
    later = store.submit("t", priority=9, scheduled_at=clock.now + timedelta(seconds=60))
    past = store.submit("t", scheduled_at="2024-05-01T11:00:00Z")
    assert (later.status, later.scheduled_at) == (JobStatus.PENDING, "2024-05-01T12:01:00.000Z")
    assert past.status is JobStatus.QUEUED
    assert store.seconds_until_due() == 60.0
    claimed = store.claim()
    assert claimed is not None and claimed.id == past.id
    assert store.claim() is None
    clock.advance(60)
    # Due now: taken, and before an older queued job of lower priority.
    older = store.submit("t")
    claimed = store.claim()
    assert claimed is not None and (claimed.id, claimed.status) == (later.id, JobStatus.RUNNING)
    assert store.next_due() == store.get(older.id)
    assert store.seconds_until_due() is None


def test_a_due_pending_job_is_queued_by_the_next_claim(store: JobStore, clock: Clock) -> None:
    job = store.submit("t", scheduled_at=clock.now + timedelta(seconds=5))
    clock.advance(5)
    assert store.claim(types=["another"]) is None
    assert store.get(job.id).status is JobStatus.QUEUED


def test_list_pages_newest_first_with_filters_and_total(store: JobStore) -> None:
    ids = [store.submit("a" if i % 2 else "b").id for i in range(7)]   # b a b a b a b
    store.claim(types=["a"])
    jobs, total = store.list(limit=3)
    assert ([j.id for j in jobs], total) == ([7, 6, 5], 7)
    jobs, total = store.list(limit=3, offset=6)
    assert ([j.id for j in jobs], total) == ([1], 7)
    jobs, total = store.list(type="a")
    assert ([j.id for j in jobs], total) == ([6, 4, 2], 3)
    jobs, total = store.list(status="running")
    assert ([j.id for j in jobs], total) == ([ids[1]], 1)
    jobs, total = store.list(status=JobStatus.QUEUED, type="a", limit=1)
    assert ([j.id for j in jobs], total) == ([6], 2)
    assert store.list(limit=1000)[1] == 7


@pytest.mark.parametrize("paging", [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "5"}])
def test_list_refuses_bad_paging(store: JobStore, paging: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        store.list(**paging)  # type: ignore[arg-type]


def test_list_refuses_an_unknown_status(store: JobStore) -> None:
    with pytest.raises(InvalidRequest) as caught:
        store.list(status="done")
    assert "pending, queued, running, paused, completed, failed, cancelled" in caught.value.problems[0]


def test_cancel_a_queued_or_pending_job_at_once(store: JobStore, clock: Clock, events: Recorder) -> None:
    queued = store.submit("t")
    pending = store.submit("t", scheduled_at=clock.now + timedelta(hours=1))
    for job in (queued, pending):
        cancelled = store.request_cancel(job.id)
        assert (cancelled.status, cancelled.completed_at) == (JobStatus.CANCELLED, "2024-05-01T12:00:00.000Z")
        assert events.of(job.id)[-1] == "job.cancelled"
    assert store.claim() is None


def test_cancel_a_running_job_sets_its_flag(store: JobStore, events: Recorder) -> None:
    job = store.submit("t")
    store.claim()
    flagged = store.request_cancel(job.id)
    assert (flagged.status, flagged.cancel_requested, store.cancel_requested(job.id)) == (JobStatus.RUNNING, True, True)
    assert "job.cancelled" not in events.of(job.id)
    assert store.mark_cancelled(job.id).status is JobStatus.CANCELLED
    assert [line.message for line in store.logs(job.id)] == ["cancel requested", "cancelled"]


@pytest.mark.parametrize("end", ["complete", "fail", "cancel"])
def test_cancel_an_ended_job_is_a_conflict_naming_its_status(store: JobStore, end: str) -> None:
    job = store.submit("t")
    if end == "cancel":
        store.request_cancel(job.id)
    else:
        store.claim()
        store.complete(job.id, {}) if end == "complete" else store.fail(job.id, 400, "bad")
    status = store.get(job.id).status.value
    with pytest.raises(Conflict, match=f"job {job.id} is already {status}"):
        store.request_cancel(job.id)
    with pytest.raises(NotFound):
        store.request_cancel(42)


def test_complete_and_fail_record_the_outcome(store: JobStore, events: Recorder) -> None:
    done, failed = store.submit("t"), store.submit("t")
    store.claim(), store.claim()
    progressed = store.set_progress(done.id, 0.25)
    assert progressed.progress == 0.25
    completed = store.complete(done.id, {"version": 3})
    assert (completed.status, completed.result, completed.progress) == (JobStatus.COMPLETED, {"version": 3}, 1.0)
    ended = store.fail(failed.id, 2001, "no usable rows", ["row 1: empty"])
    assert ended.error == {"code": 2001, "message": "no usable rows", "problems": ["row 1: empty"]}
    assert store.logs(failed.id)[-1].level is LogLevel.ERROR
    assert events.of(done.id) == ["job.submitted", "job.started", "job.progress", "job.completed"]
    with pytest.raises(Conflict):
        store.complete(done.id, {})
    with pytest.raises(Conflict):
        store.set_progress(done.id, 0.5)


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), True])
def test_progress_is_a_fraction(store: JobStore, fraction: float) -> None:
    job = store.submit("t")
    store.claim()
    with pytest.raises(InvalidRequest):
        store.set_progress(job.id, fraction)


def test_a_write_that_fails_leaves_nothing_behind(store: JobStore) -> None:
    job = store.submit("t")
    store.claim()
    with pytest.raises(InvalidRequest):
        store.complete(job.id, {"loss": float("nan")})
    assert store.get(job.id).status is JobStatus.RUNNING
    assert store.logs(job.id) == []
    with pytest.raises(NotFound):
        store.log(99, "INFO", "nobody")


def test_the_attempt_fences_off_a_replaced_worker(store: JobStore) -> None:
    job = store.submit("t")
    first = store.claim()
    assert first is not None
    store.requeue(job.id, "resumed")
    second = store.claim()
    assert second is not None and second.attempts == 2
    with pytest.raises(Conflict, match="attempt 1 is no longer current"):
        store.complete(job.id, {"from": "old"}, attempt=first.attempts)
    assert store.complete(job.id, {"from": "new"}, attempt=second.attempts).result == {"from": "new"}


def test_log_lines_page_by_seq(store: JobStore) -> None:
    job, other = store.submit("t"), store.submit("t")
    for i in range(5):
        store.log(job.id, "INFO", f"line {i + 1}", agent="DatasetAgent")
    assert store.log(other.id, LogLevel.WARN, "its own").seq == 1
    page = store.logs(job.id, after_seq=2, limit=2)
    assert [(line.seq, line.message) for line in page] == [(3, "line 3"), (4, "line 4")]
    assert [line.seq for line in store.logs(job.id, after_seq=4)] == [5]
    assert store.logs(job.id, after_seq=5) == []
    assert page[0].to_dict()["agent"] == "DatasetAgent"


def test_metric_lines_keep_step_epoch_loss_and_values(store: JobStore) -> None:
    job = store.submit("t")
    line = store.log(job.id, "METRIC", "train", step=10, epoch=0.5, loss=1.25, values={"val_loss": 1.5})
    diverged = store.log(job.id, "METRIC", "train", step=11, loss=float("nan"), values={"lr": float("inf")})
    assert store.logs(job.id) == [line, diverged]
    assert (line.level, line.step, line.epoch, line.loss, line.values) == (LogLevel.METRIC, 10, 0.5, 1.25,
                                                                           {"val_loss": 1.5})
    assert (diverged.loss, diverged.values) == (None, {"lr": None})


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"after_seq": -1}])
def test_logs_refuse_bad_bounds(store: JobStore, query: dict[str, int]) -> None:
    job = store.submit("t")
    with pytest.raises(InvalidRequest):
        store.logs(job.id, **query)


def test_logs_refuse_an_unknown_level_or_job(store: JobStore) -> None:
    job = store.submit("t")
    with pytest.raises(InvalidRequest, match="unknown log level 'DEBUG'"):
        store.log(job.id, "DEBUG", "x")
    with pytest.raises(NotFound):
        store.logs(99)
    assert len(store.logs(job.id, limit=1000)) == 0


def test_reading_logs_after_a_seq_uses_the_primary_key(store: JobStore, db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    plan = " ".join(str(row[-1]) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM job_logs WHERE job_id=1 AND seq>5 ORDER BY seq LIMIT 100"))
    db.close()
    assert "PRIMARY KEY" in plan and "job_id=? AND seq>?" in plan, plan


def test_a_follower_wakes_on_a_new_line_or_status(store: JobStore) -> None:
    job = store.submit("t")
    assert store.wait_for_update(job.id, 0, JobStatus.QUEUED, timeout=0.01) is False
    woke: list[bool] = []
    ready = threading.Event()

    def follower() -> None:
        ready.set()
        woke.append(store.wait_for_update(job.id, 0, JobStatus.QUEUED, timeout=5.0))
    thread = threading.Thread(target=follower)
    thread.start()
    ready.wait(5.0)
    store.log(job.id, "INFO", "hello")
    thread.join(5.0)
    assert woke == [True]
    assert store.wait_for_update(job.id, 1, JobStatus.QUEUED, timeout=0.01) is False
    store.claim()
    assert store.wait_for_update(job.id, 1, JobStatus.QUEUED, timeout=0.01) is True


def test_follow_yields_lines_until_the_job_ends(store: JobStore) -> None:
    job = store.submit("t")
    store.claim()
    store.log(job.id, "INFO", "before")
    writer_may_go = threading.Event()

    def writer() -> None:
        writer_may_go.wait(5.0)
        store.log(job.id, "INFO", "during")
        store.complete(job.id, {})
    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    for line in store.follow(job.id, wait_s=5.0):
        seen.append(line.message)
        writer_may_go.set()
    thread.join(5.0)
    assert seen == ["before", "during", "completed"]
    assert [line.message for line in store.follow(job.id, after_seq=2)] == ["completed"]


def test_steps_and_checkpoint_survive_a_reopen(store: JobStore, db_path: Path, clock: Clock) -> None:
    job = store.submit("pipeline")
    assert store.finished_steps(job.id) == {}
    assert store.last_checkpoint(job.id) is None
    store.step_done(job.id, "dataset", {"rows": 10})
    store.step_done(job.id, "train", {"loss": 0.5})
    store.step_done(job.id, "dataset", {"rows": 12})
    store.checkpoint(job.id, {"epoch": 1})
    store.checkpoint(job.id, {"epoch": 2})
    reopened = JobStore(db_path, clock=clock)
    assert reopened.finished_steps(job.id) == {"dataset": {"rows": 12}, "train": {"loss": 0.5}}
    assert list(reopened.finished_steps(job.id)) == ["dataset", "train"]
    assert reopened.last_checkpoint(job.id) == {"epoch": 2}
    assert "checkpoint" not in reopened.get(job.id).to_dict()
    reopened.close()
    with pytest.raises(NotFound):
        store.step_done(99, "x", {})
    with pytest.raises(InvalidRequest):
        store.step_done(job.id, "", {})


def test_other_tables_in_the_same_database_coexist(store: JobStore, db_path: Path) -> None:
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("CREATE TABLE IF NOT EXISTS webhooks (id INTEGER PRIMARY KEY, url TEXT)")
    other.execute("INSERT INTO webhooks(url) VALUES ('http://127.0.0.1/hook')")
    job = store.submit("t")
    assert other.execute("SELECT status FROM jobs WHERE id=?", (job.id,)).fetchone() == ("queued",)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()


def test_a_failing_listener_does_not_break_the_write(store: JobStore, events: Recorder) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("listener bug")
    unsubscribe = store.on_event(broken)
    job = store.submit("t")
    assert store.get(job.id).status is JobStatus.QUEUED
    assert events.of(job.id) == ["job.submitted"]
    unsubscribe()
    second = []
    stop = store.on_event(lambda job, event: second.append(event))
    stop()
    store.submit("t")
    assert second == []
