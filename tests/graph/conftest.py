"""Graph tests: the real launcher starts real node processes; this pytest process is the
separate rclpy client that checks them, as `ros2 topic echo` or an rviz2 would."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

LAUNCH_CONFIG = REPO / "launch" / "robot.yaml"
STARTUP_TIMEOUT_S = 60.0


def _domain_is_empty(domain_id: int, listen_s: float = 1.0) -> bool:
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        node = rclpy.create_node("domain_probe", context=context)
        time.sleep(listen_s)  # discovery on loopback takes well under a second
        others = [n for n, _ in node.get_node_names_and_namespaces() if n != "domain_probe"]
        node.destroy_node()
        return not others
    finally:
        rclpy.shutdown(context=context)


def private_domain_id() -> int:
    """A domain no one else on this machine is using (parallel test runs, benchmarks, demos).

    Fast DDS derives ports from the id, so ids stay within 0-232; 42 is the launcher default.
    """
    candidates = random.Random().sample(range(100, 232), 10)
    for domain_id in candidates:
        if _domain_is_empty(domain_id):
            return domain_id
    raise RuntimeError(f"no free ROS domain among {candidates}")


@pytest.fixture(scope="session", autouse=True)
def ros_environment() -> Iterator[None]:
    """Put this process on a private, loopback-only DDS domain before rclpy initialises."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    profile = str(REPO / "launch" / "fastdds_localhost.xml")
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = profile
    os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = profile
    os.environ["ROS_DOMAIN_ID"] = str(private_domain_id())
    yield


class LaunchedGraph:
    """`embodied up` in a subprocess, with its output kept for assertions."""

    def __init__(self, *extra: str, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        environment = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
        self._popen = subprocess.Popen(
            [sys.executable, "-m", "embodied_ai.cli", "up", "--config", str(LAUNCH_CONFIG), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            env={**environment, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._popen.stdout is not None
        for line in self._popen.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def node_pids(self, node: str) -> list[int]:
        return [int(m) for m in re.findall(rf"\] {node}: started \(pid (\d+)\)", self.output)]

    def wait_for_output(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.output):
                return
            if self._popen.poll() is not None:
                raise AssertionError(f"launcher exited early:\n{self.output}")
            time.sleep(0.1)
        raise AssertionError(f"'{pattern}' not seen in {timeout} s:\n{self.output[-3000:]}")

    def stop(self) -> int:
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGINT)
            try:
                self._popen.wait(20)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._reader.join(5)
        return self._popen.returncode


def bridge_options(state_dir: Path) -> tuple[str, ...]:
    """The REST bridge on a free loopback port (never a fixed 8000, which parallel runs and a
    running robot would share) with its API keys in ``state_dir``."""
    return ("--set", "rest_bridge.port=0", "--set", f"rest_bridge.state_dir={state_dir}")


def bridge_url(launched: LaunchedGraph, timeout: float = STARTUP_TIMEOUT_S) -> str:
    """The URL the (latest) bridge process logged that it serves on."""
    pattern = r"\[rest_bridge\]: serving on (http://[\d.]+:\d+)"
    launched.wait_for_output(pattern, timeout)
    return re.findall(pattern, launched.output)[-1]


@pytest.fixture(scope="session")
def graph(ros_environment: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedGraph]:
    state_dir = tmp_path_factory.mktemp("bridge_state")
    # The experts node keeps its registry in the same throw-away state directory.
    # Two robots: the graph's own and /robot_2 (a servo controller and a policy node), for deployments.
    launched = LaunchedGraph(*bridge_options(state_dir), "--set", f"experts.state_dir={state_dir}",
                             "--set", f"jobs.state_dir={state_dir}", "--set", f"policy.state_dir={state_dir}",
                             "--robots", "2")
    launched.bridge_state_dir = state_dir
    try:
        launched.wait_for_output(r"\[servo_controller]: active", STARTUP_TIMEOUT_S)
        yield launched
    finally:
        code = launched.stop()
        log = state_dir / "embodied_up.log"  # the whole graph's output, for a failure's post-mortem
        log.write_text(launched.output)
        print(f"{launched.output[-2000:]}\n(the whole output: {log})")
        assert code == 0, f"launcher exited with {code}"


@pytest.fixture(scope="session")
def client(graph: LaunchedGraph) -> Iterator["GraphClient"]:
    from tests.graph.ros_client import GraphClient

    with GraphClient() as c:
        yield c


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.graph)
