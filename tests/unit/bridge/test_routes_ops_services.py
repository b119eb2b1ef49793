"""Seed 002's services (GET /v1/ops/services, POST /v1/ops/services/{name}/{action}) over a services port that
is the launcher's own control of real processes (short sleeps), with a graph whose perception component is ok
only once its process has run a moment, as a node that loads its model."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.launcher.config import RestartPolicy
from embodied_ai.launcher.control import ControlOutcome, MotionWatch, ServiceControl
from embodied_ai.launcher.supervisor import ProcessSpec, ServiceState, Supervisor
from embodied_ai.sdk.client import Client
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import LocalJobs
from tests.unit.bridge.served import serving

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]
LOADING_S = 0.3   # how long perception takes to serve after its process starts


class _Quiet:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class LocalServices:
    """The services port as the launcher node answers it, in this process."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.now = 0.0   # the motion watch's clock, which the tests move
        self.motion = MotionWatch(lambda: self.now)
        self._control = ServiceControl(supervisor, self.motion)

    async def list_services(self) -> list[ServiceState]:
        return self._control.services()

    async def control(self, name: str, action: str, force: bool) -> ControlOutcome:
        return await asyncio.to_thread(self._control.control, name, action, force)


class SupervisedGraph(FakeGraph):
    """The fake graph with a perception component that is ok once its process has run LOADING_S."""

    def __init__(self, jobs: LocalJobs, supervisor: Supervisor) -> None:
        super().__init__(jobs, jobs.webhooks, jobs.operations)
        self.supervisor = supervisor

    def components(self) -> dict[str, str]:
        perception = self.supervisor.service("perception")
        state = ("unavailable" if perception.uptime_s is None else
                 "ok" if perception.uptime_s >= LOADING_S else "starting")
        return {**super().components(), "perception": state}


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    specs = [ProcessSpec("servo_controller", SLEEP), ProcessSpec("sensing", SLEEP, nodes=("perception", "sensors")),
             ProcessSpec("rest_bridge", SLEEP)]
    running = Supervisor(specs, {}, RestartPolicy(initial_backoff_s=0.05), output=_Quiet())
    running.start()
    yield running
    running.stop(timeout=2.0)


@pytest.fixture
def services(supervisor: Supervisor) -> LocalServices:
    return LocalServices(supervisor)


@pytest.fixture
def app_client(tmp_path: Path, supervisor: Supervisor, services: LocalServices,
               settings: BridgeSettings) -> Iterator[TestClient]:
    jobs = LocalJobs(tmp_path)
    graph = SupervisedGraph(jobs, supervisor)
    with TestClient(create_app(replace(graph.ports(), services=services), settings)) as test_client:
        yield test_client
    jobs.close()


def _services(client: TestClient) -> dict[str, dict]:
    return {s["name"]: s for s in data(client.get("/v1/ops/services"))}


def _wait_running(client: TestClient, name: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while (service := _services(client)[name])["status"] != "running":
        assert time.monotonic() < deadline, service
        time.sleep(0.05)
    return service


def test_services_list_every_node_with_its_process_and_health(app_client: TestClient,
                                                              supervisor: Supervisor) -> None:
    services = _services(app_client)
    assert list(services) == ["servo_controller", "perception", "sensors", "rest_bridge"]
    perception = _wait_running(app_client, "perception")
    assert perception["process"] == "sensing" and perception["nodes"] == ["perception", "sensors"]
    assert perception["pid"] == supervisor.pids()["sensing"] and perception["restarts"] == 0
    assert perception["uptime_seconds"] >= LOADING_S
    assert perception["health"] == "ok" and perception["components"] == {"perception": "ok"}
    services = _services(app_client)
    assert services["servo_controller"]["components"] == {"servo_controller": "ok"}
    assert services["rest_bridge"]["health"] is None and services["rest_bridge"]["status"] == "running"


def test_restart_waits_until_the_service_is_healthy_again(app_client: TestClient, supervisor: Supervisor) -> None:
    old_pid = _wait_running(app_client, "perception")["pid"]
    started = time.monotonic()
    answer = data(app_client.post("/v1/ops/services/perception/restart", json={"wait_for_health": True}))
    assert time.monotonic() - started >= LOADING_S
    assert answer["service"] == "perception" and answer["action"] == "restart"
    assert answer["status"] == "running" and answer["healthy"] is True
    assert answer["affects"] == ["perception", "sensors"] and "healthy" in answer["message"]
    details = answer["details"]
    assert details["pid"] not in (None, old_pid) and details["restarts"] == 1 and details["health"] == "ok"
    assert _services(app_client)["sensors"]["restarts"] == 1   # the whole process restarted
    status = data(app_client.get("/v1/ops/status"))
    assert {s["name"]: s["restarts"] for s in status["services"]}["perception"] == 1


def test_without_waiting_a_restarted_service_is_starting(app_client: TestClient) -> None:
    answer = data(app_client.post("/v1/ops/services/sensing/restart", json={"wait_for_health": False}))
    assert answer["status"] == "starting" and answer["healthy"] is False
    assert answer["message"].endswith("not healthy yet: perception: starting")
    assert _wait_running(app_client, "perception")["health"] == "ok"


def test_a_service_not_healthy_in_time_says_so(app_client: TestClient) -> None:
    answer = data(app_client.post("/v1/ops/services/perception/restart", json={"timeout_s": 0.05}))
    assert answer["healthy"] is False and "not healthy after 0.05 s: perception: starting" in answer["message"]


def test_a_stopped_service_stays_stopped_until_started(app_client: TestClient, supervisor: Supervisor) -> None:
    answer = data(app_client.post("/v1/ops/services/sensors/stop"))
    assert answer["status"] == "stopped" and answer["healthy"] is None
    assert answer["affects"] == ["perception", "sensors"]
    time.sleep(0.2)   # past a crash's back-off
    supervisor.poll()
    perception = _services(app_client)["perception"]
    assert (perception["status"], perception["pid"], perception["uptime_seconds"]) == ("stopped", None, None)
    assert perception["health"] == "unavailable"
    answer = data(app_client.post("/v1/ops/services/perception/start"))
    assert answer["status"] == "running" and answer["healthy"] is True and answer["details"]["restarts"] == 0


def test_the_servo_controller_is_not_stopped_while_the_robot_moves(app_client: TestClient,
                                                                   services: LocalServices,
                                                                   supervisor: Supervisor) -> None:
    pid = supervisor.pids()["servo_controller"]
    services.motion.observe([0.0, 0.3])
    refused = error(app_client.post("/v1/ops/services/servo_controller/stop", json={"force": True}), 409, 409)
    assert "while the robot moves" in refused["details"]
    assert supervisor.pids()["servo_controller"] == pid
    services.now += 1.0   # still for a second
    assert data(app_client.post("/v1/ops/services/servo_controller/stop"))["status"] == "stopped"


def test_the_bridge_does_not_stop_itself(app_client: TestClient, supervisor: Supervisor) -> None:
    for action in ("stop", "restart"):
        refused = error(app_client.post(f"/v1/ops/services/rest_bridge/{action}"), 409, 409)
        assert "REST bridge" in refused["details"]
    assert supervisor.service("rest_bridge").status == "running"


def test_unknown_services_and_actions(app_client: TestClient) -> None:
    missing = error(app_client.post("/v1/ops/services/gripper/start"), 404, 404)
    assert "no service 'gripper'" in missing["details"]
    error(app_client.post("/v1/ops/services/perception/pause"), 400, 400)
    error(app_client.post("/v1/ops/services/perception/start", json={"timeout_s": 0}), 400, 400)


def test_without_the_launcher_services_are_unavailable(client: TestClient) -> None:
    error(client.get("/v1/ops/services"), 503, 4000)
    error(client.post("/v1/ops/services/perception/restart"), 503, 4000)
    assert data(client.get("/v1/ops/status"))["services"] is None


def test_the_sdk_lists_and_restarts_services(tmp_path: Path, supervisor: Supervisor, services: LocalServices) -> None:
    jobs = LocalJobs(tmp_path)
    app = create_app(replace(SupervisedGraph(jobs, supervisor).ports(), services=services),
                     BridgeSettings(state_dir=tmp_path / "state"))
    try:
        with serving(app) as url, Client(base_url=url) as sdk:
            assert [s.name for s in sdk.ops.services()] == ["servo_controller", "perception", "sensors", "rest_bridge"]
            restarted = sdk.ops.restart("perception")
            assert restarted.healthy is True and restarted.details.restarts == 1
            assert sdk.ops.stop("perception").status == "stopped"
            assert sdk.ops.start("perception", wait_for_health=False).healthy is False
    finally:
        jobs.close()
