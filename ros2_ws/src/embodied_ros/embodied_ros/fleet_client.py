"""The robots a policy deployment drives, seen from the jobs node (``embodied_ai.skills.deployment.Fleet``).

A robot is a servo controller in the graph: the one in the root namespace is ``robot_1``, one
under ``/robot_k`` (``embodied up --robots N``) is ``robot_k`` (any other namespace ``/name``:
``name``). Its health is its controller's ``hardware_state`` (fresh, no e-stop, no faulted
joint); its policy node ``<ns>/policy`` (a lifecycle node) runs a policy once its ``model_id``
parameter is set and it is configured and activated, and stops on deactivate + cleanup. A
deployment's success check aims it through ``<ns>/policy_target`` and watches ``<ns>/joint_states``.

Calls block: they come from a job's worker thread, while the node's executor delivers answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from embodied_interfaces.msg import HardwareState
from geometry_msgs.msg import PointStamped
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.skills.deployment import RobotHealth
from embodied_ros.kit.goal_client import Endpoint, call
from embodied_ros.kit.qos import SENSOR_DATA, STATE

CONTROLLER, POLICY = "servo_controller", "policy"
STATE_FRESH_S = 2.0        # hardware_state older than this: the robot is not answering
CALL_TIMEOUT_S = 30.0      # configuring loads the ONNX graph and the task's environment


def robot_id(namespace: str) -> str:
    return "robot_1" if namespace == "/" else namespace.strip("/")


class _Robot:
    """One robot's endpoints, made when it is first seen."""

    def __init__(self, node: Node, namespace: str, group: ReentrantCallbackGroup) -> None:
        prefix = "" if namespace == "/" else namespace
        self.namespace = namespace
        self.hardware: tuple[Any, float] | None = None
        self.joints: dict[str, float] | None = None
        node.create_subscription(HardwareState, f"{prefix}/hardware_state", self._on_hardware, STATE,
                                 callback_group=group)
        node.create_subscription(JointState, f"{prefix}/joint_states", self._on_joints, SENSOR_DATA,
                                 callback_group=group)
        self.target = node.create_publisher(PointStamped, f"{prefix}/policy_target", STATE)
        policy = f"{prefix}/{POLICY}"
        self.get_state = node.create_client(GetState, f"{policy}/get_state", callback_group=group)
        self.change_state = node.create_client(ChangeState, f"{policy}/change_state", callback_group=group)
        self.get_parameters = node.create_client(GetParameters, f"{policy}/get_parameters", callback_group=group)
        self.set_parameters = node.create_client(SetParameters, f"{policy}/set_parameters", callback_group=group)
        self.endpoint = Endpoint(policy, ErrorCode.CONFLICT, f"robot {robot_id(namespace)} has no policy node "
                                                             f"({policy})", server_wait_s=2.0)

    def _on_hardware(self, msg: Any) -> None:
        self.hardware = (msg, time.monotonic())

    def _on_joints(self, msg: Any) -> None:
        self.joints = dict(zip(msg.name, msg.position))

    def health(self) -> tuple[bool, str]:
        if self.hardware is None or time.monotonic() - self.hardware[1] > STATE_FRESH_S:
            return False, "its servo controller publishes no hardware_state"
        msg = self.hardware[0]
        if msg.emergency_stop:
            return False, f"in emergency stop ({msg.emergency_stop_reason or 'no reason given'})"
        faults = [f"{name}: {fault}" for name, fault in zip(msg.joint_names, msg.joint_faults) if fault]
        return (False, f"faulted joints: {'; '.join(faults)}") if faults else (True, "")


class RosFleet:
    def __init__(self, node: Node) -> None:
        self._node, self._group = node, ReentrantCallbackGroup()
        self._robots: dict[str, _Robot] = {}
        self._lock = threading.Lock()

    # -- Fleet ----------------------------------------------------------------------------
    def robots(self) -> list[RobotHealth]:
        found = sorted({ns for name, ns in self._node.get_node_names_and_namespaces() if name == CONTROLLER})
        with self._lock:
            for namespace in found:
                if robot_id(namespace) not in self._robots:
                    self._robots[robot_id(namespace)] = _Robot(self._node, namespace, self._group)
        healths = []
        for namespace in found:
            robot = self._robot(robot_id(namespace))
            if robot.hardware is None:   # just subscribed: its next state comes within a cycle or two
                deadline = time.monotonic() + STATE_FRESH_S
                while robot.hardware is None and time.monotonic() < deadline:
                    time.sleep(0.05)
            healthy, reason = robot.health()
            healths.append(RobotHealth(robot_id(namespace), namespace, healthy, reason, self._running(robot)))
        return sorted(healths, key=lambda robot: robot.id)

    def activate(self, robot_name: str, model_id: str) -> None:
        robot = self._robot(robot_name)
        self._stop(robot)
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=model_id)
        answer = call(robot.set_parameters, SetParameters.Request(parameters=[Parameter(name="model_id", value=value)]),
                      robot.endpoint, CALL_TIMEOUT_S)
        if not answer.results[0].successful:
            raise EmbodiedError(f"robot {robot_name} refused model_id {model_id}: {answer.results[0].reason}",
                                ErrorCode.CONFLICT)
        for transition, label in ((Transition.TRANSITION_CONFIGURE, "load"), (Transition.TRANSITION_ACTIVATE, "start")):
            if not self._transition(robot, transition):
                raise EmbodiedError(f"robot {robot_name}'s policy node could not {label} {model_id} "
                                    "(its log says why)", ErrorCode.CONFLICT)

    def deactivate(self, robot_name: str) -> None:
        self._stop(self._robot(robot_name))

    def set_target(self, robot_name: str, point: np.ndarray) -> None:
        msg = PointStamped()
        msg.header.frame_id, msg.header.stamp = "base_link", self._node.get_clock().now().to_msg()
        msg.point.x, msg.point.y, msg.point.z = (float(v) for v in point)
        self._robot(robot_name).target.publish(msg)

    def positions(self, robot_name: str) -> Mapping[str, float] | None:
        return self._robot(robot_name).joints

    # -- internals ------------------------------------------------------------------------
    def _robot(self, robot_name: str) -> _Robot:
        with self._lock:
            robot = self._robots.get(robot_name)
        if robot is None:
            raise EmbodiedError(f"no robot {robot_name} in the graph", ErrorCode.CONFLICT)
        return robot

    def _state(self, robot: _Robot) -> int:
        return int(call(robot.get_state, GetState.Request(), robot.endpoint, CALL_TIMEOUT_S).current_state.id)

    def _running(self, robot: _Robot) -> str | None:
        """The model id the robot's policy node runs (active), else None (also without a policy node)."""
        if not robot.get_state.service_is_ready() or self._state(robot) != State.PRIMARY_STATE_ACTIVE:
            return None
        answer = call(robot.get_parameters, GetParameters.Request(names=["model_id"]), robot.endpoint, CALL_TIMEOUT_S)
        return str(answer.values[0].string_value) or None

    def _transition(self, robot: _Robot, transition: int) -> bool:
        request = ChangeState.Request(transition=Transition(id=transition))
        return bool(call(robot.change_state, request, robot.endpoint, CALL_TIMEOUT_S).success)

    def _stop(self, robot: _Robot) -> None:
        """Active -> inactive -> unconfigured (the policy released), each step from the state the node
        reports (a transition it does not have would fail in the node itself)."""
        for state, transition in ((State.PRIMARY_STATE_ACTIVE, Transition.TRANSITION_DEACTIVATE),
                                  (State.PRIMARY_STATE_INACTIVE, Transition.TRANSITION_CLEANUP)):
            if self._state(robot) == state and not self._transition(robot, transition):
                raise EmbodiedError(f"robot {robot_id(robot.namespace)}'s policy node refused to stop "
                                    "(its log says why)", ErrorCode.CONFLICT)
