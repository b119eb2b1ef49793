"""Operations as the bridge reaches them (the jobs node): every node's logs from /rosout."""

from __future__ import annotations

from typing import Any, Protocol

OpsLogView = dict[str, Any]


class OperationsPort(Protocol):
    async def logs(self, service: str | None, level: str | None, since: str | None, until: str | None,
                   limit: int, cursor: str | None) -> tuple[list[OpsLogView], str | None]:
        """A page of lines, newest first, and the next page's cursor (None on the last page);
        InvalidRequest listing every bad parameter."""
        ...
