"""Inference routes: generate, its SSE stream, and batches."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from embodied_ai.bridge.ports.inference import GenerateRequest
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphUnavailable
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph


def test_generate_passes_the_request_and_answers_the_seed_shape(client: TestClient, fake: FakeGraph) -> None:
    generated = data(client.post("/v1/inference/generate", json={
        "prompt": "hello there", "expert_id": 5, "max_tokens": 16, "stop_sequences": ["\n"], "system": "be brief"}))
    assert generated["text"] == "echo: hello there" and generated["expert_used"] == "5"
    assert generated["tokens_generated"] == 3 and generated["finish_reason"] == "stop"
    assert fake.calls[-1] == ("generate", GenerateRequest(prompt="hello there", expert="5", system="be brief",
                                                          max_tokens=16, temperature=0.0, top_p=1.0, stop=["\n"]))


def test_an_unknown_expert_is_404(client: TestClient) -> None:
    error(client.post("/v1/inference/generate", json={"prompt": "x", "expert_id": "missing"}), 404, 1000)


def test_the_stream_sends_tokens_then_the_result(client: TestClient) -> None:
    with connect_sse(client, "POST", "/v1/inference/generate/stream", json={"prompt": "a b"}) as source:
        events = [(event.event, json.loads(event.data)) for event in source.iter_sse()]
    assert [e for e, _ in events] == ["message", "message", "message", "done"]
    assert "".join(d["token"] for e, d in events if e == "message") == "echo: a b"
    assert events[-1][1]["text"] == "echo: a b" and events[-1][1]["tokens_generated"] == 3


def test_a_stream_that_cannot_start_is_a_plain_503(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("generate_stream", GraphUnavailable("generate", ErrorCode.EXPERT_NOT_READY, "no experts node"))
    error(client.post("/v1/inference/generate/stream", json={"prompt": "x"}), 503, 1001)


def test_a_stream_that_fails_midway_ends_with_an_error_event(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("stream_error", EmbodiedError("generate sent nothing for 60 s", ErrorCode.TIMEOUT))
    with connect_sse(client, "POST", "/v1/inference/generate/stream", json={"prompt": "x"}) as source:
        events = list(source.iter_sse())
    assert [e.event for e in events] == ["message", "error"]
    assert json.loads(events[-1].data)["error"]["code"] == 3001


def test_a_batch_answers_each_item_and_reports_failures_inline(client: TestClient) -> None:
    batch = data(client.post("/v1/inference/batch", json={"requests": [
        {"id": "a", "prompt": "one"}, {"id": "b", "prompt": "two", "expert_id": "missing"}]}))
    first, second = batch["results"]
    assert first["id"] == "a" and first["text"] == "echo: one" and first["error"] is None
    assert second["text"] is None and second["error"]["code"] == 1000
    assert "(HTTP 404 alone)" in second["error"]["details"]


def test_a_batch_without_the_experts_node_is_503(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("generate", GraphUnavailable("generate", ErrorCode.EXPERT_NOT_READY, "no experts node"))
    error(client.post("/v1/inference/batch", json={"requests": [{"id": "a", "prompt": "one"}]}), 503, 1001)


@pytest.mark.parametrize("body", [{"prompt": ""}, {"prompt": "x", "top_p": 0}, {"prompt": "x", "max_tokens": 0}])
def test_an_invalid_request_never_reaches_the_graph(client: TestClient, fake: FakeGraph, body: dict) -> None:
    error(client.post("/v1/inference/generate", json=body), 400, 400)
    assert not fake.calls
