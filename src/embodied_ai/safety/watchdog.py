"""Command-stream watchdog: a stream that falls silent for longer than the timeout has expired."""

from __future__ import annotations

from collections.abc import Callable


class Watchdog:
    def __init__(self, timeout_s: float, clock: Callable[[], float]) -> None:
        if timeout_s <= 0:
            raise ValueError("watchdog timeout must be positive")
        self.timeout_s = timeout_s
        self._clock = clock
        self._last_kick: float | None = None

    def kick(self) -> None:
        self._last_kick = self._clock()

    def disarm(self) -> None:
        self._last_kick = None

    @property
    def armed(self) -> bool:
        return self._last_kick is not None

    def expired(self) -> bool:
        """True once the time since the last kick exceeds the timeout (never while disarmed)."""
        return self._last_kick is not None and self._clock() - self._last_kick > self.timeout_s
