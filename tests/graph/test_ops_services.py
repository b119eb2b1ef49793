"""Seed 002's services against the running graph: the bridge asks the launcher's node, the launcher restarts the
process, and the service comes back healthy; the servo controller is not stopped while a move runs."""

from __future__ import annotations

import threading
import time

import httpx
from sensor_msgs.msg import JointState

from tests.graph.bridge_helpers import assert_envelope_error
from tests.graph.bridge_helpers import base_url as base_url_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import http as http_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import robot_at_rest as robot_at_rest_fixture  # noqa: F401 (a fixture)

HEALTHY_S = 120.0   # perception loads its detector again; the cameras of its process start with it


def services(http: httpx.Client) -> dict[str, dict]:
    response = http.get("/v1/ops/services")
    assert response.status_code == 200, response.text
    return {service["name"]: service for service in response.json()["data"]}


def test_a_restarted_service_comes_back_healthy_and_counted(http, graph):
    graph.wait_for_output(r"\[launcher\]: serving list_services", 60)
    deadline = time.monotonic() + HEALTHY_S
    while (before := services(http)["perception"])["health"] != "ok":   # early in the session: still loading
        assert time.monotonic() < deadline, before
        time.sleep(0.5)
    response = http.post("/v1/ops/services/perception/restart", json={"wait_for_health": True, "timeout_s": HEALTHY_S},
                         timeout=HEALTHY_S + 60)
    assert response.status_code == 200, response.text
    answer = response.json()["data"]
    assert answer["healthy"] is True and answer["status"] == "running", answer
    assert "perception" in answer["affects"] and answer["details"]["process"] == before["process"]
    after = services(http)["perception"]
    assert after["restarts"] == before["restarts"] + 1 and after["pid"] not in (None, before["pid"])
    assert after["status"] == "running" and after["health"] == "ok"
    status = http.get("/v1/ops/status").json()["data"]
    assert {s["name"]: s["restarts"] for s in status["services"]}["perception"] == after["restarts"]
    assert graph.node_pids(before["process"])[-1] == after["pid"]
    # The process's other nodes (the cameras) are back too, for the tests that follow.
    deadline = time.monotonic() + HEALTHY_S
    while any(services(http)[node]["health"] not in (None, "ok") for node in answer["affects"]):
        assert time.monotonic() < deadline, services(http)
        time.sleep(0.5)


def test_the_servo_controller_is_not_stopped_while_a_move_runs(http, client, graph, robot_at_rest):
    graph.wait_for_output(r"\[launcher\]: serving list_services", 60)
    pid = services(http)["servo_controller"]["pid"]
    moved: list[httpx.Response] = []
    mover = threading.Thread(target=lambda: moved.append(http.post(
        "/v1/hardware/servo/move", json={"joint_name": "shoulder_roll_r", "angle": -30.0, "duration_ms": 4000})))
    mover.start()
    try:
        client.collect(JointState, "/joint_states", 5.0, until=lambda ms: any(
            abs(v) > 0.05 for m in ms[-5:] for v in m.velocity))   # the move has begun
        refused = assert_envelope_error(http.post("/v1/ops/services/servo_controller/stop"), 409, 409)
        assert "while the robot moves" in refused["details"]
        assert_envelope_error(http.post("/v1/ops/services/servo_controller/restart", json={"force": True}), 409, 409)
    finally:
        mover.join(30)
    assert moved and moved[0].status_code == 200, moved and moved[0].text
    assert services(http)["servo_controller"]["pid"] == pid
