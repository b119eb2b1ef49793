"""The experts' commander's RobotPort over ROS: the servo controller's move_joints and grasp
actions and emergency_stop service, the latest joint states, and perception's detections for
"describe the scene".

Every call comes from the handle_command goal's thread, never the executor's, so it may block
(embodied_ros.kit.goal_client); a missing servo controller answers HARDWARE_ERROR, a result that
does not come in time TIMEOUT (and the goal is cancelled).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.msg import Detection2DArray
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import Trigger

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.perception.scene import describe_scene
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.detections import decode_detections
from embodied_ros.kit.goal_client import Endpoint, call, run_goal
from embodied_ros.kit.latest import JointPositions
from embodied_ros.kit.qos import STATE

_SERVO = "the servo controller is not running"
MOVE_JOINTS = Endpoint("move_joints", ErrorCode.HARDWARE_ERROR, _SERVO, server_wait_s=2.0)
GRASP = Endpoint("grasp", ErrorCode.HARDWARE_ERROR, _SERVO, server_wait_s=2.0)
EMERGENCY_STOP = Endpoint("emergency_stop", ErrorCode.HARDWARE_ERROR, _SERVO, server_wait_s=2.0)
EMERGENCY_STOP_TIMEOUT_S = 5.0  # the servo controller latches the stop at once


class RosRobotPort:
    """The commander's RobotPort over the servo controller's actions and services; called from
    the handle_command goal's thread, never the executor's."""

    def __init__(self, node: Node, timeout_s: float, scene_max_age_s: float) -> None:
        group = ReentrantCallbackGroup()
        self._move = ThreadSafeActionClient(node, MoveJoints, "move_joints", callback_group=group)
        self._grasp = ThreadSafeActionClient(node, Grasp, "grasp", callback_group=group)
        self._estop = node.create_client(Trigger, "emergency_stop", callback_group=group)
        self._timeout_s, self._scene_max_age_s = timeout_s, scene_max_age_s
        self._joint_states = JointPositions(node)  # decoded only for a relative move
        self._detections: tuple[float, Detection2DArray] | None = None  # (received, monotonic s)
        node.create_subscription(Detection2DArray, "detections", self._on_detections, STATE, callback_group=group)

    def positions(self) -> Mapping[str, float] | None:
        return self._joint_states.positions()

    def destroy(self) -> None:
        """The joint-states reader is a node of its own: the node's cleanup cannot see it."""
        self._joint_states.destroy()

    def move_joints(self, targets: Mapping[str, float], relative: bool) -> tuple[bool, int, str]:
        goal = MoveJoints.Goal(joint_names=list(targets), positions=[float(v) for v in targets.values()],
                               relative=relative)
        try:
            result = run_goal(self._move, goal, MOVE_JOINTS, self._timeout_s)
        except EmbodiedError as exc:  # no servo controller (HARDWARE_ERROR), no result in time (TIMEOUT)
            return False, int(exc.code), str(exc)
        return bool(result.success), int(result.error_code), result.message

    def grasp(self, side: str, force: float) -> tuple[bool, int, str]:
        try:
            result = run_goal(self._grasp, Grasp.Goal(side=side, force=force, object_id=-1), GRASP, self._timeout_s)
        except EmbodiedError as exc:
            return False, int(exc.code), str(exc)
        # A grasp that closed on nothing still ran safely; the reply says what happened.
        ok = result.error_code == 0
        return ok, int(result.error_code), result.message or ("grasped" if result.grasped else "nothing grasped")

    def emergency_stop(self) -> tuple[bool, int, str]:
        try:
            response = call(self._estop, Trigger.Request(), EMERGENCY_STOP, EMERGENCY_STOP_TIMEOUT_S)
        except EmbodiedError as exc:
            return False, int(exc.code), str(exc)
        return bool(response.success), 0, response.message

    def _on_detections(self, msg: Detection2DArray) -> None:
        self._detections = (time.monotonic(), msg)

    def describe_scene(self) -> str | None:
        """The latest detections in words; None when perception has said nothing lately."""
        if self._detections is None or time.monotonic() - self._detections[0] > self._scene_max_age_s:
            return None
        return describe_scene([d.seen() for d in decode_detections(self._detections[1])])
