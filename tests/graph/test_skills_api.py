"""Seed 001's training API live, as a client written from the seed uses it: a q_learning task on the
head-tracking environment and a ppo task on reaching (tiny settings) train as jobs of the jobs node,
report their episode metrics, register ONNX policies, and reconcile on perturbed episodes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)

TASK_S = 600.0


@pytest.fixture(autouse=True, scope="module")
def jobs_node(client) -> None:
    client.wait_until(lambda: client.node.count_services("/submit_job") > 0, 120, "the jobs node")


def train(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    created = http.post("/v1/training", json=body)
    assert created.status_code == 201, created.text
    task_id = created.json()["data"]["task_id"]
    deadline = time.monotonic() + TASK_S
    while (task := http.get(f"/v1/training/{task_id}").json()["data"])["status"] in ("created", "running"):
        assert time.monotonic() < deadline, task
        time.sleep(0.3)
    assert task["status"] == "completed", task
    return task


@pytest.mark.parametrize("body", [
    {"name": "track", "model_type": "q_learning", "total_episodes": 6, "parameters": {"learning_rate": 0.5},
     "env_config": {"max_episode_steps": 8, "control_rate_hz": 5.0}},
    {"name": "reach", "model_type": "ppo", "total_episodes": 3,
     "parameters": {"n_steps": 32, "batch_size": 16, "epochs": 1}, "env_config": {"max_episode_steps": 10}},
], ids=["q_learning", "ppo"])
def test_a_seed_001_task_trains_registers_and_reconciles(http: httpx.Client, body: dict[str, Any]) -> None:  # noqa: F811
    task = train(http, body)
    metrics = task["metrics"]
    assert task["current_episode"] == body["total_episodes"] == len(metrics["episode_rewards"])
    model = http.get(f"/v1/models/{task['model_id']}").json()["data"]
    assert model["kind"] == "policy" and "onnx_policy" in model["exports"]
    onnx = http.get(f"/v1/models/{task['model_id']}/download", params={"format": "onnx_policy"})
    assert onnx.status_code == 200 and len(onnx.content) > 100
    reconciled = http.post(f"/v1/training/{task['task_id']}/reconcile", params={"sample_size": 20}, timeout=TASK_S)
    assert reconciled.status_code == 200, reconciled.text
    figures = reconciled.json()["data"]["metrics"]
    assert figures["adaptation_score"] is not None and 0.0 <= figures["success_rate"] <= 1.0
