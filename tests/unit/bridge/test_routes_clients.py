"""Seed 003's clients API and task metrics over a real cluster in this process (ClusterService's local
backend: this machine is the one worker) and a real job system."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.cluster_app import cluster_client


@pytest.fixture
def client(tmp_path: Path, settings: BridgeSettings) -> Iterator[TestClient]:
    with cluster_client(tmp_path, settings) as (test_client, _):
        yield test_client


def test_the_local_worker_listed_and_one(client: TestClient) -> None:
    response = client.get("/v1/clients", params={"limit": 5})
    assert response.status_code == 200
    assert (response.headers["x-total-count"], response.headers["x-page-count"]) == ("1", "1")
    assert "link" not in response.headers
    page = response.json()["data"]
    assert page["backend"] == "local" and (page["total"], page["page"], page["pages"]) == (1, 1, 1)
    [worker] = page["clients"]
    assert worker["id"] == "local" and worker["status"] == "online" and worker["is_head"] is True
    assert worker["resources"]["cpu_cores"] >= 1 and worker["resources"]["ram_mb"] > 0 and worker["last_seen"]
    assert worker["tasks"] == [] and worker["performance"]["completed_tasks"] == 0
    one = client.get("/v1/clients/local").json()["data"]
    assert one["id"] == "local" and set(one) >= {"resources", "performance", "tasks", "last_seen", "version"}
    missing = client.get("/v1/clients/nowhere")
    assert missing.status_code == 404 and "nowhere" in str(missing.json()["error"]["details"])
    assert client.get("/v1/clients", params={"page": 0}).status_code == 400


def test_a_tasks_metrics_and_the_workers_performance(client: TestClient) -> None:
    created = client.post("/v1/tasks", json={"type": "training", "name": "kitchen", "max_steps": 2})
    task_id = created.json()["data"]["id"]
    deadline = time.monotonic() + 10
    while (metrics := client.get(f"/v1/metrics/tasks/{task_id}").json()["data"])["status"] != "completed":
        assert time.monotonic() < deadline, metrics
        time.sleep(0.05)
    assert metrics["task_id"] == int(task_id) and metrics["progress"] == 100.0
    assert metrics["metrics"] == {"step": 2, "epoch": None, "loss": 0.5, "accuracy": 1.0}
    assert [point["loss"] for point in metrics["history"]] == [1.0, 0.5] and metrics["workers"] == []
    performance = client.get("/v1/clients/local").json()["data"]["performance"]
    assert performance["completed_tasks"] == 1 and performance["success_rate"] == 1.0
    missing = client.get("/v1/metrics/tasks/424242")
    assert missing.status_code == 404


def test_the_system_metrics_count_the_clusters_workers(client: TestClient) -> None:
    metrics = client.get("/v1/metrics").json()["data"]
    assert metrics["cluster"] == {"backend": "local", "workers": 1, "online": 1, "busy": 0}
