"""The emergency-stop latch: once triggered, every motion is refused until an explicit reset."""

from __future__ import annotations

import threading

from embodied_ai.errors import SafetyViolation


class EmergencyStop:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reason: str | None = None

    @property
    def latched(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str:
        return self._reason or ""

    def trigger(self, reason: str) -> bool:
        """Latch; returns False when it already was (the first reason is kept)."""
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = reason or "emergency stop"
            return True

    def reset(self) -> bool:
        """Release the latch; returns False when it was not latched."""
        with self._lock:
            was = self._reason is not None
            self._reason = None
            return was

    def check(self) -> None:
        """Raise SafetyViolation while latched."""
        reason = self._reason
        if reason is not None:
            raise SafetyViolation(f"emergency stop is latched ({reason}); call reset_emergency_stop first")
