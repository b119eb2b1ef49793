"""The machine's CPU and memory use over time, sampled by the bridge itself (seed 001's ``GET /metrics``
``system`` block, and the current CPU use of ``/v1/monitoring/metrics``).

A thread takes a sample every ``SAMPLE_PERIOD_S`` (10 s) into a ring of the last ``RETENTION_S`` (24 h):
8 640 samples, about 1 MB. A sample is machine-wide: the fraction of all cores busy since the previous
sample (psutil's ``cpu_percent``, whose baseline is its previous call: the bridge reads it here only, so
readings do not cut each other's intervals short) and the fraction of memory in use
(``virtual_memory().percent``: not available to new processes). A series is the mean of the samples in
each bucket of a ``timeseries`` window; a bucket without a sample is left out (the bridge was not running).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import psutil

from embodied_ai.errors import InvalidRequest
from embodied_ai.timeseries import Window, epoch_ms, parse_window

log = logging.getLogger(__name__)

SAMPLE_PERIOD_S = 10.0
RETENTION_S = 86_400.0

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class SystemSample:
    at_ms: int          # epoch milliseconds
    cpu: float          # fraction of all cores busy since the previous sample, 0..1
    memory: float       # fraction of memory in use, 0..1


@dataclass(frozen=True)
class Series:
    values: tuple[float, ...]
    timestamps: tuple[str, ...]     # each value's bucket start, UTC ISO-8601


@dataclass(frozen=True)
class SystemSeries:
    window: Window
    cpu_usage: Series
    memory_usage: Series


def _fraction_problem(name: str, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        return f"{name}: {value!r} is not a number from 0 to 1"
    return None


class SystemSampler:
    """The ring of samples and the thread that fills it; safe to share between threads."""

    def __init__(self, period_s: float = SAMPLE_PERIOD_S, retention_s: float = RETENTION_S,
                 clock: Clock = _utc_now) -> None:
        if not period_s > 0 or not retention_s >= period_s:
            raise ValueError("period_s must be > 0 and retention_s >= period_s")
        self.period_s = period_s
        self._clock = clock
        self._samples: deque[SystemSample] = deque(maxlen=math.ceil(retention_s / period_s))
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def capacity(self) -> int:
        return self._samples.maxlen or 0

    # -- the thread ---------------------------------------------------------------------
    def start(self) -> None:
        """Sample every ``period_s`` until ``stop`` (a second start while running does nothing)."""
        if self._thread is not None:
            return
        psutil.cpu_percent(interval=None)   # the first reading only starts psutil's interval
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="system-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self.period_s):
            try:
                self.sample()
            except Exception:   # a failed reading loses one sample, never the sampler
                log.exception("could not sample the system's CPU and memory use")

    # -- writing --------------------------------------------------------------------------
    def sample(self) -> SystemSample:
        """Read the machine's CPU and memory use now and record it."""
        return self.record(psutil.cpu_percent(interval=None) / 100.0, psutil.virtual_memory().percent / 100.0)

    def record(self, cpu: float, memory: float, at: datetime | None = None) -> SystemSample:
        """One sample (fractions 0..1) taken at ``at`` (timezone-aware; default now); the oldest sample leaves a
        full ring. InvalidRequest lists every problem."""
        problems = [p for p in (_fraction_problem("cpu", cpu), _fraction_problem("memory", memory)) if p]
        if at is not None and (not isinstance(at, datetime) or at.utcoffset() is None):
            problems.append(f"at: {at!r} is not a datetime with a timezone")
        if problems:
            raise InvalidRequest("invalid system sample", problems)
        sample = SystemSample(epoch_ms(self._clock() if at is None else at), float(cpu), float(memory))
        with self._lock:
            self._samples.append(sample)
        return sample

    # -- reading ----------------------------------------------------------------------------
    def samples(self) -> list[SystemSample]:
        """The ring's samples, in the order they were recorded."""
        with self._lock:
            return list(self._samples)

    def current(self) -> SystemSample:
        """The latest sample if it is at most ``period_s`` old, else one taken now."""
        with self._lock:
            latest = self._samples[-1] if self._samples else None
        if latest is not None and epoch_ms(self._clock()) - latest.at_ms <= self.period_s * 1000:
            return latest
        return self.sample()

    def series(self, start_time: str | datetime | None = None, end_time: str | datetime | None = None,
               interval: str = "1m") -> SystemSeries:
        """The mean CPU and memory use per bucket of the window (``timeseries.parse_window``: by default the last
        60 intervals of 1m), buckets without a sample left out. InvalidRequest lists every problem of the window."""
        window = parse_window(start_time, end_time, interval, self._clock())
        sums: dict[int, tuple[int, float, float]] = {}
        for sample in self.samples():
            index = window.bucket_of(sample.at_ms)
            if index is not None:
                count, cpu, memory = sums.get(index, (0, 0.0, 0.0))
                sums[index] = (count + 1, cpu + sample.cpu, memory + sample.memory)
        indices = sorted(sums)
        stamps = tuple(window.bucket_start(index) for index in indices)
        return SystemSeries(
            window=window,
            cpu_usage=Series(tuple(sums[i][1] / sums[i][0] for i in indices), stamps),
            memory_usage=Series(tuple(sums[i][2] / sums[i][0] for i in indices), stamps))
