"""The alerts of ``GET /v1/ops/status``: what needs an operator now, each with the time the bridge first saw it.

An alert holds while its condition does: a component of ``GET /v1/health`` that is not ok (starting, unavailable;
critical for the essential one, the servo controller, without which the robot cannot be driven), memory use above
``MEMORY_ALERT_PERCENT``, the emergency stop latched, and a joint the servo controller has stopped (a motor over
its temperature limit, a bus fault: the controller's own judgement with its configured limits, so the bridge
keeps no second copy of them). ``since`` is when the bridge first observed the condition, in this process;
a condition that clears and returns starts again."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from embodied_ai.bridge.ports.hardware import SensorSnapshot

MEMORY_ALERT_PERCENT = 90.0
IGNORED_COMPONENT_STATES = {"gpu": {"absent"}}   # a machine without a GPU is not a fault
AlertLevel = Literal["warning", "critical"]


@dataclass(frozen=True)
class Condition:
    level: AlertLevel
    component: str
    kind: str           # with component, what keeps an alert's ``since`` while its message changes
    message: str


@dataclass(frozen=True)
class Alert:
    level: AlertLevel
    component: str
    message: str
    since: datetime


def conditions(components: dict[str, str], essential: str, memory_percent: float,
               sensors: SensorSnapshot | None) -> list[Condition]:
    """What is wrong now: a component not ok is critical when it is ``essential``; ``sensors`` None while the
    servo controller's state cannot be read."""
    found = [Condition("critical" if name == essential else "warning", name, "component",
                       f"{name} is {state}")
             for name, state in components.items()
             if state != "ok" and state not in IGNORED_COMPONENT_STATES.get(name, set())]
    if memory_percent > MEMORY_ALERT_PERCENT:
        found.append(Condition("warning", "memory", "memory",
                               f"memory use {memory_percent:.1f} % is above {MEMORY_ALERT_PERCENT:.0f} %"))
    if sensors is not None:
        if sensors.emergency_stop:
            reason = f": {sensors.emergency_stop_reason}" if sensors.emergency_stop_reason else ""
            found.append(Condition("critical", "emergency_stop", "latched",
                                   f"the emergency stop is latched{reason}; every motion is refused until reset"))
        found.extend(Condition("critical", joint, "joint_fault", f"{joint} stopped by the servo controller: {fault}")
                     for joint, fault in sorted(sensors.joint_faults.items()))
    return found


class AlertLog:
    """When each current condition was first seen; safe to share between requests."""

    def __init__(self) -> None:
        self._first_seen: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def observe(self, current: list[Condition], now: datetime | None = None) -> list[Alert]:
        """The alerts for ``current``, critical first; conditions no longer current are forgotten."""
        now = now or datetime.now(timezone.utc)
        with self._lock:
            keys = {(c.component, c.kind) for c in current}
            self._first_seen = {k: v for k, v in self._first_seen.items() if k in keys}
            alerts = [Alert(c.level, c.component, c.message,
                            self._first_seen.setdefault((c.component, c.kind), now)) for c in current]
        return sorted(alerts, key=lambda a: a.level != "critical")
