"""One operations log line (what a node wrote to ROS's ``/rosout``), its levels, and the API's time format.

No ROS here: the ``jobs`` node turns each rcl_interfaces/msg/Log into an ``OpsLogLine`` with
``OpsLogLine.from_ros`` and hands batches of them to ``OpsLogStore``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# rcl_interfaces/msg/Log's levels; the store keeps the number, so "at least WARN" is one comparison.
LEVELS: dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}
_NAMES = {severity: name for name, severity in LEVELS.items()}
# Names a client may use for a minimum level besides LEVELS' own (Python's logging says WARNING).
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}

# A node that logs a huge message (a whole array) must not fill the database; the rest is cut.
MAX_MESSAGE_CHARS = 16_384
TRUNCATED = " ...[truncated]"


def from_ros_levels(level: int) -> str:
    """A ROS numeric level (10, 20, 30, 40, 50) as its name; a number between two levels takes the lower
    one's name (an unset 0 is DEBUG), so a line is never dropped for an odd level."""
    for severity in sorted(_NAMES, reverse=True):
        if level >= severity:
            return _NAMES[severity]
    return "DEBUG"


def level_name(value: str) -> str | None:
    """``value`` as one of LEVELS' names, case-insensitive ("warn", "Warning"); None if it is no level."""
    name = value.strip().upper()
    name = _ALIASES.get(name, name)
    return name if name in LEVELS else None


def service_of(logger: str) -> str:
    """The node a logger name belongs to: its name up to the first '.' (``servo_controller.control``
    -> ``servo_controller``)."""
    return logger.split(".", 1)[0]


def iso_z(epoch_s: float) -> str:
    """Epoch seconds as ISO-8601 UTC with milliseconds and a Z ("2024-01-01T12:00:00.000Z")."""
    moment = datetime.fromtimestamp(epoch_s, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_instant(value: str | float | int, name: str) -> tuple[float | None, str | None]:
    """``value`` (ISO-8601 with a timezone, or epoch seconds as a number or numeric text) as epoch seconds;
    ``(None, problem)`` when it is neither."""
    if isinstance(value, bool):
        return None, f"{name}: {value!r} is not a time"
    if isinstance(value, (int, float)):
        return (float(value), None) if math.isfinite(value) else (None, f"{name}: {value!r} is not a finite time")
    if not isinstance(value, str) or not value.strip():
        return None, f"{name}: {value!r} is not a time (ISO-8601 with a timezone, or epoch seconds)"
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return (number, None) if math.isfinite(number) else (None, f"{name}: '{value}' is not a finite time")
    try:
        # Python 3.10's fromisoformat does not read "Z".
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None, f"{name}: '{value}' is not an ISO-8601 time such as 2024-01-01T12:00:00Z, nor epoch seconds"
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time would be read in whichever zone the host has.
        return None, f"{name}: '{value}' needs a timezone, e.g. a trailing Z"
    return moment.timestamp(), None


@dataclass(frozen=True)
class OpsLogLine:
    """One line of a node's log. ``service`` is the node (see ``service_of``), ``logger`` the full logger
    name, ``details`` what else the line carries (``file``, ``function``, ``line`` from /rosout)."""

    timestamp: float  # epoch seconds, the publisher's stamp
    level: str        # one of LEVELS' names
    service: str
    logger: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level {self.level!r} is not one of {', '.join(LEVELS)}")
        if not math.isfinite(self.timestamp):
            raise ValueError(f"timestamp {self.timestamp!r} is not finite")

    @classmethod
    def from_ros(cls, stamp_s: float, level: int, name: str, msg: str, file: str = "", function: str = "",
                 line: int = 0) -> OpsLogLine:
        """A line from the fields of an rcl_interfaces/msg/Log (``stamp_s`` = sec + nanosec * 1e-9)."""
        return cls(timestamp=float(stamp_s), level=from_ros_levels(int(level)), service=service_of(name),
                   logger=name, message=msg, details={"file": file, "function": function, "line": int(line)})
