"""Serving figures on a real SQLite file with an injected clock: p95 by hand, time series buckets,
refused windows, batching and pruning."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.model_registry import MAX_BUCKETS, ModelRegistry, PerformanceLog
from tests.unit.model_registry.conftest import Clock


def _rows(db_path: Path) -> int:
    """What is on the disk, read through a connection of its own."""
    with sqlite3.connect(db_path) as db:
        return int(db.execute("SELECT COUNT(*) FROM model_requests").fetchone()[0])


def test_performance_figures_by_hand(perf: PerformanceLog, clock: Clock) -> None:
    latencies = [12, 5, 30, 7, 9, 100, 15, 11, 8, 6, 14, 13, 10, 250, 16, 17, 18, 19, 20, 21]
    perf.record("mdl_a", 3.0, True, memory_mb=100.0)        # two hours before the others
    clock.advance(2 * 3600)
    for i, latency in enumerate(latencies):
        clock.advance(1)
        perf.record("mdl_a", latency, success=i not in (2, 5), memory_mb=[512.0, 640.0, None][i % 3])
    perf.record("mdl_b", 9999.0, False)

    figures = perf.performance("mdl_a")
    # 21 requests; sorted: 3, 5, 6, ..., 21, 30, 100, 250; nearest rank ceil(0.95 * 21) = 20 -> 100.
    assert figures.requests_total == 21
    assert figures.p95_latency_ms == 100.0
    assert figures.avg_latency_ms == pytest.approx((3 + 601) / 21)
    assert figures.successes == 19 and figures.success_rate == pytest.approx(100 * 19 / 21)
    assert figures.error_rate == pytest.approx(100 * 2 / 21)
    assert figures.requests_last_hour == 20
    assert figures.memory_mb == 640.0 and figures.peak_memory_mb == 640.0   # the last recorded is index 19
    assert figures.last_request_at == "2024-05-01T14:00:20.000Z"
    data = figures.to_dict()
    assert data["performance_metrics"]["p95_response_time"] == 0.1          # seed 002: seconds
    assert data["performance_metrics"]["throughput_per_hour"] == 20
    assert data["resource_usage"]["memory_mb"] == 640.0

    # 20 requests: ceil(0.95 * 20) = 19th of 5, 6, ..., 21, 30, 100, 250 -> 100; 10 requests 1..10: the 10th.
    assert perf.performance("mdl_b").p95_latency_ms == 9999.0
    for latency in range(10, 0, -1):
        perf.record("mdl_c", latency, True)
    assert perf.performance("mdl_c").p95_latency_ms == 10.0


def test_performance_of_a_model_without_requests(perf: PerformanceLog) -> None:
    figures = perf.performance("mdl_none")
    assert (figures.requests_total, figures.avg_latency_ms, figures.p95_latency_ms, figures.success_rate,
            figures.memory_mb, figures.last_request_at) == (0, None, None, None, None, None)
    assert figures.to_dict()["performance_metrics"]["error_rate"] is None


def test_time_series_buckets(perf: PerformanceLog, clock: Clock) -> None:
    noon = clock.now
    for seconds, latency, ok in ((10, 10.0, True), (50, 30.0, False), (125, 20.0, True), (3700, 40.0, True)):
        clock.now = noon + timedelta(seconds=seconds)
        perf.record("mdl_a", latency, ok)
    # Requests at 12:00:10, 12:00:50 (failed), 12:02:05 and 13:01:40; now is 13:01:40.

    series = perf.metrics("mdl_a", "2024-05-01T12:00:30Z", "2024-05-01T12:03:00Z", "1m")
    assert (series.start_time, series.end_time) == ("2024-05-01T12:00:00.000Z", "2024-05-01T12:03:00.000Z")
    assert [b.to_dict() for b in series.buckets] == [
        {"timestamp": "2024-05-01T12:00:00.000Z", "requests": 2, "avg_latency_ms": 20.0, "p95_latency_ms": 30.0,
         "success_rate": 50.0},
        {"timestamp": "2024-05-01T12:01:00.000Z", "requests": 0, "avg_latency_ms": None, "p95_latency_ms": None,
         "success_rate": None},
        {"timestamp": "2024-05-01T12:02:00.000Z", "requests": 1, "avg_latency_ms": 20.0, "p95_latency_ms": 20.0,
         "success_rate": 100.0},
    ]

    five = perf.metrics("mdl_a", "2024-05-01T12:00:00Z", "2024-05-01T12:10:00Z", "5m").buckets
    assert [(b.start[11:16], b.requests, b.p95_latency_ms) for b in five] == [("12:00", 3, 30.0), ("12:05", 0, None)]

    hours = perf.metrics("mdl_a", "2024-05-01T11:30:00+00:00", "2024-05-01T13:30:00Z", "1h")
    assert [(b.start[11:16], b.requests, b.avg_latency_ms) for b in hours.buckets] == [
        ("11:00", 0, None), ("12:00", 3, 20.0), ("13:00", 1, 40.0)]
    assert hours.end_time == "2024-05-01T14:00:00.000Z"

    # Without a start: the 60 buckets ending with the current one (now is 13:01:40).
    recent = perf.metrics("mdl_a", interval="1m")
    assert len(recent.buckets) == 60 and recent.end_time == "2024-05-01T13:02:00.000Z"
    assert recent.buckets[0].start == "2024-05-01T12:02:00.000Z" and recent.buckets[0].requests == 1
    assert recent.buckets[-1].requests == 1 and sum(b.requests for b in recent.buckets) == 2
    assert perf.metrics("mdl_other", "2024-05-01T12:00:00Z", "2024-05-01T12:05:00Z").buckets[0].requests == 0


def test_bad_intervals_and_windows_are_refused(perf: PerformanceLog) -> None:
    start, end = "2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"
    for interval in ("2m", "", "1M", "60"):
        with pytest.raises(InvalidRequest, match="invalid metrics request") as refused:
            perf.metrics("mdl_a", start, end, interval)
        assert refused.value.problems[0].startswith("interval:")
    with pytest.raises(InvalidRequest) as refused:
        perf.metrics("mdl_a", end, start, "1m")
    assert "not after start_time" in refused.value.problems[0]
    with pytest.raises(InvalidRequest):
        perf.metrics("mdl_a", start, start, "1m")
    with pytest.raises(InvalidRequest) as refused:
        perf.metrics("mdl_a", "yesterday", "2024-05-01T13:00:00", "2m")   # every problem at once
    assert [p.split(":")[0] for p in refused.value.problems] == ["interval", "end_time", "start_time"]

    # 10 000 one-minute buckets pass; one more is refused; the same days in hours are fine.
    assert len(perf.metrics("mdl_a", "2024-05-01T00:00:00Z", "2024-05-07T22:40:00Z", "1m").buckets) == MAX_BUCKETS
    with pytest.raises(InvalidRequest, match="invalid metrics request") as refused:
        perf.metrics("mdl_a", "2024-05-01T00:00:00Z", "2024-05-07T22:41:00Z", "1m")
    assert "10001 buckets" in refused.value.problems[0]
    assert len(perf.metrics("mdl_a", "2024-05-01T00:00:00Z", "2024-05-09T00:00:00Z", "1h").buckets) == 192


def test_bad_records_are_refused(perf: PerformanceLog) -> None:
    with pytest.raises(InvalidRequest) as refused:
        perf.record("", float("nan"), True, memory_mb=-1)
    assert len(refused.value.problems) == 3
    with pytest.raises(InvalidRequest):
        perf.record("mdl_a", -1, True)


def test_records_are_written_in_batches(db_path: Path, clock: Clock) -> None:
    perf = PerformanceLog(db_path, clock=clock, batch_size=3, max_delay_s=10)
    try:
        perf.record("mdl_a", 1, True)
        perf.record("mdl_a", 2, True)
        assert _rows(db_path) == 0                 # in memory still
        perf.record("mdl_a", 3, True)
        assert _rows(db_path) == 3                 # the batch is full: one transaction
        perf.record("mdl_a", 4, True)
        clock.advance(10)
        perf.record("mdl_a", 5, True)              # the first waiting row is 10 s old
        assert _rows(db_path) == 5
        perf.record("mdl_a", 6, True)
        assert perf.performance("mdl_a").requests_total == 6   # readers flush first
        perf.record("mdl_a", 7, True)
    finally:
        perf.close()                               # and so does closing
    assert _rows(db_path) == 7


def test_old_requests_are_pruned(db_path: Path, clock: Clock) -> None:
    perf = PerformanceLog(db_path, clock=clock, retention_days=1, max_delay_s=0)
    try:
        for _ in range(3):
            perf.record("mdl_a", 10, True)         # max_delay_s=0: each is written at once
        clock.advance(23 * 3600)
        perf.record("mdl_a", 20, True)
        assert _rows(db_path) == 4
        assert perf.performance("mdl_a").requests_total == 4

        clock.advance(2 * 3600)                    # the first three are 25 h old now
        assert perf.performance("mdl_a").requests_total == 1
        assert _rows(db_path) == 1                 # deleted by the reader's flush: the last prune was > 1 h ago

        perf.record("mdl_a", 30, True)
        perf.record("mdl_a", 40, True)
        assert _rows(db_path) == 3                 # no prune within the hour
        clock.advance(25 * 3600)
        assert perf.prune() == 3
        assert _rows(db_path) == 0
        assert perf.performance("mdl_a").requests_total == 0
    finally:
        perf.close()


def test_shares_the_database_with_the_registry(registry: ModelRegistry, perf: PerformanceLog) -> None:
    model = registry.register("kitchen", "expert_adapter")
    perf.record(model.id, 12.5, True)
    registry.mark_loaded(model.id)
    assert perf.performance(registry.get("kitchen").id).avg_latency_ms == 12.5
    assert registry.get(model.id).status.value == "deployed"
