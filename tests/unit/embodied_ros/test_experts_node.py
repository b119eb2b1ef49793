"""The experts node's lifecycle in this process (no graph): nothing is loaded before configure,
configure creates the endpoints, only an active node takes goals and requests, cleanup destroys
the endpoints and closes the service, and a failed configure leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from embodied_interfaces.srv import ListExperts, Route
from rclpy.action import ActionServer, GoalResponse
from rclpy.context import Context
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from embodied_ros.experts import ExpertsNode
from tests.conftest import URDF

pytestmark = pytest.mark.timeout(1500)  # the first configure may build the base into the cache
SUCCESS = TransitionCallbackReturn.SUCCESS
ENDPOINTS = {"route", "set_expert_loaded", "list_experts", "get_expert", "create_expert", "update_expert",
             "delete_expert"}  # as created: relative names


def experts_node(context: Context, tmp_path: Path, urdf: Path = URDF) -> ExpertsNode:
    overrides = {"state_dir": str(tmp_path / "state"), "use_router": False, "robot_description_file": str(urdf),
                 "autostart": False}
    return ExpertsNode(context=context, start_parameter_services=False,
                       parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


def served(node: ExpertsNode) -> set[str]:
    return {service.srv_name for service in node.services} & ENDPOINTS


def call(node: ExpertsNode, name: str, request: object, response: object) -> object:
    service = next(s for s in node.services if s.srv_name == name)
    return service.callback(request, response)


def goal_responses(node: ExpertsNode) -> set[GoalResponse]:
    """What the node's action servers (generate, handle_command, retrain_router) answer a new goal:
    the goal callbacks they were registered with."""
    servers = [w for w in node.waitables if isinstance(w, ActionServer)]
    assert len(servers) == 3
    return {server._goal_callback(None) for server in servers}


def test_configure_activate_deactivate_cleanup(context: Context, tmp_path: Path) -> None:
    node = experts_node(context, tmp_path)
    assert served(node) == set() and not (tmp_path / "state").exists()  # nothing loaded yet
    assert node.trigger_configure() == SUCCESS
    assert served(node) == ENDPOINTS
    # Configured but inactive: goals are rejected, requests refused with EXPERT_NOT_READY.
    assert goal_responses(node) == {GoalResponse.REJECT}
    inactive = call(node, "route", Route.Request(prompt="open your hand"), Route.Response())
    assert (inactive.success, inactive.error_code) == (False, 1001) and "not active" in inactive.message
    assert node.trigger_activate() == SUCCESS
    assert goal_responses(node) == {GoalResponse.ACCEPT}
    routed = call(node, "route", Route.Request(prompt="open your hand"), Route.Response())
    assert routed.success and routed.expert == "general"  # without a router every prompt goes to general
    listed = call(node, "list_experts", ListExperts.Request(), ListExperts.Response())
    assert listed.success and "robot_control" in {e.name for e in listed.experts}
    assert node.trigger_deactivate() == SUCCESS
    assert goal_responses(node) == {GoalResponse.REJECT}
    assert node.trigger_cleanup() == SUCCESS
    assert served(node) == set() and node._commander is None
    # Configured again on the same state: the registry it wrote is there.
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    assert served(node) == ENDPOINTS
    assert node.trigger_shutdown() == SUCCESS
    assert served(node) == set()
    node.destroy_node()


def test_a_failed_configure_leaves_nothing_behind(context: Context, tmp_path: Path) -> None:
    node = experts_node(context, tmp_path, urdf=tmp_path / "missing.urdf")
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert served(node) == set() and node._commander is None
    assert not node.autostart()  # what main() exits non-zero on
    node.destroy_node()
