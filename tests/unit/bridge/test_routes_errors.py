"""Every answer is the envelope: Robot API codes mapped to HTTP statuses, a missing capability is
503 with its code, a deadline 504, protocol errors carry their status as the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout, GraphUnavailable
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph


def test_a_success_is_enveloped(client: TestClient) -> None:
    body = client.post("/v1/router/route", json={"prompt": "2+2"}).json()
    assert set(body) == {"success", "data", "error", "timestamp"}
    assert body["success"] is True and body["error"] is None and body["data"]["expert"] == "math"


@pytest.mark.parametrize("method, request_args, code", [
    ("sensors", ("GET", "/v1/hardware/sensors", None), ErrorCode.HARDWARE_ERROR),
    ("generate", ("POST", "/v1/inference/generate", {"prompt": "hi"}), ErrorCode.EXPERT_NOT_READY),
    ("list_experts", ("GET", "/v1/experts/list", None), ErrorCode.EXPERT_NOT_READY),
    ("synthesize", ("POST", "/v1/audio/synthesize", {"text": "hi"}), ErrorCode.INFERENCE_FAILED),
])
def test_a_missing_capability_is_503_with_its_code(client: TestClient, fake: FakeGraph, method: str,
                                                   request_args: tuple, code: ErrorCode) -> None:
    fake.fail(method, GraphUnavailable(method, code, "its node is not running"))
    verb, path, body = request_args
    response = client.request(verb, path, json=body)
    missing = error(response, 503, int(code))
    assert f"'{method}' is not available in the running ROS graph" in missing["details"]
    assert response.headers["retry-after"] == "5" and missing["retry_after_seconds"] == 5


def test_a_deadline_is_504(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("move_joints", GraphTimeout("move_joints did not answer within 40 s"))
    timed_out = error(client.post("/v1/hardware/servo/move", json={"joint_name": "elbow_pitch_r", "angle": 1.0}),
                      504, 3001)
    assert timed_out == {"code": 3001, "message": "Timeout", "details": "move_joints did not answer within 40 s",
                         "retry_after_seconds": None, "error_code": "TIMEOUT"}


@pytest.mark.parametrize("code, status, name", [
    (ErrorCode.EXPERT_NOT_FOUND, 404, "NOT_FOUND"), (ErrorCode.EXPERT_NOT_READY, 503, "MODEL_NOT_LOADED"),
    (ErrorCode.DATASET_INVALID, 400, "DATASET_ERROR"), (ErrorCode.HARDWARE_ERROR, 409, "HARDWARE_ERROR"),
    (ErrorCode.INFERENCE_FAILED, 422, "INFERENCE_ERROR"), (ErrorCode.NOT_FOUND, 404, "NOT_FOUND"),
    (ErrorCode.CONFLICT, 409, "CONFLICT"), (ErrorCode.TRAINING_FAILED, 422, "TRAINING_ERROR")])
def test_seed_codes_map_to_statuses(client: TestClient, fake: FakeGraph, code: ErrorCode, status: int,
                                    name: str) -> None:
    """Seed 000's numeric code, its HTTP status, and seeds 002 / 004's string code beside them."""
    fake.fail("route", EmbodiedError("refused", code))
    refused = error(client.post("/v1/router/route", json={"prompt": "x"}), status, int(code))
    assert refused["details"] == "refused" and refused["error_code"] == name


def test_protocol_errors_carry_their_status(client: TestClient) -> None:
    error(client.get("/v1/no/such/route"), 404, 404)
    error(client.post("/v1/router/route", content=b"{", headers={"content-type": "application/json"}), 400, 400)
    error(client.post("/v1/router/route", json={"prompt": "x", "extra": 1}), 400, 400)  # unknown fields refused


def test_a_bug_is_a_500_in_the_envelope(fake: FakeGraph, tmp_path: Path) -> None:
    fake.fail("route", RuntimeError("a bug"))  # type: ignore[arg-type]
    app = create_app(fake.ports(), BridgeSettings(state_dir=tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert error(client.post("/v1/router/route", json={"prompt": "x"}), 500, 500)["details"] == "RuntimeError"


def test_a_body_over_the_upload_limit_is_413(client: TestClient) -> None:
    error(client.post("/v1/router/route", content=b"x" * 200 * 1024, headers={"content-type": "application/json"}),
          413, 413)


def test_api_keys_are_required_once_one_exists(fake: FakeGraph, tmp_path: Path) -> None:
    settings = BridgeSettings(state_dir=tmp_path)
    with TestClient(create_app(fake.ports(), settings)) as client:
        _, secret = ApiKeyStore.in_state_dir(tmp_path).create("ci", "10/minute")
        error(client.get("/v1/hardware/sensors"), 401, 401)
        answer = client.get("/v1/hardware/sensors", headers={"Authorization": f"Bearer {secret}"})
        data(answer)
        assert answer.headers["X-RateLimit-Limit"] == "10"
