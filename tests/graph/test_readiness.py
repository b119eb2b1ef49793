"""Honest readiness: a bridge whose graph has not come up yet says so. Every capability answers
503 with its code and Retry-After, and /v1/health names each missing component; nothing answers
200 for work that was not done. The bridge runs alone, on a domain of its own."""

from __future__ import annotations

import time

import httpx

from tests.graph.conftest import LaunchedGraph, bridge_options, bridge_url, private_domain_id

REQUESTS = [
    ("POST", "/v1/hardware/servo/move", {"joint_name": "head_pan", "angle": 10.0}, 4000),
    ("GET", "/v1/hardware/sensors", None, 4000),
    ("POST", "/v1/inference/generate", {"prompt": "hello", "max_tokens": 4}, 1001),
    ("POST", "/v1/router/route", {"prompt": "raise your arm"}, 1001),
    ("POST", "/v1/audio/synthesize", {"text": "hello"}, 3000),
]


def test_a_bridge_without_its_graph_answers_503_with_retry_after(tmp_path) -> None:
    domain = private_domain_id()
    bridge = LaunchedGraph("--only", "rest_bridge", *bridge_options(tmp_path), env={"ROS_DOMAIN_ID": str(domain)})
    try:
        with httpx.Client(base_url=bridge_url(bridge), timeout=30) as http:
            health = http.get("/v1/health").json()
            assert health["components"]["servo_controller"] == "unavailable"
            assert health["components"]["experts"] == "unavailable" and health["status"] != "healthy"
            for method, path, body, code in REQUESTS:
                began = time.monotonic()
                response = http.request(method, path, json=body)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["retry-after"] == "5", path
                error = response.json()["error"]
                assert error["code"] == code and error["retry_after_seconds"] == 5, (path, error)
                assert time.monotonic() - began < 10, f"{path} waited for a server that is not there"
    finally:
        assert bridge.stop() == 0, bridge.output[-2000:]


def test_a_node_that_is_up_but_not_serving_is_starting(tmp_path) -> None:
    """An experts node that waits, unconfigured, for its lifecycle manager (autostart off): it is
    in the graph but serves nothing. Health says "starting" for what it serves, and a request
    answers 503 with the capability's code, Retry-After and why, never a 200 that did nothing."""
    domain = private_domain_id()
    graph = LaunchedGraph("--only", "rest_bridge", "--only", "experts", *bridge_options(tmp_path),
                          "--set", f"experts.state_dir={tmp_path}", "--set", "experts.autostart=false",
                          env={"ROS_DOMAIN_ID": str(domain)})
    try:
        with httpx.Client(base_url=bridge_url(graph), timeout=30) as http:
            deadline = time.monotonic() + 30
            while (components := http.get("/v1/health").json()["components"])["experts"] != "starting":
                assert time.monotonic() < deadline, components
                time.sleep(0.5)
            assert components["router"] == "starting" and components["servo_controller"] == "unavailable"
            response = http.post("/v1/inference/generate", json={"prompt": "hello", "max_tokens": 4})
            assert response.status_code == 503 and response.headers["retry-after"] == "5", response.text
            error = response.json()["error"]
            assert error["code"] == 1001 and "experts node is starting" in error["details"], error
    finally:
        assert graph.stop() == 0, graph.output[-2000:]
