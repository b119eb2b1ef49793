"""GET /v1/ops/logs over a real logs store in this process: seed 002's shape, filters by node and
minimum level, cursor paging, and every bad parameter listed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from embodied_ai.ops_logs import OpsLogLine
from tests.unit.bridge.fake_ports import FakeGraph


def fill(fake: FakeGraph) -> None:
    lines = [OpsLogLine.from_ros(1_800_000_000 + i, level, name, f"line {i}")
             for i, (level, name) in enumerate([(20, "experts"), (30, "servo_controller"), (40, "experts"),
                                                (20, "asr"), (50, "experts")])]
    fake.operations.store.append(lines)  # type: ignore[union-attr]


def test_logs_by_node_and_minimum_level_with_cursor_paging(client: TestClient, fake: FakeGraph) -> None:
    fill(fake)
    page = client.get("/v1/ops/logs", params={"service": "experts", "level": "error", "limit": 1}).json()["data"]
    [newest] = page["logs"]
    assert newest["level"] == "FATAL" and newest["service"] == "experts" and newest["message"] == "line 4"
    assert newest["timestamp"].endswith("Z") and page["pagination"]["has_more"] is True
    after = client.get("/v1/ops/logs", params={"service": "experts", "level": "error", "limit": 1,
                                              "cursor": page["pagination"]["next_cursor"]}).json()["data"]
    assert [line["message"] for line in after["logs"]] == ["line 2"] and after["pagination"]["has_more"] is False
    everything = client.get("/v1/ops/logs").json()["data"]["logs"]
    assert [line["message"] for line in everything] == [f"line {i}" for i in range(4, -1, -1)]


def test_bad_parameters_are_listed(client: TestClient) -> None:
    response = client.get("/v1/ops/logs", params={"level": "loud", "since": "yesterday", "cursor": "tampered"})
    assert response.status_code == 400
    problems = response.json()["error"]["details"]["problems"]
    assert len(problems) == 3 and any("loud" in p for p in problems)
    assert client.get("/v1/ops/logs", params={"limit": 10_000}).status_code == 400
