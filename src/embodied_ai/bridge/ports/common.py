"""What every port shares: the errors a call raises, the graph's events, detections, and the
graph's status.

Every port method raises ``GraphUnavailable`` when the node that serves it is not in the
running graph (HTTP 503 with the capability's code), ``GraphTimeout`` when it accepted the
request but did not answer in time (504), and ``EmbodiedError`` with a Robot API code when the node
refused or failed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout, GraphUnavailable, api_error_code

__all__ = ["Detection", "EmbodiedError", "ErrorCode", "EventListener", "GraphEvent", "GraphStatus", "GraphTimeout",
           "GraphUnavailable", "api_error_code"]


@dataclass(frozen=True)
class GraphEvent:
    """Something the graph reported, for the WebSocket channels."""

    channel: str  # "hardware" | "inference" | "training" | "cameras"
    event: str
    data: dict[str, object]


EventListener = Callable[[GraphEvent], None]


@dataclass(frozen=True)
class Detection:
    """One object perception found (in a camera frame, or in an image sent to detect)."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in pixels
    object_id: int = -1  # stable id from the tracker; -1 when untracked


class GraphStatus(Protocol):
    """The graph as a whole: which components answer, and the events it reports."""

    def components(self) -> dict[str, str]:
        """Each graph component the bridge uses -> "ok" | "unavailable" | "not built"."""
        ...

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` for every GraphEvent (from any thread); returns the unsubscribe."""
        ...
