"""Inference and router endpoints against the experts node, when the graph has it (without it
they answer 503, checked in test_bridge_api)."""

from __future__ import annotations

import pytest

from tests.graph.bridge_helpers import base_url as base_url_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import has_action, has_service, wait_for_router_statistics
from tests.graph.bridge_helpers import http as http_fixture  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def experts(client) -> None:
    if not has_action(client, "generate"):
        pytest.skip("no experts node in this graph")


def test_generate_answers_with_the_expert_that_was_used(http, experts):
    response = http.post("/v1/inference/generate", json={"prompt": "What is 7 times 6?", "max_tokens": 12})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["text"] and data["expert_used"] and 0 < data["tokens_generated"] <= 12
    assert data["inference_time_ms"] > 0 and data["finish_reason"] in ("stop", "length")


def test_naming_an_unknown_expert_is_the_seeds_expert_not_found(http, experts):
    response = http.post("/v1/inference/generate", json={"prompt": "hi", "expert_id": "no_such_expert"})
    assert response.status_code == 404 and response.json()["error"]["code"] == 1000, response.text


def test_batch_answers_every_request_in_order(http, experts):
    response = http.post("/v1/inference/batch", json={"max_tokens": 8, "requests": [
        {"id": "a", "prompt": "Say yes."}, {"id": "b", "prompt": "hi", "expert_id": "no_such_expert"}]})
    assert response.status_code == 200, response.text
    a, b = response.json()["data"]["results"]
    assert a["id"] == "a" and a["text"] and a["error"] is None
    assert b["id"] == "b" and b["text"] is None and b["error"]["code"] == 1000
    assert response.json()["data"]["total_time_ms"] >= a["inference_time_ms"]


def test_route_and_router_stats_come_from_the_experts_node(http, client, experts):
    if not has_service(client, "route"):
        pytest.skip("this experts node serves no route service")
    routed = http.post("/v1/router/route", json={"prompt": "Solve the integral of x squared"})
    assert routed.status_code == 200, routed.text
    data = routed.json()["data"]
    assert data["expert"] in data["candidates"] and len(data["scores"]) == len(data["candidates"])
    assert 0.0 <= data["confidence"] <= 1.0
    wait_for_router_statistics(client, http)
    stats = http.get("/v1/router/stats")
    names = {s["expert_name"] for s in stats.json()["data"]["stats"]}
    assert set(data["candidates"]) <= names
