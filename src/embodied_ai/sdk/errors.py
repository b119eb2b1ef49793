"""The error an SDK call raises when the bridge answers with an error envelope."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """``status`` is the HTTP status; ``code`` the Robot API code (1000-4001) or, for protocol
    errors, the HTTP status again; ``retry_after`` is set on 429."""

    def __init__(self, status: int, code: int, message: str, details: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} [{code}] {message}" + (f": {details}" if details else ""))
        self.status, self.code, self.message, self.details = status, code, message, details
        self.retry_after = retry_after

    @classmethod
    def from_body(cls, status: int, body: Any, retry_after: float | None = None) -> ApiError:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status, status, str(body)[:200], retry_after=retry_after)
        return cls(status, int(error.get("code", status)), str(error.get("message", "")), error.get("details"),
                   retry_after if retry_after is not None else error.get("retry_after_seconds"))

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        header = response.headers.get("retry-after")
        retry_after = float(header) if header and header.replace(".", "", 1).isdigit() else None
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return cls.from_body(response.status_code, body, retry_after)
