"""Windows of fixed-length buckets for figures over time (seed 001's ``start_time``, ``end_time`` and
``interval``): one reading of the request and one bucket arithmetic, for the model registry's serving
figures and the bridge's system samples.

A window runs from ``start_time`` rounded down to the interval (default: ``DEFAULT_BUCKETS`` intervals
before the end) to ``end_time`` (default now) rounded up, so that a bucket always starts on a multiple
of its interval (12:05, not 12:05:17) and the current one is included. Times are epoch milliseconds
inside, UTC ISO-8601 strings (the job store's fixed-width format) outside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from embodied_ai.errors import InvalidRequest
from embodied_ai.jobs.models import format_time, parse_time

INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "1h": 3600}   # seconds per bucket
MAX_BUCKETS = 10_000
DEFAULT_BUCKETS = 60            # the window when no start_time is given


def epoch_ms(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)


def format_epoch_ms(milliseconds: int) -> str:
    return format_time(datetime.fromtimestamp(milliseconds / 1000, timezone.utc))


@dataclass(frozen=True)
class Window:
    interval: str
    step_ms: int
    first_ms: int                  # the first bucket's start
    end_ms: int                    # the last bucket's end

    @property
    def count(self) -> int:
        return (self.end_ms - self.first_ms) // self.step_ms

    @property
    def start_time(self) -> str:
        return format_epoch_ms(self.first_ms)

    @property
    def end_time(self) -> str:
        return format_epoch_ms(self.end_ms)

    def bucket_of(self, at_ms: int) -> int | None:
        """The index of the bucket holding ``at_ms``; None outside the window."""
        return (at_ms - self.first_ms) // self.step_ms if self.first_ms <= at_ms < self.end_ms else None

    def bucket_start(self, index: int) -> str:
        return format_epoch_ms(self.first_ms + index * self.step_ms)


def parse_window(start_time: str | datetime | None, end_time: str | datetime | None, interval: str,
                 now: datetime) -> Window:
    """The window a request names (see the module's docstring). InvalidRequest lists every problem: an
    unknown interval, a time that is not ISO-8601 with a timezone, an end not after the start; then more
    than ``MAX_BUCKETS`` buckets."""
    problems: list[str] = []
    step_s = INTERVALS.get(interval) if isinstance(interval, str) else None
    if step_s is None:
        problems.append(f"interval: {interval!r} is not one of: {', '.join(INTERVALS)}")
    end = start = None
    try:
        end = now if end_time is None else parse_time(end_time, "end_time")
    except InvalidRequest as exc:
        problems += exc.problems
    if start_time is not None:
        try:
            start = parse_time(start_time, "start_time")
        except InvalidRequest as exc:
            problems += exc.problems
    if start is not None and end is not None and end <= start:
        problems.append(f"end_time: {format_time(end)} is not after start_time {format_time(start)}")
    if problems or end is None or step_s is None:
        raise InvalidRequest("invalid metrics request", problems)
    step_ms = step_s * 1000
    end_ms = -(-epoch_ms(end) // step_ms) * step_ms          # rounded up to the interval
    first_ms = end_ms - DEFAULT_BUCKETS * step_ms if start is None else epoch_ms(start) // step_ms * step_ms
    window = Window(interval=interval, step_ms=step_ms, first_ms=first_ms, end_ms=end_ms)
    if window.count > MAX_BUCKETS:
        raise InvalidRequest("invalid metrics request", [
            f"start_time, end_time: {window.count} buckets of {interval}; at most {MAX_BUCKETS} (a shorter window or "
            "a longer interval)"])
    return window
