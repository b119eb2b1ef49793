"""The servo controller as a lifecycle node, walked through its states by an outside client with
the standard lifecycle_msgs services (as ros2/demos lifecycle_py's tests do), started alone with
``autostart: false`` on a domain of its own."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from action_msgs.msg import GoalStatus
from embodied_interfaces.action import MoveJoints
from embodied_interfaces.msg import HardwareState
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from sensor_msgs.msg import JointState

from tests.graph.conftest import LaunchedGraph, private_domain_id
from tests.graph.ros_client import GraphClient

NODE = "/servo_controller"
ENDPOINTS = ("/emergency_stop", "/reset_emergency_stop", "/sim/inject_fault", "/move_joints/_action/send_goal",
             "/grasp/_action/send_goal")
QUIET_S = 0.5   # after a transition, messages already on the wire have arrived by then


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphClient]:
    """A client beside a servo controller that waits, unconfigured, for its transitions."""
    domain_id = private_domain_id()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain_id))
    graph = LaunchedGraph("--only", "servo_controller", "--set", "servo_controller.autostart=false",
                          env={"ROS_DOMAIN_ID": str(domain_id)})
    try:
        with GraphClient() as client:
            client.wait_until(lambda: f"{NODE}/get_state" in client.services(), 30, "the lifecycle services")
            yield client
        assert "autostart failed" not in graph.output and "configure failed" not in graph.output
    finally:
        assert graph.stop() == 0, graph.output[-2000:]


def state_of(client: GraphClient) -> int:
    return client.call(GetState, f"{NODE}/get_state", GetState.Request()).current_state.id


def transition(client: GraphClient, transition_id: int, expected_state: int) -> None:
    reply = client.call(ChangeState, f"{NODE}/change_state",
                        ChangeState.Request(transition=Transition(id=transition_id)), timeout=30)
    assert reply.success, f"transition {transition_id} failed"
    assert state_of(client) == expected_state


def joint_states_for(client: GraphClient, seconds: float) -> list[JointState]:
    return [m for _, m in client.collect(JointState, "/joint_states", seconds)]


def move_head(client: GraphClient) -> tuple[bool, int | None]:
    """(accepted, final status) of a small head_pan move."""
    goal = MoveJoints.Goal(joint_names=["head_pan"], positions=[math.radians(5)], duration=0.5)
    handle = client.send_goal(MoveJoints, "/move_joints", goal)
    return handle.accepted, client.result(handle).status if handle.accepted else None


def serves(client: GraphClient) -> set[str]:
    """The controller's services (the graph also lists this client's own action clients by name)."""
    return {name for name in ENDPOINTS if client.node.count_services(name) > 0}


def test_configure_activate_deactivate_cleanup_shutdown(client: GraphClient) -> None:
    assert state_of(client) == State.PRIMARY_STATE_UNCONFIGURED
    assert not serves(client) and client.node.count_publishers("/joint_states") == 0

    transition(client, Transition.TRANSITION_CONFIGURE, State.PRIMARY_STATE_INACTIVE)
    client.wait_until(lambda: serves(client) == set(ENDPOINTS), 10, "the controller's services and actions")
    client.wait_until(lambda: client.node.count_publishers("/joint_states") == 1, 10, "a joint_states publisher")
    assert not joint_states_for(client, 1.0), "joint_states before activate"
    assert move_head(client) == (False, None), "a goal accepted while inactive"

    transition(client, Transition.TRANSITION_ACTIVATE, State.PRIMARY_STATE_ACTIVE)
    assert len(joint_states_for(client, 1.0)) >= 50
    assert client.latest(HardwareState, "/hardware_state").backend == "sim"
    assert move_head(client) == (True, GoalStatus.STATUS_SUCCEEDED)

    transition(client, Transition.TRANSITION_DEACTIVATE, State.PRIMARY_STATE_INACTIVE)
    joint_states_for(client, QUIET_S)
    assert not joint_states_for(client, 1.0), "joint_states while inactive"
    assert move_head(client) == (False, None), "a goal accepted while inactive"

    transition(client, Transition.TRANSITION_CLEANUP, State.PRIMARY_STATE_UNCONFIGURED)
    client.wait_until(lambda: not serves(client), 10, "the controller's services and actions to go")
    client.wait_until(lambda: client.node.count_publishers("/joint_states") == 0, 10, "joint_states to go")

    transition(client, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN, State.PRIMARY_STATE_FINALIZED)


def test_a_cleaned_up_controller_configures_again_and_shuts_down_from_active(client: GraphClient) -> None:
    for _ in range(2):   # the second configure reopens the hardware the cleanup released
        transition(client, Transition.TRANSITION_CONFIGURE, State.PRIMARY_STATE_INACTIVE)
        transition(client, Transition.TRANSITION_ACTIVATE, State.PRIMARY_STATE_ACTIVE)
        assert len(joint_states_for(client, 1.0)) >= 50
        transition(client, Transition.TRANSITION_DEACTIVATE, State.PRIMARY_STATE_INACTIVE)
        transition(client, Transition.TRANSITION_CLEANUP, State.PRIMARY_STATE_UNCONFIGURED)
    transition(client, Transition.TRANSITION_CONFIGURE, State.PRIMARY_STATE_INACTIVE)
    transition(client, Transition.TRANSITION_ACTIVATE, State.PRIMARY_STATE_ACTIVE)
    transition(client, Transition.TRANSITION_ACTIVE_SHUTDOWN, State.PRIMARY_STATE_FINALIZED)
    client.wait_until(lambda: not serves(client), 10, "the controller's services and actions to go")
    joint_states_for(client, QUIET_S)
    assert not joint_states_for(client, 1.0), "joint_states after shutdown"
