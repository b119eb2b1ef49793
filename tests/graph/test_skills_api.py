"""Seed 001's training API live, as a client written from the seed uses it: a q_learning task on the
head-tracking environment and a ppo task on reaching (tiny settings) train as jobs of the jobs node,
report their episode metrics, register ONNX policies, and reconcile on perturbed episodes; a policy
deploys to two robots of the fleet, robot by robot, and rolls back when its check fails."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from embodied_ros.kit.qos import COMMANDS
from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)

TASK_S = 600.0


@pytest.fixture(autouse=True, scope="module")
def jobs_node(client) -> None:
    client.wait_until(lambda: client.node.count_services("/submit_job") > 0, 120, "the jobs node")


def train(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    deadline = time.monotonic() + 60
    while (created := http.post("/v1/training", json=body)).status_code == 503:   # the bridge still discovering
        assert time.monotonic() < deadline, created.text
        time.sleep(0.5)
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


def deploy(http: httpx.Client, model_id: str, body: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    accepted = http.post(f"/v1/models/{model_id}/deploy", json=body)
    assert accepted.status_code == 202, accepted.text
    deployment_id = accepted.json()["data"]["deployment"]["id"]
    deadline = time.monotonic() + TASK_S
    while http.get(f"/v1/jobs/{deployment_id}").json()["data"]["status"] in ("pending", "queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return http.get(f"/v1/deployments/{deployment_id}").json()["data"]


def test_a_policy_deploys_rolling_to_two_robots_and_rolls_back_when_its_check_fails(
        http: httpx.Client, client) -> None:  # noqa: F811
    """Seed 001's deploy with replicas 2, strategy rolling, onto the graph's robot and /robot_2 (the
    session graph runs `embodied up --robots 2`): refused while robot_2 is in e-stop (nothing moves);
    then robot by robot, each robot's policy node configured and activated, its success check run
    through the graph; the policy then commands both robots through their servo controllers. A
    deployment whose check cannot pass fails on the first robot and is rolled back."""
    from embodied_interfaces.msg import HardwareState
    from sensor_msgs.msg import JointState
    from std_srvs.srv import Trigger

    task = train(http, {"name": "look", "model_type": "q_learning", "total_episodes": 4,
                        "env_config": {"max_episode_steps": 6, "control_rate_hz": 5.0}})
    model_id = task["model_id"]
    assert client.call(Trigger, "/robot_2/emergency_stop", Trigger.Request()).success
    try:
        refused = http.post(f"/v1/models/{model_id}/deploy", json={"replicas": 2, "strategy": "rolling"})
        assert refused.status_code == 409 and "robot_2: in emergency stop" in refused.text, refused.text
    finally:
        assert client.call(Trigger, "/robot_2/reset_emergency_stop", Trigger.Request()).success
    assert http.get(f"/v1/models/{model_id}").json()["data"]["status"] == "trained"   # nothing moved
    # The reset is seen in robot_2's hardware_state (what the jobs node judges health by) before deploying.
    client.wait_until(lambda: not client.latest(HardwareState, "/robot_2/hardware_state").emergency_stop, 10,
                      "robot_2's e-stop reset in its hardware_state")
    time.sleep(0.5)

    record = deploy(http, model_id, {"replicas": 2, "strategy": "rolling",
                                     "check": {"trials": 1, "min_success_rate": 0.0, "timeout_s": 2.0}})
    assert record["status"] == "deployed", record
    assert [(r["robot"], r["namespace"], r["status"], r["trials"]) for r in record["robots"]] == [
        ("robot_1", "/", "deployed", 1), ("robot_2", "/robot_2", "deployed", 1)]
    assert http.get(f"/v1/models/{model_id}").json()["data"]["status"] == "deployed"
    for prefix in ("", "/robot_2"):   # each robot's policy commands its own head through its controller
        commands = client.collect(JointState, f"{prefix}/joint_commands", 10.0, qos=COMMANDS,
                                  until=lambda ms: len(ms) >= 3)
        assert len(commands) >= 3 and all(list(m.name) == ["head_pan"] for _, m in commands), prefix
    # Each commanded tick is a served request of the model, as an expert's generation is.
    client.wait_until(lambda: http.get(f"/v1/models/{model_id}/performance").json()["data"]
                      ["performance_metrics"]["requests_total"] > 0, 10, "the policy's ticks in the model's figures")

    try:
        rolled_back_deployment(http, client, model_id)
    finally:   # later tests move the head
        undeployed = http.post(f"/v1/models/{model_id}/undeploy", json={})
    assert undeployed.status_code == 200, undeployed.text
    assert [r["robot"] for r in undeployed.json()["data"]["robots"]] == ["robot_1", "robot_2"]
    assert http.get(f"/v1/models/{model_id}").json()["data"]["status"] == "trained"
    assert not client.collect(JointState, "/robot_2/joint_commands", 1.0, qos=COMMANDS)
    again = http.post(f"/v1/models/{model_id}/undeploy", json={})
    assert again.status_code == 409 and "no robot runs" in again.text, again.text


def rolled_back_deployment(http: httpx.Client, client, model_id: str) -> None:  # noqa: F811
    from sensor_msgs.msg import JointState

    failing = deploy(http, model_id, {"replicas": 2, "strategy": "rolling",
                                      "check": {"trials": 3, "min_success_rate": 1.0, "timeout_s": 0.05}})
    assert failing["status"] == "rolled_back" and "more than failure_threshold 0" in failing["reason"], failing
    first, second = failing["robots"]
    assert (first["status"], first["rolled_back"], second["status"]) == ("failed", True, "pending"), failing
    # Rolled back: robot_1 runs what it ran before (the first deployment's policy), robot_2 was never touched.
    assert first["previous_model_id"] == model_id
    commands = client.collect(JointState, "joint_commands", 10.0, qos=COMMANDS, until=lambda ms: len(ms) >= 3)
    assert len(commands) >= 3
