"""Servo controller node: owns the hardware back end and enforces the safety contract.

A lifecycle node (configure: load the URDF and open the hardware; activate: torque on and
start the control loop). With ``autostart`` (default) it configures and activates itself,
as nav2's lifecycle manager would. The control loop runs in its own thread at ``rate_hz``
so action and service callbacks never add jitter to it; all logic is in
embodied_ai.control.ServoController.

Endpoints (relative names, so a namespace moves them all):
  publishes  joint_states (sensor_msgs/JointState), robot_description (std_msgs/String,
             transient local), hardware_state (embodied_interfaces/HardwareState)
  actions    move_joints (MoveJoints), grasp (Grasp)
  services   emergency_stop, reset_emergency_stop (std_srvs/Trigger), sim/inject_fault
  subscribes joint_commands (sensor_msgs/JointState positions; a 0.5 s watchdog stops them),
             detections (embodied_interfaces/Detection2DArray from perception: where each object
             id is, for grasp by object_id)
  sim only   sim/objects (embodied_interfaces/SimObjects, latched: what the simulated cameras draw)
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import rclpy
from embodied_interfaces.action import Grasp, MoveJoints
from embodied_interfaces.msg import Detection2DArray, HardwareState, SimObjects
from embodied_interfaces.srv import InjectFault
from geometry_msgs.msg import Point
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from embodied_ai.control import CommandHandle, CommandState, ServoController
from embodied_ai.control.reach import ArmReach, KnownObjects, Step, plan_grasp, run_steps
from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.hardware.factory import create_hardware, load_hardware_config
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.robot import load_robot_description
from embodied_ai.safety import load_safety_config
from embodied_ros.conversions import hardware_state_msg, joint_state_msg
from embodied_ros.kit.detections import decode_detections
from embodied_ros.kit.goals import Ending, finish, refuse
from embodied_ros.kit.qos import COMMANDS, LATCHED, STATE
from embodied_ros.kit.spin import run_worker

FEEDBACK_PERIOD_S = 0.05
HARDWARE_STATE_EVERY_N_TICKS = 10


class ServoControllerNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("servo_controller")
        self.declare_parameter("robot_description_file", "")
        self.declare_parameter("safety_config_file", "")
        self.declare_parameter("hardware", "sim")
        self.declare_parameter("hardware_config_file", "")
        self.declare_parameter("rate_hz", 200.0)
        self.declare_parameter("autostart", True)
        self.declare_parameter("autostart_retry_s", 5.0)
        self.declare_parameter("detections_topic", "detections")
        self.declare_parameter("object_max_age_s", 5.0)
        self._known_objects = KnownObjects(float(self.get_parameter("object_max_age_s").value))
        self._reach: ArmReach | None = None
        self._sim_objects_published: list[object] | None = None
        self._controller: ServoController | None = None
        self._loop_thread: threading.Thread | None = None
        self._loop_stop = threading.Event()
        self._active = False
        self._endpoints: list[Any] = []
        self._action_servers: list[ActionServer] = []
        self._rate_hz = 0.0       # configured loop rate
        self._loop_rate_hz = 0.0  # measured over the last second
        self.loop_failed = False

    # -- lifecycle ----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = {name: self.get_parameter(name).value for name in (
            "robot_description_file", "safety_config_file", "hardware", "hardware_config_file", "rate_hz")}
        try:
            description = load_robot_description(p["robot_description_file"])
            safety = load_safety_config(p["safety_config_file"] or None)
            hardware = create_hardware(p["hardware"], description, load_hardware_config(p["hardware_config_file"]))
            hardware.open()
        except (ValueError, OSError, EmbodiedError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._rate_hz = float(p["rate_hz"])
        self._controller = ServoController(description, hardware, safety)
        self._reach = ArmReach(description)
        self._make_endpoints(description.urdf)
        self.get_logger().info(
            f"configured: {len(description.joint_names)} joints from {p['robot_description_file']}, "
            f"hardware '{hardware.kind}', loop {self._rate_hz:.0f} Hz")
        return TransitionCallbackReturn.SUCCESS

    def autostart(self) -> None:
        """Configure and activate; if the hardware is not there yet, retry until it is."""
        if self._try_autostart():
            return
        period = float(self.get_parameter("autostart_retry_s").value)
        self.get_logger().warning(f"autostart failed; retrying every {period:.0f} s")

        def retry() -> None:
            if self._try_autostart():
                timer.cancel()
        timer = self.create_timer(period, retry)

    def _try_autostart(self) -> bool:
        if self._controller is None and self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self._controller is not None
        try:
            self._controller.activate()
        except EmbodiedError as exc:
            self.get_logger().error(f"activate failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._loop_stop.clear()
        self._loop_thread = threading.Thread(target=self._control_loop, name="control_loop", daemon=True)
        self._loop_thread.start()
        self._active = True
        self.get_logger().info("active: torque on, holding pose")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_loop()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.close()
        return TransitionCallbackReturn.SUCCESS

    def close(self) -> None:
        """Stop the loop (holding the pose) and release the hardware; safe to call twice."""
        self._stop_loop()
        self._release()

    def _stop_loop(self) -> None:
        self._active = False
        self._loop_stop.set()
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=2.0)
            self._loop_thread = None
        if self._controller is not None:
            self._controller.deactivate()

    def _release(self) -> None:
        for server in self._action_servers:
            server.destroy()
        for endpoint in self._endpoints:
            endpoint.destroy()
        self._action_servers, self._endpoints = [], []
        if self._controller is not None:
            self._controller.hardware.close()
            self._controller = None

    # -- endpoints ----------------------------------------------------------------------
    def _make_endpoints(self, urdf: str) -> None:
        actions = ReentrantCallbackGroup()
        services = MutuallyExclusiveCallbackGroup()
        self._joint_states = self.create_publisher(JointState, "joint_states", STATE)
        self._hardware_state = self.create_publisher(HardwareState, "hardware_state", STATE)
        description_pub = self.create_publisher(String, "robot_description", LATCHED)
        description_pub.publish(String(data=urdf))
        self._endpoints += [self._joint_states, self._hardware_state, description_pub]
        self._endpoints += [
            self.create_service(Trigger, "emergency_stop", self._on_emergency_stop, callback_group=services),
            self.create_service(Trigger, "reset_emergency_stop", self._on_reset, callback_group=services),
            self.create_subscription(JointState, "joint_commands", self._on_joint_command, COMMANDS,
                                     callback_group=services),
        ]
        self._endpoints.append(self.create_subscription(
            Detection2DArray, str(self.get_parameter("detections_topic").value), self._on_detections, STATE,
            callback_group=services))
        if isinstance(self._controller.hardware, SimulatedRobot):
            self._endpoints.append(
                self.create_service(InjectFault, "sim/inject_fault", self._on_inject_fault, callback_group=services))
            self._sim_objects = self.create_publisher(SimObjects, "sim/objects", LATCHED)
            self._endpoints += [self._sim_objects,
                                self.create_timer(0.1, self._publish_sim_objects, callback_group=services)]
        self._action_servers = [
            ActionServer(self, MoveJoints, "move_joints", self._execute_move, callback_group=actions,
                         goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT),
            ActionServer(self, Grasp, "grasp", self._execute_grasp, callback_group=actions,
                         goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT),
        ]

    def _on_goal(self, _goal: Any) -> GoalResponse:
        # Accept everything while active: invalid goals are then aborted *with a reason* in the
        # result, which a bare REJECT cannot carry.
        return GoalResponse.ACCEPT if self._active else GoalResponse.REJECT

    # -- control loop (own thread) ------------------------------------------------------
    def _control_loop(self) -> None:
        # The servos keep their last goal (hold) when the loop stops; the node exits non-zero so
        # the launcher restarts it rather than leave a robot without a watchdog.
        run_worker(self, "control loop", self._run_control_loop, self._record_failure)

    def _record_failure(self) -> None:
        self.loop_failed = True

    def _run_control_loop(self) -> None:
        controller = self._controller
        assert controller is not None
        period = 1.0 / self._rate_hz
        next_tick = time.monotonic()
        tick_count, events = 0, []
        rate_window_start, rate_window_ticks = next_tick, 0
        while not self._loop_stop.is_set() and self.context.ok():
            read_at = self.get_clock().now()  # the tick reads the servos first: the states are of this moment
            status = controller.tick()
            self._joint_states.publish(joint_state_msg(status, read_at.to_msg()))
            events.extend(status.events)
            for event in status.events:
                self.get_logger().warning(event)
            tick_count += 1
            rate_window_ticks += 1
            now = time.monotonic()
            if now - rate_window_start >= 1.0:
                self._loop_rate_hz = rate_window_ticks / (now - rate_window_start)
                rate_window_start, rate_window_ticks = now, 0
            if tick_count % HARDWARE_STATE_EVERY_N_TICKS == 0 or events and status.emergency_stop:
                self._hardware_state.publish(hardware_state_msg(
                    status, controller.hardware.kind, self._loop_rate_hz, events, self.get_clock().now().to_msg()))
                events = []
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay > 0:
                self._loop_stop.wait(delay)
            elif -delay > period:
                next_tick = time.monotonic()  # overran by a whole period: do not try to catch up

    # -- services -----------------------------------------------------------------------
    def _on_emergency_stop(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._controller is None:
            response.success, response.message = False, "servo controller is not configured"
            return response
        first = self._controller.emergency_stop("emergency_stop service called")
        response.success = True
        response.message = "emergency stop latched" if first else "emergency stop was already latched"
        return response

    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._controller is None:
            response.success, response.message = False, "servo controller is not configured"
            return response
        _, response.message = self._controller.reset_emergency_stop()
        response.success = True
        return response

    def _on_inject_fault(self, request: InjectFault.Request, response: InjectFault.Response) -> InjectFault.Response:
        hardware = self._controller.hardware if self._controller else None
        try:
            assert isinstance(hardware, SimulatedRobot)
            hardware.inject_fault(request.joint, request.fault)
            response.success, response.message = True, f"injected '{request.fault}' on {request.joint}"
        except (KeyError, ValueError) as exc:
            response.success, response.message = False, str(exc)
        return response

    def _on_detections(self, msg: Detection2DArray) -> None:
        """Remember where perception placed each tracked object (for grasp by object_id)."""
        for detection in decode_detections(msg):
            if detection.object_id is not None and detection.position is not None:
                self._known_objects.update(detection.object_id, detection.label, detection.position)

    def _publish_sim_objects(self) -> None:
        hardware = self._controller.hardware if self._controller else None
        if not isinstance(hardware, SimulatedRobot):
            return
        states = hardware.object_states()
        if states == self._sim_objects_published:
            return
        msg = SimObjects()
        msg.header.stamp, msg.header.frame_id = self.get_clock().now().to_msg(), "base_link"
        for object_id, holder, table_xy in states:
            msg.ids.append(object_id)
            msg.holders.append(holder)
            x, y = table_xy or (0.0, 0.0)
            msg.positions.append(Point(x=x, y=y, z=hardware.table.top_z_m))
        self._sim_objects.publish(msg)
        self._sim_objects_published = states

    def _on_joint_command(self, msg: JointState) -> None:
        if self._controller is None or not self._active:
            return
        if len(msg.name) != len(msg.position):
            self.get_logger().warning("joint_commands: name and position differ in length; ignored")
            return
        try:
            self._controller.stream(dict(zip(msg.name, msg.position)))
        except EmbodiedError as exc:
            self.get_logger().warning(f"joint_commands refused ({exc.code.value}): {exc}",
                                      throttle_duration_sec=1.0)

    # -- actions ------------------------------------------------------------------------
    def _execute_move(self, goal_handle: ServerGoalHandle) -> MoveJoints.Result:
        request = goal_handle.request
        result = MoveJoints.Result()
        names, positions = list(request.joint_names), list(request.positions)
        try:
            if len(names) != len(positions):
                raise EmbodiedError("joint_names and positions differ in length", ErrorCode.SAFETY_VIOLATION)
            if len(set(names)) != len(names):
                raise EmbodiedError("a joint is named twice", ErrorCode.SAFETY_VIOLATION)
            handle = self._controller.move(dict(zip(names, positions)), request.duration or None, request.relative)
        except EmbodiedError as exc:
            return self._abort(goal_handle, result, exc.code, str(exc))

        feedback = MoveJoints.Feedback(joint_names=names)
        while not handle.wait(FEEDBACK_PERIOD_S):
            if goal_handle.is_cancel_requested and handle.state is CommandState.RUNNING:
                self._controller.cancel(handle)
            measured = self._controller_positions()
            feedback.positions = [measured.get(j, float("nan")) for j in names]
            feedback.progress = handle.progress
            goal_handle.publish_feedback(feedback)
        measured = self._controller_positions()
        result.joint_names, result.positions = names, [measured.get(j, float("nan")) for j in names]
        return self._finish(goal_handle, handle, result)

    def _execute_grasp(self, goal_handle: ServerGoalHandle) -> Grasp.Result:
        request = goal_handle.request
        result = Grasp.Result()
        if request.object_id >= 0:
            return self._execute_grasp_object(goal_handle, request.side or None)
        side = request.side or "r"
        try:
            handle = self._controller.grasp(side, request.force)
        except EmbodiedError as exc:
            return self._abort(goal_handle, result, exc.code, str(exc))
        feedback = Grasp.Feedback()
        joint = f"gripper_{side}"
        while not handle.wait(FEEDBACK_PERIOD_S):
            if goal_handle.is_cancel_requested and handle.state is CommandState.RUNNING:
                self._controller.cancel(handle)
            feedback.force = float(handle.result.get("force_applied", 0.0))
            feedback.gripper_position = self._controller_positions().get(joint, float("nan"))
            goal_handle.publish_feedback(feedback)
        result.grasped = bool(handle.result.get("grasped", 0.0))
        result.force_applied = float(handle.result.get("force_applied", 0.0))
        result.time_ms = int(handle.result.get("time_ms", 0.0))
        return self._finish(goal_handle, handle, result)

    def _execute_grasp_object(self, goal_handle: ServerGoalHandle, side: str | None) -> Grasp.Result:
        """Reach the object perception knows by this id, close on it, lift it (embodied_ai.control.reach);
        with no side given, with the arm that can reach it."""
        request, result = goal_handle.request, Grasp.Result()
        controller, reach = self._controller, self._reach
        assert controller is not None and reach is not None
        try:
            seen = self._known_objects.resolve(request.object_id)
            side, steps = plan_grasp(reach, side, seen.position, controller.setpoints, request.force)
        except EmbodiedError as exc:
            return self._abort(goal_handle, result, exc.code, f"grasp object {request.object_id}: {exc}")
        feedback, gripper = Grasp.Feedback(), f"gripper_{side}"

        def wait(step: Step, handle: CommandHandle) -> None:
            while not handle.wait(FEEDBACK_PERIOD_S):
                if goal_handle.is_cancel_requested and handle.state is CommandState.RUNNING:
                    controller.cancel(handle)
                feedback.force = float(handle.result.get("force_applied", 0.0)) if step.grasp_force else 0.0
                feedback.gripper_position = self._controller_positions().get(gripper, float("nan"))
                goal_handle.publish_feedback(feedback)

        try:
            handle = run_steps(controller, side, steps, wait)
        except EmbodiedError as exc:   # a step refused up front (e-stop, limits, force over the cap)
            return self._abort(goal_handle, result, exc.code, f"grasp object {request.object_id}: {exc}")
        result.grasped = bool(handle.result.get("grasped", 0.0))
        result.force_applied = float(handle.result.get("force_applied", 0.0))
        result.time_ms = int(handle.result.get("time_ms", 0.0))
        held = controller.hardware.held_object(side) if isinstance(controller.hardware, SimulatedRobot) else None
        handle.message = (f"object {request.object_id} ({seen.label} at {seen.position[0]:.2f}, {seen.position[1]:.2f} m): "
                          f"{handle.message}" + (f"; the simulator's '{held.name}' is in the {side} gripper" if held else ""))
        return self._finish(goal_handle, handle, result)

    def _controller_positions(self) -> dict[str, float]:
        return self._controller.positions if self._controller else {}

    @staticmethod
    def _abort(goal_handle: ServerGoalHandle, result: Any, code: ErrorCode, message: str) -> Any:
        return refuse(goal_handle, result, code, message)

    @staticmethod
    def _finish(goal_handle: ServerGoalHandle, handle: CommandHandle, result: Any) -> Any:
        ending = {CommandState.SUCCEEDED: Ending.SUCCEEDED, CommandState.CANCELED: Ending.CANCELED}
        return finish(goal_handle, result, ending.get(handle.state, Ending.ABORTED), handle.error_code, handle.message)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = ServoControllerNode()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        if node.get_parameter("autostart").value:
            node.autostart()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.close()
        node.destroy_node()
        rclpy.try_shutdown()
    if node.loop_failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
