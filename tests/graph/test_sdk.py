"""The Python SDK (the Robot API's example) against the graph's bridge (retries: tests/unit/sdk/test_retries.py)."""

from __future__ import annotations

import math
import uuid

import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError
from tests.graph.bridge_helpers import base_url as base_url_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import has_action, has_service, ros_position_deg
from tests.graph.bridge_helpers import http as http_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import robot_at_rest as robot_at_rest_fixture  # noqa: F401 (a fixture)


@pytest.fixture
def sdk(base_url, http) -> Client:  # http: the bridge has seen the controller
    with Client(base_url=base_url, max_retries=0) as client:
        yield client


def test_hardware_move_sensors_and_grasp(sdk, client, robot_at_rest):
    moved = sdk.hardware.move("elbow_pitch_r", 25.0, duration_ms=500)
    assert moved.angle == pytest.approx(25.0, abs=2.0)
    assert ros_position_deg(client, "elbow_pitch_r") == pytest.approx(25.0, abs=1.5)
    sensors = sdk.hardware.sensors()
    assert sensors.joint_positions["elbow_pitch_r"] == pytest.approx(25.0, abs=1.5)
    assert math.isfinite(sensors.temperatures["elbow_pitch_r"])
    grasp = sdk.hardware.grasp(force=4.0)
    assert grasp.grasped and grasp.force_applied == pytest.approx(4.0, abs=1.0)


def test_a_refusal_is_an_api_error_with_the_seed_code(sdk, robot_at_rest):
    with pytest.raises(ApiError) as error:
        sdk.hardware.move("elbow_pitch_r", 999.0)
    assert error.value.status == 422 and error.value.code == 4001 and "limits" in str(error.value.details)


def test_inference_generate_and_stream_or_expert_not_ready(sdk, client):
    if not has_action(client, "generate"):
        with pytest.raises(ApiError) as error:
            sdk.inference.generate(prompt="Write Rust code", max_tokens=16)
        assert (error.value.status, error.value.code) == (503, 1001)
        with pytest.raises(ApiError):
            list(sdk.inference.stream(prompt="hi"))
        return
    result = sdk.inference.generate(prompt="Write Rust code", max_tokens=16)
    assert result.text and result.expert_used
    stream = sdk.inference.stream(prompt="Name three colours.", max_tokens=16)
    tokens = list(stream)
    assert tokens and stream.result is not None and stream.result.text == "".join(tokens)


def test_experts_registry_and_training_through_the_sdk(sdk, client):
    client.wait_until(lambda: has_service(client, "list_experts"), 300, "the experts node's registry")
    page = sdk.experts.list(status="ready")
    assert "general" in {e.name for e in page.experts} and page.total >= 1
    assert sdk.experts.get("general").current_version >= 1
    created = sdk.experts.create(name=f"sdk_{uuid.uuid4().hex[:6]}", domain="Rust Programming", size="small")
    assert created.id == created.expert_id and created.status == "initializing" and created.estimated_size_gb > 0
    assert sdk.experts.update(created.id, domain="Rust Advanced").domain == "Rust Advanced"
    dataset = sdk.datasets.upload(b'{"prompt": "say hi", "completion": "hi"}\n', expert_id=created.id, name="Hi")
    assert dataset.num_samples == 1
    with pytest.raises(ApiError) as unknown:
        sdk.training.status(987654)
    assert (unknown.value.status, unknown.value.code) == (404, 404)
    assert sdk.experts.delete(created.id, hard_delete=True).status == "hard_deleted"
    with pytest.raises(ApiError) as gone:
        sdk.experts.get(created.id)
    assert (gone.value.status, gone.value.code) == (404, 1000)


def test_health_and_metrics(sdk):
    assert sdk.health().components["servo_controller"] == "ok"
    assert sdk.monitoring.metrics().system.ram_total_gb > 0
