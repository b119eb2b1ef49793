"""Seed 002's LLM routes: generate, chat and the model list over the experts and the router."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.ports.inference import GenerateRequest
from embodied_ai.errors import ErrorCode, GraphUnavailable
from embodied_ai.sdk.client import Client
from embodied_ai.sdk.errors import ApiError
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.served import served_bridge


def test_generate_with_an_expert_answers_seed_002s_shape(client: TestClient, fake: FakeGraph) -> None:
    generated = data(client.post("/v1/ai/llm/generate", json={
        "prompt": "hello there", "model": "math", "max_tokens": 16, "temperature": 0.5, "system": "be brief",
        "parameters": {"top_p": 0.9, "frequency_penalty": 0.0, "stop": ["\n"]}}))
    assert fake.calls[-1] == ("generate", GenerateRequest(prompt="hello there", expert="math", system="be brief",
                                                          max_tokens=16, temperature=0.5, top_p=0.9, stop=["\n"]))
    assert generated["model"] == "math" and generated["generated_text"] == "echo: hello there"
    assert generated["status"] == "completed" and generated["request_id"].startswith("req_")
    metadata = generated["metadata"]
    assert metadata["tokens_used"] == metadata["prompt_tokens"] + metadata["completion_tokens"] == 2 + 3
    assert metadata["processing_time"] == pytest.approx(0.02) and metadata["cost"] == 0.0


def test_auto_lets_the_router_choose(client: TestClient, fake: FakeGraph) -> None:
    generated = data(client.post("/v1/ai/llm/generate", json={"prompt": "2+2?"}))
    assert fake.calls[-1][1].expert == "" and generated["model"] == "general"
    data(client.post("/v1/ai/llm/generate", json={"prompt": "2+2?", "model": "auto"}))
    assert fake.calls[-1][1].expert == ""


def test_generations_count_with_the_other_inference_routes(client: TestClient) -> None:
    client.post("/v1/ai/llm/generate", json={"prompt": "x"})
    client.post("/v1/ai/llm/chat", json={"messages": [{"role": "user", "content": "y"}]})
    client.post("/v1/inference/generate", json={"prompt": "z"})
    assert data(client.get("/v1/monitoring/metrics"))["inference"]["requests_per_minute"] == 3.0
    assert 'embodied_bridge_generated_tokens_total{expert="general"} 6.0' in client.get("/metrics").text


def test_an_unknown_model_is_404_as_inference_answers(client: TestClient) -> None:
    error(client.post("/v1/ai/llm/generate", json={"prompt": "x", "model": "missing"}), 404, 1000)
    error(client.post("/v1/ai/llm/chat", json={"model": "missing", "messages": [{"role": "user", "content": "x"}]}),
          404, 1000)


@pytest.mark.parametrize("body", [
    {"prompt": ""},
    {"prompt": "x", "max_tokens": 0},
    {"prompt": "x", "max_tokens": 4097},
    {"prompt": "x", "temperature": -1},
    {"prompt": "x", "parameters": {"presence_penalty": 0.5}},
    {"prompt": "x", "colour": "blue"},
])
def test_bad_generate_input_is_400(client: TestClient, fake: FakeGraph, body: dict[str, object]) -> None:
    error(client.post("/v1/ai/llm/generate", json=body), 400, 400)
    assert not any(method == "generate" for method, _ in fake.calls)


def test_a_chat_renders_its_turns_as_the_openai_route_does(client: TestClient, fake: FakeGraph) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"}, {"role": "user", "content": "2+2?"}]
    reply = data(client.post("/v1/ai/llm/chat", json={"messages": messages, "max_tokens": 8}))
    ours = fake.calls[-1][1]
    client.post("/v1/chat/completions", json={"model": "auto", "messages": messages, "max_tokens": 8})
    assert ours == fake.calls[-1][1]
    assert ours == GenerateRequest(prompt="User: hi\nAssistant: hello\nUser: 2+2?\nAssistant:", expert="",
                                   system="be brief", max_tokens=8)
    assert reply["request_id"].startswith("req_") and reply["model"] == "general"
    assert reply["choices"] == [{"message": {"role": "assistant", "content": f"echo: {ours.prompt}"},
                                 "finish_reason": "stop"}]
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


@pytest.mark.parametrize("body", [
    {"messages": []},
    {"messages": [{"role": "robot", "content": "x"}]},
    {"messages": [{"role": "user"}]},
    {"messages": [{"role": "user", "content": "x"}], "max_tokens": 5000},
])
def test_bad_chat_input_is_400(client: TestClient, fake: FakeGraph, body: dict[str, object]) -> None:
    error(client.post("/v1/ai/llm/chat", json=body), 400, 400)
    assert not any(method == "generate" for method, _ in fake.calls)


def test_models_are_auto_and_the_experts_the_router_knows(client: TestClient) -> None:
    client.post("/v1/experts/create", json={"name": "general", "domain": "General conversation"})
    client.put("/v1/experts/general", json={"status": "ready"})
    models = data(client.get("/v1/ai/llm/models"))["models"]
    assert [m["id"] for m in models] == ["auto", "general", "math"]
    auto, general, math = models
    assert auto["status"] == "available" and "routing" in auto["capabilities"]
    assert general["status"] == "available" and general["description"] == "General conversation"
    assert math["status"] == "unregistered"
    assert {"name", "description", "max_tokens", "cost_per_token", "capabilities"} <= set(general)
    assert general["max_tokens"] == 4096 and general["cost_per_token"] == 0.0


def test_models_without_the_registry_say_unknown(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("list_experts", GraphUnavailable("list_experts", ErrorCode.EXPERT_NOT_READY, "no experts node"))
    assert {m["status"] for m in data(client.get("/v1/ai/llm/models"))["models"]} == {"unknown"}


def test_without_the_experts_node_everything_is_503(client: TestClient, fake: FakeGraph) -> None:
    unavailable = GraphUnavailable("generate", ErrorCode.EXPERT_NOT_READY, "no experts node")
    fake.fail("generate", unavailable)
    fake.fail("router_statistics", unavailable)
    error(client.post("/v1/ai/llm/generate", json={"prompt": "x"}), 503, 1001)
    error(client.get("/v1/ai/llm/models"), 503, 1001)


def test_the_sdk_generates_chats_and_lists(tmp_path: Path) -> None:
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as sdk:
        generated = sdk.llm.generate("hello", model="math", max_tokens=8, top_p=0.5)
        assert generated.model == "math" and generated.generated_text == "echo: hello"
        reply = sdk.llm.chat([{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "echo: hi" and reply.usage.total_tokens > 0
        assert [m.id for m in sdk.llm.models().models] == ["auto", "general", "math"]
        with pytest.raises(ApiError) as refused:
            sdk.llm.chat([{"role": "robot", "content": "x"}])
        assert refused.value.status == 400
