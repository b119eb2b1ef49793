"""Lines as they arrive (from the /rosout subscription's thread), stored in batches: one
transaction a second instead of one a line."""

from __future__ import annotations

import threading

from embodied_ai.ops_logs.models import OpsLogLine
from embodied_ai.ops_logs.store import OpsLogStore


class LogBuffer:
    def __init__(self, store: OpsLogStore) -> None:
        self._store = store
        self._lines: list[OpsLogLine] = []
        self._lock = threading.Lock()

    def add(self, line: OpsLogLine) -> None:
        with self._lock:
            self._lines.append(line)

    def flush(self) -> int:
        """Store what came since the last flush (and prune when due); returns how many lines."""
        with self._lock:
            batch, self._lines = self._lines, []
        return self._store.append(batch)
