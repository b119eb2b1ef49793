"""The experts node from a separate process: generate with streamed token feedback and cancel,
route, load / unload, router statistics, and handle_command moving the simulated robot."""

from __future__ import annotations

import json
import math
import time

import pytest
from embodied_interfaces.action import Generate, HandleCommand
from embodied_interfaces.msg import Detection2DArray, RouterStatistics
from embodied_interfaces.srv import Route, SetExpertLoaded
from sensor_msgs.msg import JointState

from tests.graph.conftest import LaunchedGraph
from tests.graph.ros_client import GraphClient

# Loading the base, the router and the adapters on a busy 2-core machine.
EXPERTS_READY_TIMEOUT_S = 240.0
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def experts(graph: LaunchedGraph, client: GraphClient) -> GraphClient:
    graph.wait_for_output(r"\[experts\]: ready", EXPERTS_READY_TIMEOUT_S)
    return client


def test_generate_streams_tokens_to_another_process(experts: GraphClient) -> None:
    feedback: list = []
    goal = Generate.Goal(prompt="Name three colours.", expert="general", max_tokens=24)
    response = experts.run(Generate, "generate", goal, feedback, timeout=120)
    result = response.result
    assert result.success and result.error_code == 0, result.message
    assert result.expert == "general" and result.completion_tokens > 0
    assert len(feedback) >= 2, "tokens should arrive as feedback while generating"
    # Feedback comes on a topic and the result on a service: ROS 2 does not order the two, so
    # the last tokens may arrive just after the result.
    experts.wait_until(lambda: "".join(f.text for f in feedback) == result.text, 2.0,
                       f"every token as feedback: {''.join(f.text for f in feedback)!r} vs {result.text!r}")
    assert [f.completion_tokens for f in feedback] == sorted(f.completion_tokens for f in feedback)
    assert result.tokens_per_second > 0 and result.time_to_first_token_ms > 0


def test_generate_can_be_cancelled(experts: GraphClient) -> None:
    feedback: list = []
    handle = experts.send_goal(Generate, "generate", Generate.Goal(
        prompt="Write a very long story about a robot.", expert="general", max_tokens=400), feedback)
    assert handle.accepted
    experts.wait_until(lambda: len(feedback) >= 2, 60, "first tokens")
    handle.cancel_goal_async()
    result = experts.result(handle, timeout=60).result
    assert result.finish_reason == "cancelled" and result.completion_tokens < 400


def test_bad_generate_requests_get_seed_codes(experts: GraphClient) -> None:
    empty = experts.run(Generate, "generate", Generate.Goal(prompt="", expert="general"), timeout=30).result
    assert not empty.success and empty.error_code == 3000
    unknown = experts.run(Generate, "generate", Generate.Goal(prompt="hi", expert="no_such"), timeout=30).result
    assert not unknown.success and unknown.error_code == 1000


def test_route_and_load_services(experts: GraphClient) -> None:
    routed = experts.call(Route, "route", Route.Request(prompt="open your left hand"), timeout=30)
    assert routed.success and routed.expert == "robot_control" and 0 < routed.confidence <= 1
    assert routed.candidates and len(routed.candidates) == len(routed.scores)
    loaded = experts.call(SetExpertLoaded, "set_expert_loaded",
                          SetExpertLoaded.Request(expert="robot_control", loaded=True), timeout=30)
    assert loaded.success, loaded.message
    missing = experts.call(SetExpertLoaded, "set_expert_loaded",
                           SetExpertLoaded.Request(expert="no_such", loaded=True), timeout=30)
    assert not missing.success and missing.error_code == 1000
    statistics = experts.latest(RouterStatistics, "router_statistics", timeout=10)
    assert "robot_control" in statistics.experts and statistics.total_requests >= 1


def test_handle_command_moves_the_simulated_robot(experts: GraphClient) -> None:
    before = experts.latest(JointState, "joint_states")
    start = dict(zip(before.name, before.position))["head_pan"]
    result = experts.run(HandleCommand, "handle_command",
                         HandleCommand.Goal(text="turn your head left by 20 degrees", source="text"),
                         timeout=120).result
    assert result.success, result
    assert json.loads(result.actions_json) == [{"action": "move", "joint": "head_pan", "mode": "by", "degrees": 20}]
    time.sleep(0.3)
    after = dict(zip(*(lambda m: (m.name, m.position))(experts.latest(JointState, "joint_states"))))
    assert math.isclose(after["head_pan"], start + math.radians(20), abs_tol=0.02)


def test_unsafe_command_is_refused_and_nothing_moves(experts: GraphClient) -> None:
    before = experts.latest(JointState, "joint_states")
    result = experts.run(HandleCommand, "handle_command",
                         HandleCommand.Goal(text="raise your right arm by five hundred degrees", source="text"),
                         timeout=120).result
    assert not result.success and result.error_code == 4001 and result.actions_json == "[]"
    after = experts.latest(JointState, "joint_states")
    for name, a, b in zip(before.name, before.position, after.position):
        assert abs(a - b) < 0.01, f"{name} moved"


def test_describe_the_scene_names_what_perception_detects(experts: GraphClient) -> None:
    seen = experts.latest(Detection2DArray, "detections", timeout=60)
    classes = {d.results[0].hypothesis.class_id for d in seen.detections}
    assert classes, "perception sees the simulated tabletop"
    result = experts.run(HandleCommand, "handle_command",
                         HandleCommand.Goal(text="describe what you see on the table", source="text"),
                         timeout=120).result
    assert result.success, result
    assert json.loads(result.actions_json) == [{"action": "describe"}]
    assert result.reply.startswith("I see ") and all(label in result.reply for label in classes), result.reply
