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
