"""Seed 003 through the session graph (the jobs node on its local backend): a client written from seed 003
lists the workers, creates a training task, pauses it, resumes it under the same id, reads its metrics,
stops and deletes another, while the WebSocket's ``cluster`` channel carries the control events and the
workers' heartbeats. HTTP → the REST bridge → control_job, get_cluster and cluster_events of the jobs
node. (The ray backend's REST view is tested over a real Ray cluster in tests/unit/distributed.)"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)
from tests.graph.test_bridge_registry import create, registry, rows, unique, upload  # noqa: F401
from tests.graph.test_bridge_streams import ws_messages

TASK_S = 600.0   # a few LoRA steps on the shared, loaded machine (typically well under a minute)


def wait_for_task(http: httpx.Client, task_id: str, until: Any, timeout_s: float = TASK_S) -> dict[str, Any]:  # noqa: F811
    deadline = time.monotonic() + timeout_s
    while True:
        task = http.get(f"/v1/tasks/{task_id}").json()["data"]
        if until(task):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.3)


def test_a_seed_003_client_pauses_resumes_and_stops_tasks(http: httpx.Client, base_url: str,  # noqa: F811
                                                          registry: None) -> None:  # noqa: F811
    clients = http.get("/v1/clients")
    assert clients.status_code == 200 and clients.headers["X-Total-Count"] == "1", clients.text
    (worker,) = clients.json()["data"]["clients"]
    assert worker["id"] == "local" and worker["status"] in ("online", "busy") and worker["last_seen"]
    assert worker["resources"]["cpu_cores"] >= 1
    name = unique("farm")
    create(http, name)
    assert upload(http, name, rows(16)).status_code == 200
    body = {"type": "training", "name": name, "batch_size": 2, "learning_rate": 0.001, "epochs": 1,
            "distributed": False, "requirements": {"min_gpu_memory": 0, "min_cpu_cores": 1, "min_ram": 1},
            "n_clients": 1, "max_steps": 10}
    created: dict[str, Any] = {}

    def pause_and_resume() -> None:
        response = http.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.text
        created.update(response.json()["data"])
        wait_for_task(http, created["id"], lambda t: t["progress"] >= 20)
        paused = http.put(f"/v1/tasks/{created['id']}/status", json={"status": "paused", "reason": "make room"})
        assert paused.status_code == 200 and paused.json()["data"]["requested"] == "paused", paused.text
        wait_for_task(http, created["id"], lambda t: t["status"] == "paused")
        resumed = http.put(f"/v1/tasks/{created['id']}/status", json={"status": "running"})
        assert resumed.status_code == 200, resumed.text
        wait_for_task(http, created["id"], lambda t: t["status"] in ("completed", "failed", "stopped"))

    def controls(messages: list[dict]) -> list[str]:
        return [m["data"]["action"] for m in messages if m.get("channel") == "cluster" and m.get("event") == "control"]
    messages = asyncio.run(ws_messages(base_url, [{"action": "subscribe", "channels": ["cluster"]}],
                                       lambda ms: controls(ms) == ["pause", "resume"] and any(
                                           m.get("event") == "heartbeat" for m in ms),
                                       timeout=TASK_S, during=pause_and_resume))
    assert all(m["data"]["task_id"] == int(created["id"]) for m in messages if m.get("event") == "control")
    task = http.get(f"/v1/tasks/{created['id']}").json()["data"]
    assert (task["status"], task["progress"], task["job_id"]) == ("completed", 100.0, int(created["id"])), task
    metrics = http.get(f"/v1/metrics/tasks/{created['id']}").json()["data"]
    steps = [point["step"] for point in metrics["history"]]
    assert steps == list(range(1, 11)), steps   # paused and resumed: no step twice, none skipped
    assert metrics["metrics"]["loss"] == metrics["history"][-1]["loss"]

    other = http.post("/v1/tasks", json={**body, "max_steps": 200}).json()["data"]
    wait_for_task(http, other["id"], lambda t: t["status"] == "running")
    assert http.put(f"/v1/tasks/{other['id']}/status", json={"status": "stopped"}).status_code == 200
    assert wait_for_task(http, other["id"], lambda t: t["status"] != "running")["status"] == "stopped"
    assert http.put(f"/v1/tasks/{other['id']}/status", json={"status": "running"}).status_code == 409
    assert http.delete(f"/v1/tasks/{other['id']}").status_code == 204
    listed = http.get("/v1/tasks", params={"status": "completed", "limit": 100}).json()["data"]["tasks"]
    assert created["id"] in [t["id"] for t in listed]
