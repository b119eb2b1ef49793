"""Checks of the API's envelope ``{success, data, error, timestamp}``."""

from __future__ import annotations

from typing import Any

import httpx


def data(response: httpx.Response) -> Any:
    """The data of a successful answer."""
    body = response.json()
    assert response.status_code < 300 and body["success"] is True and body["error"] is None, body
    assert body["timestamp"]
    return body["data"]


def error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """The error of a failed answer, after checking its status and code."""
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False and body["data"] is None and body["error"]["code"] == code, body
    assert body["error"]["message"] and body["timestamp"]
    error: dict[str, Any] = body["error"]
    return error
