"""Event listeners of a store: subscribe, unsubscribe, and call them all after a change.

A listener runs on the thread that emits (a store's writer, after its commit), so it should be
short: one that raises is logged and the others are still called, since a subscriber's bug must
not undo or hide a write that has already succeeded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Listeners(Generic[T]):
    """Listeners ``listener(item, event)``; safe to share between threads."""

    def __init__(self, logger: logging.Logger, describe: Callable[[T], str]) -> None:
        """``logger`` logs a failing listener, naming the item as ``describe(item)`` says (e.g. ``job 7``)."""
        self._logger = logger
        self._describe = describe
        self._lock = threading.Lock()
        self._listeners: list[Callable[[T, str], None]] = []

    def add(self, listener: Callable[[T, str], None]) -> Callable[[], None]:
        """Subscribe ``listener``; returns a function that unsubscribes it (calling it again does nothing)."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def emit(self, item: T, event: str) -> None:
        """Call every listener subscribed now with ``(item, event)``, in the order they subscribed."""
        # A copy: a listener may unsubscribe (or subscribe another) while it runs.
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(item, event)
            except Exception:
                self._logger.exception("a listener of %s for %s failed", event, self._describe(item))
