"""Seed 001's training API live, as a client written from the seed uses it: a q_learning task on the
head-tracking environment and a ppo task on reaching (tiny settings) train as jobs of the jobs node,
report their episode metrics, register ONNX policies, and reconcile on perturbed episodes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.qos import qos_profile_sensor_data

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


def test_a_deployed_policy_node_streams_joint_commands_through_the_controller(
        http: httpx.Client, graph, client) -> None:  # noqa: F811
    """The policy node (a process of its own, as a deployment starts it) loads a trained policy from the
    registry, is marked deployed, and commands the head through joint_commands: the servo controller
    accepts them (joint_states follow), and stopping the node marks it trained again."""
    from geometry_msgs.msg import PointStamped
    from sensor_msgs.msg import JointState

    task = train(http, {"name": "look", "model_type": "q_learning", "total_episodes": 4,
                        "env_config": {"max_episode_steps": 6, "control_rate_hz": 5.0}})
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    node = subprocess.Popen(
        [sys.executable, "-m", "embodied_ros.policy", "--ros-args", "-p", f"model_id:={task['model_id']}",
         "-p", f"state_dir:={graph.bridge_state_dir}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, text=True)
    try:
        target = client.publisher(PointStamped, "policy_target")
        point = PointStamped()
        point.header.frame_id = "base_link"
        point.point.x, point.point.y, point.point.z = 0.4, 0.25, 0.75
        aiming = threading.Event()

        def aim() -> None:   # the target streams, as perception's would
            while not aiming.wait(0.1):
                target.publish(point)
        threading.Thread(target=aim, daemon=True).start()
        deadline = time.monotonic() + 60
        while http.get(f"/v1/models/{task['model_id']}").json()["data"]["status"] != "deployed":
            assert time.monotonic() < deadline and node.poll() is None, "the policy node did not deploy"
            time.sleep(0.2)
        commands = client.collect(JointState, "joint_commands", 10.0, qos=COMMANDS, until=lambda ms: len(ms) >= 5)
        assert len(commands) >= 5 and all(list(m.name) == ["head_pan"] for _, m in commands)
        assert all(-1.58 <= m.position[0] <= 1.58 for _, m in commands)   # the URDF's head pan limits
        commanded = commands[-1][1].position[0]
        def head_pan() -> float:
            state = client.latest(JointState, "joint_states", qos=qos_profile_sensor_data)
            return float(dict(zip(state.name, state.position))["head_pan"])
        client.wait_until(lambda: abs(head_pan() - commanded) < 0.05, 10, "the head to follow the policy's command")
        # Undeploy = deactivate (the lifecycle transition): no more commands, and the registry knows.
        undeployed = client.call(ChangeState, "/policy/change_state", ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_DEACTIVATE)))
        assert undeployed.success
        assert http.get(f"/v1/models/{task['model_id']}").json()["data"]["status"] == "trained"
        assert not client.collect(JointState, "joint_commands", 1.0, qos=COMMANDS)
    finally:
        aiming.set()
        node.send_signal(signal.SIGINT)
        output, _ = node.communicate(timeout=30)
    # Known defect, not yet traced: a SIGINT while the graph's topics flow may abort the process in C++
    # ("terminate called without an active exception", no Python frame), so its exit status is not
    # checked here; undeploying is the lifecycle's deactivate, checked above.
    assert "deployed: " in output and "Traceback" not in output, output
