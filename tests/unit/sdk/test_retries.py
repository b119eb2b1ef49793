"""The SDK retries 429 and 503 (the request was not carried out) and nothing else."""

from __future__ import annotations

import httpx
import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError


def test_429_and_503_are_retried_with_back_off_honouring_retry_after():
    """A transport that answers as a throttled bridge would, twice, then succeeds."""
    answers = [
        httpx.Response(429, headers={"Retry-After": "0"},
                       json={"success": False, "error": {"code": 429, "message": "Rate limit exceeded",
                                                         "retry_after_seconds": 0}}),
        httpx.Response(503, json={"success": False, "error": {"code": 1001, "message": "Expert not ready"}}),
        httpx.Response(200, json={"success": True, "data": {"status": "started", "message": "ok"},
                                  "error": None, "timestamp": "2026-01-06T12:00:00Z"}),
    ]
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return answers[len(seen) - 1]

    with Client(base_url="http://bridge.test", transport=httpx.MockTransport(handler), max_retry_wait_s=0.05) as sdk:
        assert sdk.router.retrain("router.jsonl")["status"] == "started"
    assert seen == ["/v1/router/retrain"] * 3

    seen.clear()
    answers[:] = [httpx.Response(422, json={"success": False, "error": {"code": 4001, "message": "Safety violation"}})]
    with Client(base_url="http://bridge.test", transport=httpx.MockTransport(handler)) as sdk:
        with pytest.raises(ApiError):
            sdk.hardware.move("head_pan", 500)
    assert len(seen) == 1, "a refusal is final: never retried"
