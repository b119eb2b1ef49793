"""A component's diagnostic status (a camera, the detector), set from worker threads.

Nodes publish /diagnostics periodically and, through ``on_change``, at once when the level
changes (a camera lost, a model that failed to load), as diagnostic_updater's
``force_update`` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from embodied_ai.diagnostics import Level, Status

# Called with the new status and whether its level changed.
OnChange = Callable[[Status, bool], None]


def _ignore(_status: Status, _level_changed: bool) -> None:
    pass


class ComponentStatus:
    def __init__(self, name: str, level: Level, message: str, hardware_id: str = "",
                 on_change: OnChange = _ignore) -> None:
        self._status = Status(name, level, message, hardware_id)
        self._lock = threading.Lock()
        self.on_change = on_change

    @property
    def current(self) -> Status:
        return self._status

    def set(self, level: Level, message: str) -> None:
        with self._lock:
            level_changed = level != self._status.level
            self._status = replace(self._status, level=level, message=message)
            status = self._status
        self.on_change(status, level_changed)

    def with_values(self, values: Mapping[str, str]) -> Status:
        """The status with key-value details (counters, the frame id) for /diagnostics."""
        return replace(self._status, values=dict(values))
