"""The job records' helpers: times, statuses, JSON."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.jobs import JobStatus
from embodied_ai.jobs.models import finite_values, format_time, parse_time, to_json


def test_times_are_utc_with_milliseconds_in_a_fixed_width() -> None:
    assert format_time(parse_time("2024-05-01T14:00:00.5+02:00", "t")) == "2024-05-01T12:00:00.500Z"
    assert format_time(datetime(2024, 5, 1, 9, 5, 3, 7000, tzinfo=timezone.utc)) == "2024-05-01T09:05:03.007Z"
    assert parse_time("2024-05-01T12:00:00Z", "t") == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", ["2024-05-01T12:00:00", "tomorrow", datetime(2024, 5, 1)])
def test_a_time_without_a_timezone_or_not_a_time_is_refused(value: str | datetime) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_time(value, "scheduled_at")
    assert caught.value.problems[0].startswith("scheduled_at: ")


def test_statuses() -> None:
    assert [s.value for s in JobStatus if s.terminal] == ["completed", "failed", "cancelled"]
    assert JobStatus.parse("running") is JobStatus.RUNNING
    with pytest.raises(InvalidRequest):
        JobStatus.parse("done")


def test_json_is_strict_but_metric_values_keep_a_diverged_loss_as_none() -> None:
    with pytest.raises(InvalidRequest):
        to_json({"loss": float("inf")}, "result")
    assert finite_values({"loss": float("nan"), "history": [1.0, float("-inf")], "n": 3}) == {
        "loss": None, "history": [1.0, None], "n": 3}
