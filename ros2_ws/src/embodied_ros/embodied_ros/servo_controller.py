"""Servo controller node: owns the hardware back end and enforces the safety contract.

A lifecycle node, as ros2/demos lifecycle_py: configure loads the URDF and opens the hardware
and creates the endpoints; activate turns the torque on and starts the control loop (its own
thread at ``rate_hz``, so callbacks never add jitter to it); deactivate stops the loop holding
the pose; cleanup releases the hardware and removes every endpoint. With ``autostart``
(default) it configures and activates itself, as nav2's lifecycle manager would. All logic is
in embodied_ai.control (runtime.ControllerRuntime and what it uses); parameters:
embodied_ai.control.config.ServoControllerConfig.

Endpoints (relative names, so a namespace moves them all), from configure until cleanup:
  publishes  joint_states (sensor_msgs/JointState, while active), robot_description
             (std_msgs/String, transient local), hardware_state (embodied_interfaces/HardwareState)
  actions    move_joints (MoveJoints), grasp (Grasp); goals are refused while not active
  services   emergency_stop, reset_emergency_stop (std_srvs/Trigger), sim/inject_fault
  subscribes joint_commands (sensor_msgs/JointState positions; a 0.5 s watchdog stops them),
             detections (embodied_interfaces/Detection2DArray from perception: where each object
             id is, for grasp by object_id)
  sim only   sim/objects (embodied_interfaces/SimObjects, latched: what the simulated cameras draw)
"""

from __future__ import annotations

from typing import Any

from builtin_interfaces.msg import Time
from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.msg import Detection2DArray, HardwareState, SimObjects
from embodied_interfaces.srv import InjectFault
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.publisher import Publisher
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from embodied_ai.control.config import ServoControllerConfig
from embodied_ai.control.loop import Tick
from embodied_ai.control.reach import KnownObjects
from embodied_ai.control.runtime import ControllerRuntime
from embodied_ai.errors import EmbodiedError
from embodied_ros.conversions import hardware_state_msg, joint_state_msg, sim_objects_msg
from embodied_ros.kit.detections import decode_detections
from embodied_ros.kit.endpoints import ConfiguredEndpoints
from embodied_ros.kit.goals import Ending, accept_cancel, accept_while, finish, refuse
from embodied_ros.kit.lifecycle import autostart
from embodied_ros.kit.parameters import declare_parameters, read_parameters
from embodied_ros.kit.qos import COMMANDS, LATCHED, STATE
from embodied_ros.kit.services import reply
from embodied_ros.kit.spin import Component, Workers, run_standalone

SIM_OBJECTS_PERIOD_S = 0.1   # how often the simulator's objects are checked for a change


class ServoControllerNode(LifecycleNode):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("servo_controller", **node_options)
        self.config = declare_parameters(self, ServoControllerConfig)
        self._known_objects = KnownObjects(self.config.object_max_age_s)   # kept across configure cycles
        self._runtime: ControllerRuntime | None = None
        self._endpoints = ConfiguredEndpoints(self)
        self._workers = Workers(self)

    # -- lifecycle ----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.config = read_parameters(self, ServoControllerConfig)   # as they are set now
            self._known_objects.max_age_s = self.config.object_max_age_s
            self._runtime = ControllerRuntime.open(self.config, self._known_objects)
        except (ValueError, OSError, EmbodiedError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        with self._endpoints.recording():
            self._make_endpoints(self._runtime)
        self.get_logger().info(f"configured: {self._runtime.describe()} ({self.config.robot_description_file})")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self._runtime is not None
        try:   # a loop that fails ends the node (exit 1) for the launcher to restart
            self._runtime.activate(lambda: self.get_clock().now().to_msg(), self._publish_tick, self.context.ok,
                                   lambda body: self._workers.run("control loop", body),
                                   self.get_logger().info)
        except EmbodiedError as exc:
            self.get_logger().error(f"activate failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info("active: torque on, holding pose")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._runtime is not None:
            self._runtime.deactivate()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.close()
        return TransitionCallbackReturn.SUCCESS

    on_shutdown = on_cleanup   # from any state: stop the loop, remove the endpoints, release the hardware

    def configured(self) -> bool:
        return self._runtime is not None

    def close(self) -> None:
        """Stop the loop (holding the pose), remove the endpoints, release the hardware; safe to call twice."""
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close()
        self._endpoints.destroy()

    # -- endpoints ----------------------------------------------------------------------
    def _make_endpoints(self, runtime: ControllerRuntime) -> None:
        actions, services = ReentrantCallbackGroup(), MutuallyExclusiveCallbackGroup()
        self._joint_states = self.create_publisher(JointState, "joint_states", STATE)
        self._hardware_state = self.create_publisher(HardwareState, "hardware_state", STATE)
        self.create_publisher(String, "robot_description", LATCHED).publish(
            String(data=runtime.controller.description.urdf))
        self.create_service(Trigger, "emergency_stop", reply(lambda _: runtime.emergency_stop()),
                            callback_group=services)
        self.create_service(Trigger, "reset_emergency_stop", reply(lambda _: runtime.reset_emergency_stop()),
                            callback_group=services)
        self.create_subscription(JointState, "joint_commands", self._on_joint_command, COMMANDS,
                                 callback_group=services)
        # Where perception placed each tracked object, for grasp by object_id.
        self.create_subscription(Detection2DArray, self.config.detections_topic,
                                 lambda msg: self._known_objects.remember(decode_detections(msg)), STATE,
                                 callback_group=services)
        for action, name, execute in ((MoveJoints, "move_joints", self._execute_move),
                                      (Grasp, "grasp", self._execute_grasp)):
            # Accepted while active; an invalid goal is then aborted with its reason in the result.
            ActionServer(self, action, name, execute, callback_group=actions, cancel_callback=accept_cancel,
                         goal_callback=accept_while(lambda: self._runtime is not None and self._runtime.active))
        if runtime.sim is not None:
            self.create_service(InjectFault, "sim/inject_fault",
                                reply(lambda q: runtime.inject_fault(q.joint, q.fault)), callback_group=services)
            objects, table_z_m = self.create_publisher(SimObjects, "sim/objects", LATCHED), runtime.sim.table.top_z_m
            self.create_timer(SIM_OBJECTS_PERIOD_S, lambda: self._publish_objects(runtime, objects, table_z_m),
                              services)

    # -- the control loop's output (its thread) and the simulator's objects -----------------
    def _publish_tick(self, tick: Tick[Time]) -> None:
        self._joint_states.publish(joint_state_msg(tick.status, tick.stamp))
        for event in tick.status.events:
            self.get_logger().warning(event)
        if tick.events is not None:
            self._hardware_state.publish(hardware_state_msg(tick.status, tick.backend, tick.rate_hz, tick.events,
                                                            self.get_clock().now().to_msg()))

    def _publish_objects(self, runtime: ControllerRuntime, publisher: Publisher, table_z_m: float) -> None:
        if (states := runtime.changed_objects()) is not None:
            publisher.publish(sim_objects_msg(states, table_z_m, self.get_clock().now().to_msg()))

    # -- subscriptions --------------------------------------------------------------------
    def _on_joint_command(self, msg: JointState) -> None:
        try:
            if self._runtime is not None:
                self._runtime.stream(list(msg.name), list(msg.position))
        except EmbodiedError as exc:
            self.get_logger().warning(f"joint_commands refused ({exc.code.value}): {exc}", throttle_duration_sec=1.0)

    # -- actions: a finished command's state ("succeeded", "canceled", "aborted") names its Ending --------
    def _execute_move(self, goal_handle: ServerGoalHandle) -> MoveJoints.Result:
        request, result, names = goal_handle.request, MoveJoints.Result(), list(goal_handle.request.joint_names)
        try:
            assert self._runtime is not None   # goals are accepted only while active
            handle, result.positions = self._runtime.move(
                names, list(request.positions), request.duration, request.relative,
                lambda: goal_handle.is_cancel_requested, lambda positions, progress: goal_handle.publish_feedback(
                    MoveJoints.Feedback(joint_names=names, positions=positions, progress=progress)))
        except EmbodiedError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        result.joint_names = names
        return finish(goal_handle, result, Ending(handle.state.value), handle.error_code, handle.message)

    def _execute_grasp(self, goal_handle: ServerGoalHandle) -> Grasp.Result:
        request, result = goal_handle.request, Grasp.Result()
        try:
            assert self._runtime is not None   # goals are accepted only while active
            handle, outcome = self._runtime.grasp(
                request.object_id, request.side, request.force,
                lambda: goal_handle.is_cancel_requested, lambda force, gripper_position: goal_handle.publish_feedback(
                    Grasp.Feedback(force=force, gripper_position=gripper_position)))
        except EmbodiedError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        result.grasped, result.force_applied, result.time_ms = outcome.grasped, outcome.force_applied, outcome.time_ms
        return finish(goal_handle, result, Ending(handle.state.value), handle.error_code, handle.message)


def component(**node_options: Any) -> Component:
    node = ServoControllerNode(**node_options)

    def start() -> None:
        if node.config.autostart:   # else it waits, unconfigured, for change_state (configure, activate)
            autostart(node, node.config.autostart_retry_s, configured=node.configured)
    # A failed loop exits 1: the launcher restarts the node rather than leave a robot without a watchdog.
    return Component(node, threads=4, start=start, stop=node.close, workers=node._workers)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
