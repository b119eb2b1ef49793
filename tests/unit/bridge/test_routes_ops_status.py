"""Seed 002's operations status (GET /v1/ops/status) and detailed health (GET /v1/health/comprehensive)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.alerts import AlertLog, conditions
from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.model_files import shipped_model_files
from embodied_ai.bridge.ports.hardware import SensorSnapshot
from embodied_ai.bridge.routes.ops import uptime_text
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.errors import ErrorCode, GraphUnavailable
from embodied_ai.sdk.client import Client
from tests.unit.bridge.envelope import data
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.served import served_bridge
from tests.unit.bridge.stored_jobs import StoredJobs


class AbsentJobs:
    """The jobs port while the jobs node is not in the graph."""

    def __getattr__(self, name: str) -> Any:
        async def absent(*args: object) -> None:
            raise GraphUnavailable("list_jobs", ErrorCode.TRAINING_FAILED, "the jobs node is not running")
        return absent


class HotGraph(FakeGraph):
    """The fake graph whose servo controller has stopped a joint over its temperature limit."""

    def sensors(self) -> SensorSnapshot:
        return replace(super().sensors(), temperatures={"elbow_pitch_r": 72.0},
                       joint_faults={"elbow_pitch_r": "over-temperature 72.0 C > 70.0 C"})


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[StoredJobs]:
    jobs = StoredJobs(tmp_path / "stored.sqlite")
    yield jobs
    jobs.close()


def components_of(alerts: list[dict[str, Any]]) -> list[str]:
    return [alert["component"] for alert in alerts if alert["component"] != "memory"]   # the machine's own


def test_status_answers_seed_002s_fields(client: TestClient) -> None:
    status = data(client.get("/v1/ops/status"))
    assert components_of(status["alerts"]) == []
    assert status["system_status"] == ("degraded" if status["alerts"] else "healthy")
    assert status["uptime"] == "0m" and status["uptime_seconds"] >= 0
    assert (status["active_jobs"], status["queued_jobs"], status["failed_jobs_24h"]) == (0, 0, 0)
    use = status["resource_utilization"]
    assert 0 <= use["cpu"] <= 100 and 0 < use["memory"] <= 100 and 0 < use["disk"] <= 100 and use["gpu"] is None


def test_jobs_are_counted_by_status_and_failures_in_the_last_day(fake: FakeGraph, settings: BridgeSettings,
                                                                 stored: StoredJobs) -> None:
    stored.clock.now = datetime.now(timezone.utc) - timedelta(hours=30)
    stored.failed("training")                    # failed 30 hours ago: not counted
    stored.clock.advance(29 * 3600)
    stored.failed("pipeline")
    stored.running("pipeline")
    stored.queued("training")
    stored.pending("training")
    with TestClient(create_app(replace(fake.ports(), jobs=stored), settings)) as client:
        status = data(client.get("/v1/ops/status"))
    assert (status["active_jobs"], status["queued_jobs"], status["failed_jobs_24h"]) == (1, 2, 1)


def test_a_latched_emergency_stop_is_a_critical_alert_until_reset(client: TestClient) -> None:
    client.post("/v1/hardware/emergency_stop")
    first = data(client.get("/v1/ops/status"))
    again = data(client.get("/v1/ops/status"))
    assert components_of(again["alerts"]) == ["emergency_stop"]
    alert = again["alerts"][0]
    assert alert["level"] == "critical" and "latched: operator" in alert["message"]
    assert alert["since"] == first["alerts"][0]["since"] and again["system_status"] == "degraded"
    client.post("/v1/hardware/emergency_stop/reset")
    assert components_of(data(client.get("/v1/ops/status"))["alerts"]) == []


def test_a_joint_stopped_over_temperature_is_an_alert(tmp_path: Path, settings: BridgeSettings) -> None:
    from tests.unit.bridge.local_jobs import LocalJobs

    jobs = LocalJobs(tmp_path / "jobs")
    try:
        graph = HotGraph(jobs, jobs.webhooks, jobs.operations)
        with TestClient(create_app(graph.ports(), settings)) as client:
            alerts = data(client.get("/v1/ops/status"))["alerts"]
    finally:
        jobs.close()
    assert [(a["level"], a["component"]) for a in alerts if a["component"] != "memory"] == [
        ("critical", "elbow_pitch_r")]
    assert "over-temperature 72.0 C" in alerts[0]["message"]


def test_a_missing_node_and_the_jobs_node_away(fake: FakeGraph, settings: BridgeSettings) -> None:
    fake.fail("sensors", GraphUnavailable("joint_states", ErrorCode.HARDWARE_ERROR, "no controller"))
    with TestClient(create_app(replace(fake.ports(), jobs=AbsentJobs()), settings)) as client:
        status = data(client.get("/v1/ops/status"))
    assert status["system_status"] == "unhealthy"
    assert status["active_jobs"] is status["queued_jobs"] is status["failed_jobs_24h"] is None
    servo = [a for a in status["alerts"] if a["component"] == "servo_controller"]
    assert servo[0]["level"] == "critical" and servo[0]["message"] == "servo_controller is unavailable"


def test_memory_above_90_percent_is_a_warning_that_keeps_its_start() -> None:
    log, start = AlertLog(), datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert conditions({"servo_controller": "ok", "gpu": "absent"}, "servo_controller", 90.0, None) == []
    hot = conditions({"servo_controller": "ok", "experts": "starting"}, "servo_controller", 93.5, None)
    assert [(c.level, c.component) for c in hot] == [("warning", "experts"), ("warning", "memory")]
    assert log.observe(hot, start)[1].since == start
    later = log.observe(conditions({}, "servo_controller", 95.0, None), start + timedelta(minutes=5))
    assert [(a.component, a.since, a.message) for a in later] == [("memory", start, "memory use 95.0 % is above 90 %")]
    assert log.observe([], start) == []


def test_uptime_is_written_as_seed_002_writes_it() -> None:
    assert uptime_text(59) == "0m" and uptime_text(3 * 3600 + 120) == "3h 2m"
    assert uptime_text(((7 * 24 + 14) * 60 + 32) * 60 + 5) == "7d 14h 32m"


def test_comprehensive_health_reads_the_machine_database_and_model_files(client: TestClient) -> None:
    health = data(client.get("/v1/health/comprehensive"))
    assert health["components"] == client.get("/v1/health").json()["components"]
    assert health["database"]["status"] == "connected" and health["database"]["latency_ms"] >= 0
    system = health["system_metrics"]
    assert 0 < system["memory_usage"] <= 100 and 0 < system["disk_usage"] <= 100
    assert system["network_io"]["bytes_received"] >= 0 and system["network_io"]["packets_sent"] >= 0
    files = {(f["model"], f["part"]): f for f in health["model_files"]}
    tabletop = files[("tabletop", "int8")]
    assert tabletop["status"] == "ok" and tabletop["size_bytes"] == Path(tabletop["path"]).stat().st_size
    assert files[("router_gate", "gate")]["status"] == "ok" and files[("math", "adapter")]["status"] == "ok"
    assert files[("experts_base", "onnx")]["status"] in ("ok", "missing")   # built by setup, not by the tests
    problems = any(f["status"] != "ok" for f in health["model_files"])
    assert health["status"] == ("degraded" if problems else "healthy") and health["version"]


def test_comprehensive_health_without_the_jobs_node(fake: FakeGraph, settings: BridgeSettings) -> None:
    with TestClient(create_app(replace(fake.ports(), jobs=AbsentJobs()), settings)) as client:
        health = data(client.get("/v1/health/comprehensive"))
    assert health["status"] == "degraded"
    database = health["database"]
    assert database["status"] == "unavailable" and database["latency_ms"] is None
    assert database["detail"].startswith("the jobs node is not running")


def test_a_file_a_manifest_names_that_is_not_there_is_missing(tmp_path: Path) -> None:
    (tmp_path / "detector").mkdir()
    (tmp_path / "detector" / "fp32.onnx").write_bytes(b"12345")
    (tmp_path / "detector" / "manifest.yaml").write_text("name: detector\nfiles: {fp32: fp32.onnx, int8: int8.onnx}\n")
    (tmp_path / "experts" / "chemistry").mkdir(parents=True)
    (tmp_path / "experts" / "chemistry" / "manifest.yaml").write_text("name: chemistry\nkind: adapter\n")
    found = {(f.model, f.part): (f.status, f.size_bytes) for f in shipped_model_files(tmp_path)}
    assert found == {("detector", "fp32"): ("ok", 5), ("detector", "int8"): ("missing", None),
                     ("chemistry", "adapter"): ("missing", None)}


def test_the_sdk_reads_the_status_and_the_comprehensive_health(tmp_path: Path) -> None:
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as sdk:
        status = sdk.ops.status()
        assert status.active_jobs == 0 and status.resource_utilization.gpu is None
        health = sdk.monitoring.comprehensive()
        assert health.database.status == "connected" and health.model_files
