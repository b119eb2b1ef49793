"""OpenAI-compatible routes: models, chat completions whole and streamed."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from embodied_ai.bridge.ports.inference import GenerateRequest
from embodied_ai.errors import ErrorCode, GraphUnavailable
from tests.unit.bridge.envelope import error
from tests.unit.bridge.fake_ports import FakeGraph


def test_the_models_are_auto_and_the_experts(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["auto", "general", "math"]


def test_a_chat_completion_renders_the_turns_into_one_prompt(client: TestClient, fake: FakeGraph) -> None:
    completion = client.post("/v1/chat/completions", json={"model": "auto", "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}, {"role": "user", "content": "2+2?"}], "stop": "\n"}).json()
    request = fake.calls[-1][1]
    assert request == GenerateRequest(prompt="User: hi\nAssistant: hello\nUser: 2+2?\nAssistant:", expert="",
                                      system="be brief", stop=["\n"])
    assert completion["object"] == "chat.completion" and completion["model"] == "general"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": f"echo: {request.prompt}"}
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_streamed_completion_is_chunks_then_done(client: TestClient) -> None:
    body = {"model": "math", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with connect_sse(client, "POST", "/v1/chat/completions", json=body) as source:
        payloads = [event.data for event in source.iter_sse()]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "echo: x"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["model"] == "math"


def test_a_completion_without_the_experts_node_is_503(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("generate", GraphUnavailable("generate", ErrorCode.EXPERT_NOT_READY, "no experts node"))
    error(client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}), 503, 1001)
