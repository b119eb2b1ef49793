"""The bridge's CPU and memory samples: the bounded ring, the series per interval (means, empty buckets
left out, the window's bounds), real psutil readings, the sampling thread, and bad input refused with
every problem."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import psutil
import pytest

from embodied_ai.bridge.system_samples import SystemSampler
from embodied_ai.errors import InvalidRequest
from tests.unit.jobs.conftest import Clock

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return NOON + timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()          # 2024-05-01 12:00 UTC


def test_series_are_means_per_interval_without_empty_buckets(clock: Clock) -> None:
    sampler = SystemSampler(clock=clock)
    for minute, cpu, memory in ((0.1, 0.2, 0.5), (0.9, 0.4, 0.7), (2.5, 0.9, 0.6), (4.0, 1.0, 1.0),
                                (-0.5, 0.0, 0.0)):
        sampler.record(cpu, memory, at(minute))
    series = sampler.series("2024-05-01T12:00:30Z", "2024-05-01T12:03:00Z", "1m")
    assert (series.window.start_time, series.window.end_time) == ("2024-05-01T12:00:00.000Z",
                                                                  "2024-05-01T12:03:00.000Z")
    assert series.cpu_usage.timestamps == ("2024-05-01T12:00:00.000Z", "2024-05-01T12:02:00.000Z")   # 12:01: none
    assert series.cpu_usage.values == pytest.approx((0.3, 0.9))
    assert series.memory_usage.values == pytest.approx((0.6, 0.6))
    assert series.memory_usage.timestamps == series.cpu_usage.timestamps

    five = sampler.series("2024-05-01T11:55:00Z", "2024-05-01T12:05:00+00:00", "5m")
    assert five.cpu_usage.timestamps == ("2024-05-01T11:55:00.000Z", "2024-05-01T12:00:00.000Z")
    assert five.cpu_usage.values == pytest.approx((0.0, (0.2 + 0.4 + 0.9 + 1.0) / 4))


def test_the_default_window_is_the_last_60_intervals(clock: Clock) -> None:
    sampler = SystemSampler(clock=clock)
    clock.advance(90 * 60 + 20)                       # now 13:30:20
    for minute in (29, 30, 31, 90):                   # 12:29 and 12:30 fall before the first bucket, 12:31
        sampler.record(0.5, 0.5, at(minute))
    series = sampler.series()
    assert (series.window.interval, series.window.start_time, series.window.end_time) == (
        "1m", "2024-05-01T12:31:00.000Z", "2024-05-01T13:31:00.000Z")
    assert series.cpu_usage.timestamps == ("2024-05-01T12:31:00.000Z", "2024-05-01T13:30:00.000Z")
    hours = sampler.series(interval="1h").window
    assert (hours.start_time, hours.end_time, hours.count) == ("2024-04-29T02:00:00.000Z", "2024-05-01T14:00:00.000Z",
                                                              60)


def test_real_psutil_readings_are_fractions_and_aggregate_to_their_mean(clock: Clock) -> None:
    sampler = SystemSampler(clock=clock)
    sampler.sample()                                  # the first CPU reading only starts psutil's interval
    clock.advance(60)
    first = []
    for _ in range(3):
        sum(range(200_000))                           # some CPU time between readings
        first.append(sampler.sample())
        clock.advance(10)
    clock.advance(60)
    second = sampler.sample()
    for sample in (*first, second):
        assert 0.0 <= sample.cpu <= 1.0 and 0.0 < sample.memory < 1.0
        assert sample.memory == pytest.approx(psutil.virtual_memory().percent / 100.0, abs=0.1)
    series = sampler.series("2024-05-01T12:01:00Z", "2024-05-01T12:03:00Z")
    assert series.cpu_usage.timestamps == ("2024-05-01T12:01:00.000Z", "2024-05-01T12:02:00.000Z")
    assert series.cpu_usage.values == pytest.approx((sum(s.cpu for s in first) / 3, second.cpu))
    assert series.memory_usage.values == pytest.approx((sum(s.memory for s in first) / 3, second.memory))


def test_the_ring_keeps_the_retention_and_current_reuses_a_fresh_sample(clock: Clock) -> None:
    sampler = SystemSampler(period_s=10, retention_s=30, clock=clock)
    assert sampler.capacity == 3 and SystemSampler().capacity == 8640    # 24 h at 10 s
    for n in range(5):
        sampler.record(n / 10, 0.5)
        clock.advance(10)
    assert [s.cpu for s in sampler.samples()] == [0.2, 0.3, 0.4]
    clock.advance(1)                                  # the latest is 11 s old: a new reading
    fresh = sampler.current()
    assert sampler.samples()[-1] == fresh and len(sampler.samples()) == 3
    clock.advance(10)
    assert sampler.current() == fresh                 # 10 s old: still current


def test_the_thread_samples_until_stopped() -> None:
    sampler = SystemSampler(period_s=0.02, retention_s=60)
    sampler.start()
    try:
        deadline = time.monotonic() + 10
        while len(sampler.samples()) < 3:
            assert time.monotonic() < deadline, "no samples"
            time.sleep(0.01)
    finally:
        sampler.stop()
    taken = len(sampler.samples())
    time.sleep(0.1)
    assert len(sampler.samples()) == taken


def test_bad_samples_and_windows_are_refused_with_every_problem(clock: Clock) -> None:
    sampler = SystemSampler(clock=clock)
    with pytest.raises(InvalidRequest) as refused:
        sampler.record(1.5, float("nan"), datetime(2024, 5, 1, 12, 0))
    assert [p.split(":")[0] for p in refused.value.problems] == ["cpu", "memory", "at"]
    assert sampler.samples() == []
    with pytest.raises(InvalidRequest) as refused:
        sampler.series("yesterday", "2024-05-01T13:00:00", "2m")
    assert [p.split(":")[0] for p in refused.value.problems] == ["interval", "end_time", "start_time"]
    with pytest.raises(InvalidRequest) as refused:
        sampler.series("2024-05-01T13:00:00Z", "2024-05-01T12:00:00Z")
    assert "not after start_time" in refused.value.problems[0]
    assert sampler.series("2024-05-01T00:00:00Z", "2024-05-07T22:40:00Z").window.count == 10_000
    with pytest.raises(InvalidRequest) as refused:
        sampler.series("2024-05-01T00:00:00Z", "2024-05-07T22:41:00Z")       # 10 001 buckets of 1m
    assert "10001 buckets" in refused.value.problems[0]
