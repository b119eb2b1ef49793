"""Fixtures and helpers for the REST bridge's graph tests: an HTTP client on the graph's own
bridge (a free loopback port), a second bridge process with API keys, and ROS-side checks of
what the graph serves (so a test knows whether the bridge must answer live or 503)."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from embodied_interfaces.action import MoveJoints
from std_srvs.srv import Trigger

from tests.graph.conftest import LaunchedGraph, bridge_url
from tests.graph.ros_client import GraphClient

HTTP_TIMEOUT_S = 60.0


# Fixtures are named in their decorator, so a test module can import them under another name
# (``http as http_fixture``) and its tests' parameters do not shadow the import.
@pytest.fixture(scope="session", name="base_url")
def base_url(graph: LaunchedGraph) -> str:
    return bridge_url(graph)


@pytest.fixture(scope="session", name="http")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as session:
        deadline = time.monotonic() + 30
        # The bridge serves before its subscriptions have their first messages: wait for them.
        while session.get("/v1/hardware/sensors").status_code != 200:
            assert time.monotonic() < deadline, "the bridge never saw the servo controller"
            time.sleep(0.2)
        yield session


@pytest.fixture(name="robot_at_rest")
def robot_at_rest(client: GraphClient) -> Iterator[None]:
    """E-stop released and the joints a test moves brought home after it, so the graph tests
    that run later (they share the graph) find the robot as they expect."""
    client.call(Trigger, "/reset_emergency_stop", Trigger.Request())
    yield
    client.call(Trigger, "/reset_emergency_stop", Trigger.Request())
    home = ["shoulder_pitch_r", "shoulder_roll_r", "elbow_pitch_r", "gripper_r", "head_pan"]
    client.run(MoveJoints, "/move_joints", MoveJoints.Goal(joint_names=home, positions=[0.0] * len(home)))


def has_service(client: GraphClient, name: str) -> bool:
    """A server (not just a client, such as the bridge's own) is in the graph."""
    return client.node.count_services(f"/{name}") > 0


def has_action(client: GraphClient, name: str) -> bool:
    return has_service(client, f"{name}/_action/send_goal")


def wait_for_router_statistics(client: GraphClient, http: httpx.Client, timeout: float = 10.0) -> None:
    """Until the bridge has the experts node's first router_statistics: they are published every
    statistics_period_s (2 s) once the node is active, so a test right after it came up may be first."""
    client.wait_until(lambda: http.get("/v1/router/stats").status_code == 200, timeout, "the first router statistics")


def ros_position_deg(client: GraphClient, joint: str) -> float:
    from sensor_msgs.msg import JointState

    msg = client.latest(JointState, "/joint_states")
    return math.degrees(msg.position[list(msg.name).index(joint)])


def assert_envelope_error(response: httpx.Response, status: int, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["data"] is None, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and "timestamp" in body
    return body["error"]


class BridgeProcess:
    """The bridge node started on its own (``python -m embodied_ros.rest_bridge``), for tests
    that need other settings than the graph's bridge (API keys, a refused bind)."""

    def __init__(self, name: str, **parameters: str) -> None:
        params = [arg for key, value in {"port": "0", **parameters}.items() for arg in ("-p", f"{key}:={value}")]
        env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "embodied_ros.rest_bridge", "--ros-args", "-r", f"__node:={name}", *params],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def url(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(r"serving on (http://[\d.]+:\d+)", self.output):
                return match.group(1)
            assert self.popen.poll() is None, f"bridge exited early:\n{self.output}"
            time.sleep(0.1)
        raise AssertionError(f"bridge did not start in {timeout} s:\n{self.output}")

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(5)
        return self.popen.returncode


def keys_cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """`embodied keys ...` as an operator would run it."""
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    return subprocess.run([sys.executable, "-m", "embodied_ai.cli", "keys", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, env=env, timeout=60)
