"""The launcher's own node (``launcher``), inside the `embodied up` process: the graph's services over ROS,
answered from its Supervisor (``embodied_ai.launcher.control``). The REST bridge asks; the launcher acts.

  services  ~/list_services (embodied_interfaces/ListServices): every node and its process's state
            ~/control_service (embodied_interfaces/ControlService): start, stop or restart a node's process
  subscribes joint_states: a stop or restart of the servo controller is refused while a joint moves

The node spins in its own thread (a multi-threaded executor: a stop waits for the process to exit, and the
list and the joint states go on meanwhile). rclpy installs no signal handlers: the Supervisor owns SIGINT.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

import rclpy
from embodied_interfaces.srv import ControlService, ListServices
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import JointState

from embodied_ai.launcher.control import MotionWatch, ServiceControl, service_record
from embodied_ai.launcher.supervisor import Supervisor
from embodied_ros.kit.qos import STATE
from embodied_ros.kit.services import answer

NODE_NAME = "launcher"
# The DDS settings the launched nodes get (launcher.environment): the launcher's node joins the same graph.
DDS_VARIABLES = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY",
                 "FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION")


class LauncherNode(Node):
    def __init__(self, control: ServiceControl, motion: MotionWatch, context: Context) -> None:
        super().__init__(NODE_NAME, context=context)
        self._control = control
        self._motion = motion
        services = ReentrantCallbackGroup()   # a stop waits for its process; a list answers meanwhile
        self.create_service(ListServices, "~/list_services", answer(self._on_list), callback_group=services)
        self.create_service(ControlService, "~/control_service", answer(self._on_control), callback_group=services)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, STATE,
                                 callback_group=MutuallyExclusiveCallbackGroup())

    def _on_joint_states(self, msg: JointState) -> None:
        self._motion.observe(msg.velocity)

    def _on_list(self, request: Any, response: Any) -> Any:
        response.services_json = json.dumps([service_record(state) for state in self._control.services()])
        return response

    def _on_control(self, request: Any, response: Any) -> Any:
        self.get_logger().info(f"{request.action} {request.name}{' (force)' if request.force else ''} requested")
        outcome = self._control.control(request.name, request.action, request.force)
        response.service_json = json.dumps(service_record(outcome.service))
        response.affects = list(outcome.affects)
        return response


class LauncherRos:
    """The launcher node spinning in its own thread; ``close()`` stops it."""

    def __init__(self, supervisor: Supervisor, env: Mapping[str, str]) -> None:
        for name in DDS_VARIABLES:
            if name in env:
                os.environ[name] = env[name]
        self._context = Context()
        rclpy.init(context=self._context, signal_handler_options=SignalHandlerOptions.NO)
        motion = MotionWatch()
        self._node = LauncherNode(ServiceControl(supervisor, motion), motion, self._context)
        self._executor = MultiThreadedExecutor(num_threads=3, context=self._context)
        self._executor.add_node(self._node)
        self._thread = threading.Thread(target=self._spin, name="launcher_ros", daemon=True)
        self._thread.start()
        self._node.get_logger().info("serving list_services, control_service")

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except ExternalShutdownException:
            pass

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=2.0)
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._context)
