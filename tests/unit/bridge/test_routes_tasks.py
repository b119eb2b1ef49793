"""Seed 003's tasks API over a real job system and cluster in this process (a ``training`` test double
that counts steps on the real training config): create, list with seed 003's paging, follow, pause,
resume, stop, delete; bad input refused with every problem; the ``cluster`` WebSocket channel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.cluster_app import cluster_client
from tests.unit.bridge.local_jobs import LocalCluster
from tests.unit.bridge.test_routes_websocket import receive_until


@pytest.fixture
def app(tmp_path: Path, settings: BridgeSettings) -> Iterator[tuple[TestClient, LocalCluster]]:
    with cluster_client(tmp_path, settings) as client_and_cluster:
        yield client_and_cluster


@pytest.fixture
def client(app: tuple[TestClient, LocalCluster]) -> TestClient:
    return app[0]


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/tasks", json={"type": "training", "name": "kitchen", **body})
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def task(client: TestClient, task_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def wait_for(client: TestClient, task_id: str, status: str, timeout: float = 10.0,
             min_progress: float = 0.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := task(client, task_id))["status"] != status or found["progress"] < min_progress:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def set_status(client: TestClient, task_id: str, status: str) -> dict[str, Any]:
    response = client.put(f"/v1/tasks/{task_id}/status", json={"status": status, "reason": "test"})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_a_task_is_paused_resumed_and_completes_with_its_metrics(client: TestClient) -> None:
    created = create(client, batch_size=8, learning_rate=0.01, epochs=2, max_steps=12, url="http://models/k/1.0",
                     version="1.0", requirements={"min_cpu_cores": 1, "min_gpu_memory": 0})
    assert created["status"] == "pending" and created["id"] == str(created["job_id"]) and created["created_at"]
    task_id = created["id"]
    wait_for(client, task_id, "running", min_progress=10.0)
    assert set_status(client, task_id, "paused")["requested"] == "paused"
    paused = wait_for(client, task_id, "paused")
    assert 0 < paused["progress"] < 100
    resumed = set_status(client, task_id, "running")
    assert resumed["status"] == "pending" and resumed["id"] == task_id and resumed["updated_at"]
    done = wait_for(client, task_id, "completed")
    assert done["progress"] == 100.0 and done["type"] == "training" and done["job_id"] == int(task_id)
    assert done["metrics"]["loss"] == pytest.approx(1 / 12) and done["metrics"]["accuracy"] == 1.0
    assert done["config"] == {"name": "kitchen", "batch_size": 8, "learning_rate": 0.01, "epochs": 2.0,
                              "distributed": False, "n_clients": 1, "dataset_id": 0, "max_steps": 12}
    assert done["requirements"] == {"min_cpu_cores": 1} and done["n_clients"] == 1 and done["reason"] == ""


def test_lists_training_tasks_only_with_seed_003_paging_and_status_names(client: TestClient) -> None:
    client.post("/v1/jobs", json={"type": "count", "parameters": {"to": 1}})   # not a task
    first, second = create(client, max_steps=30), create(client, max_steps=1)
    response = client.get("/v1/tasks", params={"limit": 1})
    page = response.json()["data"]
    assert response.headers["x-total-count"] == "2" and response.headers["x-page-count"] == "2"
    assert 'rel="next"' in response.headers["link"] and "page=2" in response.headers["link"]
    assert [t["id"] for t in page["tasks"]] == [second["id"]] and (page["total"], page["page"]) == (2, 1)
    last = client.get("/v1/tasks", params={"limit": 1, "page": 2})
    assert "link" not in last.headers and [t["id"] for t in last.json()["data"]["tasks"]] == [first["id"]]
    assert client.get("/v1/tasks", params={"page": 1000}).json()["data"]["tasks"] == []
    assert client.get("/v1/tasks", params={"page": 10**21, "limit": 94}).status_code == 400   # not an overflow
    wait_for(client, first["id"], "running")
    pending = client.get("/v1/tasks", params={"status": "pending"}).json()["data"]["tasks"]
    assert [t["id"] for t in pending] == [second["id"]]   # queued behind the first
    assert set_status(client, first["id"], "stopped")["requested"] == "stopped"
    wait_for(client, first["id"], "stopped")
    stopped = client.get("/v1/tasks", params={"status": "stopped"}).json()["data"]["tasks"]
    assert [t["id"] for t in stopped] == [first["id"]]
    assert client.get("/v1/tasks", params={"status": "cancelled"}).status_code == 400   # a job's name, not seed 003's


def test_delete_stops_a_task_and_leaves_an_ended_one(client: TestClient) -> None:
    running = create(client, max_steps=30)
    wait_for(client, running["id"], "running")
    deleted = client.delete(f"/v1/tasks/{running['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    wait_for(client, running["id"], "stopped")
    assert client.delete(f"/v1/tasks/{running['id']}").status_code == 204
    assert task(client, running["id"])["status"] == "stopped"


def test_bad_requests_are_refused_with_every_problem(client: TestClient) -> None:
    bad = client.post("/v1/tasks", json={"type": "inference", "name": "", "batch_size": -1, "colour": "red"})
    assert bad.status_code == 400
    problems = {tuple(p["loc"]) for p in bad.json()["error"]["details"]}
    assert problems == {("body", "type"), ("body", "name"), ("body", "batch_size"), ("body", "colour")}
    distributed = client.post("/v1/tasks", json={"type": "training", "name": "k", "distributed": True,
                                                 "n_clients": 4, "batch_size": 2})
    assert distributed.status_code == 400 and "n_clients 4" in str(distributed.json()["error"]["details"])
    task_id = create(client, max_steps=1)["id"]
    wrong = client.put(f"/v1/tasks/{task_id}/status", json={"status": "sleeping"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["problems"] == [
        "status: 'sleeping' is not one of: paused, running, stopped"]
    wait_for(client, task_id, "completed")
    assert client.put(f"/v1/tasks/{task_id}/status", json={"status": "paused"}).status_code == 409   # ended


def test_unknown_tasks_and_other_jobs_are_not_found(client: TestClient) -> None:
    assert client.get("/v1/tasks/424242").status_code == 404
    assert client.put("/v1/tasks/424242/status", json={"status": "paused"}).status_code == 404
    assert client.delete("/v1/tasks/424242").status_code == 404
    job_id = client.post("/v1/jobs", json={"type": "count", "parameters": {"to": 1}}).json()["data"]["job_id"]
    other = client.get(f"/v1/tasks/{job_id}")
    assert other.status_code == 404 and "count job" in str(other.json()["error"]["details"])
    assert client.put(f"/v1/tasks/{job_id}/status", json={"status": "stopped"}).status_code == 404
    assert client.delete(f"/v1/tasks/{job_id}").status_code == 404


def test_the_cluster_channel_carries_the_clusters_events(app: tuple[TestClient, LocalCluster]) -> None:
    client, cluster = app
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "subscribe", "channels": ["cluster"]})
        assert socket.receive_json()["channels"] == ["cluster"]
        cluster.service.sample()   # one heartbeat of each worker (here: this machine)
        heartbeat = receive_until(socket, "cluster", "heartbeat")["data"]
        assert heartbeat["client_id"] == "local" and set(heartbeat["system_info"]) == {
            "cpu_usage", "ram_usage", "gpu_usage"} and heartbeat["timestamp"]
