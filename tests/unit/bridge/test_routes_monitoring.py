"""Monitoring routes: health from the graph's components, metrics, and Prometheus' /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from embodied_ai.errors import ErrorCode, GraphUnavailable
from tests.unit.bridge.envelope import data
from tests.unit.bridge.fake_ports import FakeGraph


def test_health_is_healthy_with_every_component(client: TestClient) -> None:
    response = client.get("/v1/health")
    health = response.json()
    assert response.status_code == 200 and health["status"] == "healthy"
    assert health["components"]["servo_controller"] == "ok" and health["components"]["api_keys"] == "ok"
    assert health["uptime_seconds"] >= 0


def test_health_without_the_servo_controller_is_unhealthy(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("sensors", GraphUnavailable("joint_states", ErrorCode.HARDWARE_ERROR, "no controller"))
    response = client.get("/v1/health")
    assert response.status_code == 503 and response.json()["status"] == "unhealthy"


def test_liveness_touches_nothing(client: TestClient, fake: FakeGraph) -> None:
    assert client.get("/v1/health/live").json() == {"status": "alive"} and not fake.calls


def test_metrics_count_experts_and_generations(client: TestClient) -> None:
    client.post("/v1/experts/create", json={"name": "a", "domain": "a"})
    client.post("/v1/inference/generate", json={"prompt": "x"})
    metrics = data(client.get("/v1/monitoring/metrics"))
    assert metrics["experts"] == {"total": 1, "active": 0, "training": 0}
    assert metrics["inference"]["requests_per_minute"] == 1.0 and metrics["inference"]["avg_latency_ms"] == 20.0
    assert metrics["system"]["ram_total_gb"] > 0 and metrics["system"]["gpu_usage"] is None


def test_metrics_without_the_registry_say_null(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("list_experts", GraphUnavailable("list_experts", ErrorCode.EXPERT_NOT_READY, "no experts node"))
    assert data(client.get("/v1/monitoring/metrics"))["experts"] == {"total": None, "active": None, "training": None}


def test_prometheus_reads_the_components_and_the_sensors(client: TestClient) -> None:
    client.get("/v1/health/live")
    text = client.get("/metrics").text
    assert 'embodied_component_up{component="servo_controller"} 1.0' in text
    assert 'embodied_motor_temperature_celsius{joint="shoulder_pitch_r"} 35.0' in text
    assert "embodied_emergency_stop_latched 0.0" in text
    assert 'embodied_bridge_request_seconds_count{method="GET",route="/v1/health/live",status="200"} 1.0' in text
