"""Seed 001's Training API over HTTP, on an in-process job system with the real skills' kinds: a
tiny q_learning task is created, followed to its end with its episode metrics, reconciled (seed
001's figures), and refused clearly when the request is bad or the task has nothing to reconcile."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

TASK: dict[str, Any] = {"name": "head-tracking", "model_type": "q_learning", "total_episodes": 4,
                        "parameters": {"learning_rate": 0.5, "discount_factor": 0.9},
                        "env_config": {"max_episode_steps": 5, "control_rate_hz": 5.0}, "seed": 3,
                        "wandb_project": "skills"}


def until_ended(client: TestClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (task := client.get(f"/v1/training/{task_id}").json()["data"])["status"] in ("created", "running"):
        assert time.monotonic() < deadline, task
        time.sleep(0.1)
    return task


def test_a_task_trains_reports_its_episodes_and_reconciles(client: TestClient) -> None:
    created = client.post("/v1/training", json=TASK)
    assert created.status_code == 201, created.text
    task_id = created.json()["data"]["task_id"]
    assert isinstance(task_id, str) and created.json()["data"]["status"] == "created"
    task = until_ended(client, task_id)
    assert task["status"] == "completed" and task["current_episode"] == task["total_episodes"] == 4, task
    assert task["progress"] == 1.0 and task["model_type"] == "q_learning" and task["model_id"]
    metrics = task["metrics"]
    assert len(metrics["episode_rewards"]) == len(metrics["episode_steps"]) == len(metrics["episode_latencies"]) == 4
    assert all(steps == 5 for steps in metrics["episode_steps"])
    model = client.get(f"/v1/models/{task['model_id']}").json()["data"]
    assert model["kind"] == "policy" and {"onnx_policy", "contract"} <= set(model["exports"])

    reconciled = client.post(f"/v1/training/{task_id}/reconcile", params={"sample_size": 10, "group_id": "g1"})
    assert reconciled.status_code == 200, reconciled.text
    data = reconciled.json()["data"]
    assert data["task_id"] == task_id and data["sample_size"] == 10 and data["group_id"] == "g1"
    assert set(data["metrics"]) == {"avg_reward", "reward_std", "avg_latency", "latency_std", "avg_throughput",
                                    "success_rate", "adaptation_score"}
    assert data["model_weights_path"].endswith(f"/models/{task['model_id']}/download?format=onnx_policy")
    cancelled = client.post(f"/v1/training/{task_id}/cancel")
    assert cancelled.status_code == 409 and cancelled.json()["error"]["error_code"] == "CONFLICT"   # it has ended


def test_bad_tasks_are_refused_with_every_problem(client: TestClient) -> None:
    bad = client.post("/v1/training", json={**TASK, "model_type": "sarsa", "total_episodes": -3})
    assert bad.status_code == 400 and bad.json()["error"]["error_code"] == "VALIDATION_ERROR"
    assert len(bad.json()["error"]["details"]["problems"]) >= 2
    assert client.get("/v1/training/424242").status_code == 404
    count = client.post("/v1/jobs", json={"type": "count", "parameters": {"to": 1}}).json()["data"]["job_id"]
    assert client.get(f"/v1/training/{count}").status_code == 404            # a job, but not a training task
    assert client.post("/v1/training/424242/reconcile", params={"sample_size": 5}).status_code == 404
    assert client.post("/v1/training/1/reconcile", params={"sample_size": 0}).status_code == 400
