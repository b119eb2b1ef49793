"""Experts node: the mixture of experts on the ROS graph; a thin adapter over
embodied_ai.experts (service, engine, registry, router, commander).

On start it opens the registry in ``state_dir``, builds the quantized base into the cache if
it is not there yet (once, ~1-2 min), registers the default experts from models/experts/ and
loads the router.

Endpoints (relative names):
  actions    generate (Generate: token feedback, cancel), handle_command (HandleCommand:
             words → validated robot action → move_joints / grasp / emergency_stop, and a reply)
  services   route (Route), set_expert_loaded (SetExpertLoaded)
  registry   services list_experts, get_expert, create_expert, update_expert, delete_expert,
             register_dataset, training_status; actions train_expert (resize too),
             retrain_router (embodied_ros.expert_registry)
  publishes  router_statistics (RouterStatistics, every ``statistics_period_s``)
  clients    move_joints (MoveJoints), grasp (Grasp), emergency_stop (std_srvs/Trigger)
  subscribes joint_states (sensor_msgs/JointState), detections (Detection2DArray: "describe the scene")
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rclpy
from embodied_interfaces.action import Generate, Grasp, HandleCommand, MoveJoints
from embodied_interfaces.msg import Detection2DArray, RouterStatistics
from embodied_interfaces.srv import Route, SetExpertLoaded
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import Trigger

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.base_build import BaseRecipe, build_base
from embodied_ai.experts.commander import RobotCommandHandler
from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.paths import state_dir as default_state_dir
from embodied_ai.experts.service import ExpertService
from embodied_ai.perception.scene import describe_scene
from embodied_ai.robot import load_robot_description
from embodied_ai.speech.commander import Command
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.expert_registry import ExpertRegistryEndpoints
from embodied_ros.kit.qos import STATE
from embodied_ros.kit.spin import spin_until_shutdown
from embodied_ros.kit.detections import decode_detections
from embodied_ros.vision import LatestJointState


def _wait(future: Any, timeout_s: float) -> bool:
    """Block this worker thread (not the executor's spin) until ``future`` is done."""
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    return done.wait(timeout_s)


class RosRobotPort:
    """The commander's RobotPort over the servo controller's actions and services."""

    def __init__(self, node: Node, timeout_s: float, scene_max_age_s: float) -> None:
        group = ReentrantCallbackGroup()
        self._move = ThreadSafeActionClient(node, MoveJoints, "move_joints", callback_group=group)
        self._grasp = ThreadSafeActionClient(node, Grasp, "grasp", callback_group=group)
        self._estop = node.create_client(Trigger, "emergency_stop", callback_group=group)
        self._timeout_s = timeout_s
        self._joint_states = LatestJointState(node, STATE)  # decoded only for a relative move
        self._detections: tuple[float, Detection2DArray] | None = None  # (received, monotonic s)
        self._scene_max_age_s = scene_max_age_s
        node.create_subscription(Detection2DArray, "detections", self._on_detections, STATE, callback_group=group)

    def positions(self) -> Mapping[str, float] | None:
        return self._joint_states.positions()

    def _run(self, client: ActionClient, goal: Any) -> Any:
        if not client.wait_for_server(timeout_sec=2.0):
            raise EmbodiedError(f"the {client._action_name} action server is not running", ErrorCode.HARDWARE_ERROR)
        sent = client.send_goal_async(goal)
        if not _wait(sent, 5.0) or not sent.result().accepted:
            raise EmbodiedError(f"{client._action_name} refused the goal", ErrorCode.HARDWARE_ERROR)
        result = sent.result().get_result_async()
        if not _wait(result, self._timeout_s):
            raise EmbodiedError(f"{client._action_name} did not finish in {self._timeout_s:.0f} s", ErrorCode.TIMEOUT)
        return result.result().result

    def move_joints(self, targets: Mapping[str, float], relative: bool) -> tuple[bool, int, str]:
        try:
            result = self._run(self._move, MoveJoints.Goal(
                joint_names=list(targets), positions=[float(v) for v in targets.values()], relative=relative))
        except EmbodiedError as exc:
            return False, int(exc.code), str(exc)
        return bool(result.success), int(result.error_code), result.message

    def grasp(self, side: str, force: float) -> tuple[bool, int, str]:
        try:
            result = self._run(self._grasp, Grasp.Goal(side=side, force=force, object_id=-1))
        except EmbodiedError as exc:
            return False, int(exc.code), str(exc)
        # A grasp that closed on nothing still ran safely; the reply says what happened.
        ok = result.error_code == 0
        return ok, int(result.error_code), result.message or ("grasped" if result.grasped else "nothing grasped")

    def emergency_stop(self) -> tuple[bool, int, str]:
        if not self._estop.wait_for_service(timeout_sec=2.0):
            return False, int(ErrorCode.HARDWARE_ERROR), "the emergency_stop service is not running"
        future = self._estop.call_async(Trigger.Request())
        if not _wait(future, 5.0):
            return False, int(ErrorCode.TIMEOUT), "emergency_stop did not answer"
        return bool(future.result().success), 0, future.result().message

    def _on_detections(self, msg: Detection2DArray) -> None:
        self._detections = (time.monotonic(), msg)

    def describe_scene(self) -> str | None:
        """The latest detections in words; None when perception has said nothing lately."""
        if self._detections is None or time.monotonic() - self._detections[0] > self._scene_max_age_s:
            return None
        return describe_scene([d.seen() for d in decode_detections(self._detections[1])])


class ExpertsNode(Node):
    def __init__(self) -> None:
        super().__init__("experts")
        self.declare_parameter("state_dir", "")               # "" = $EMBODIED_STATE_DIR or ~/.local/state/embodied
        self.declare_parameter("memory_budget_mb", 512.0)     # loaded adapters / scratch models
        self.declare_parameter("base_precision", "int8")      # the shared base: int8 (quality) or int4
        self.declare_parameter("robot_description_file", "")
        self.declare_parameter("statistics_period_s", 2.0)
        self.declare_parameter("action_timeout_s", 30.0)
        self.declare_parameter("scene_max_age_s", 2.0)          # older detections: "no perception"
        self.declare_parameter("use_router", True)
        # Folders whose files register_dataset / retrain_router may read; [""] = <state_dir>/datasets
        # (where the REST bridge keeps uploads when both use the same state directory).
        self.declare_parameter("dataset_dirs", [""])
        p = {n: self.get_parameter(n).value for n in (
            "state_dir", "memory_budget_mb", "base_precision", "robot_description_file", "statistics_period_s",
            "action_timeout_s", "scene_max_age_s", "use_router", "dataset_dirs")}
        state = Path(p["state_dir"]).expanduser() if p["state_dir"] else default_state_dir()
        base = build_base(BaseRecipe(precision=p["base_precision"]),
                          progress=lambda line: self.get_logger().info(f"base model: {line}"))
        router = None
        if p["use_router"]:
            from embodied_ai.experts.router import Router

            router = Router.load(state / "router")
        self.service = ExpertService(state, base, float(p["memory_budget_mb"]), router)
        if any(p["dataset_dirs"]):
            self.service.dataset_roots = [Path(d).expanduser() for d in p["dataset_dirs"] if d]
        # This process owns the state's training: jobs a previous run left unfinished are stopped.
        for job in self.service.recover_interrupted():
            self.get_logger().warn(f"training job {job} was interrupted by a restart: marked stopped (resumable)")
        installed = self.service.install_defaults()
        if installed:
            self.get_logger().info(f"installed default experts: {', '.join(installed)}")
        description = load_robot_description(p["robot_description_file"])
        self.robot = RosRobotPort(self, float(p["action_timeout_s"]), float(p["scene_max_age_s"]))
        self.commander = RobotCommandHandler(self.service, description, self.robot)

        actions = ReentrantCallbackGroup()
        services = MutuallyExclusiveCallbackGroup()
        self._generate = ActionServer(self, Generate, "generate", self._execute_generate, callback_group=actions,
                                      goal_callback=lambda _: GoalResponse.ACCEPT,
                                      cancel_callback=lambda _: CancelResponse.ACCEPT)
        self._command = ActionServer(self, HandleCommand, "handle_command", self._execute_command,
                                     callback_group=actions, goal_callback=lambda _: GoalResponse.ACCEPT)
        self.create_service(Route, "route", self._on_route, callback_group=services)
        self.create_service(SetExpertLoaded, "set_expert_loaded", self._on_set_loaded, callback_group=services)
        self.registry_endpoints = ExpertRegistryEndpoints(self, self.service)
        self._statistics = self.create_publisher(RouterStatistics, "router_statistics", STATE)
        self.create_timer(float(p["statistics_period_s"]), self._publish_statistics, callback_group=services)
        experts, _ = self.service.registry.list(limit=1000)
        self.get_logger().info(
            f"ready: experts {', '.join(f'{e.name} ({e.status})' for e in experts)}; base {base.onnx_dir}; "
            f"providers {self.service.engine.providers or ['cpu']}")

    # -- generate -----------------------------------------------------------------------
    def _execute_generate(self, goal_handle: ServerGoalHandle) -> Generate.Result:
        request = goal_handle.request
        result = Generate.Result()
        cancel = threading.Event()

        def on_text(text: str, tokens: int) -> None:
            if goal_handle.is_cancel_requested:
                cancel.set()
            goal_handle.publish_feedback(Generate.Feedback(text=text, completion_tokens=tokens))

        schema = request.json_schema or None
        try:
            served = self.service.generate(GenerationRequest(
                prompt=request.prompt, system=request.system, max_tokens=int(request.max_tokens),
                temperature=float(request.temperature), top_p=float(request.top_p) or 1.0, stop=list(request.stop),
                json_schema=schema), expert=request.expert, on_text=on_text, cancel=cancel)
        except EmbodiedError as exc:
            result.success, result.error_code, result.message = False, int(exc.code), str(exc)
            goal_handle.abort()
            return result
        generated = served.result
        result.success = generated.finish_reason != "cancelled"
        result.text, result.expert = generated.text, served.route.expert
        result.route_confidence, result.routed_to_fallback = served.route.confidence, served.route.fallback
        result.finish_reason = generated.finish_reason
        result.prompt_tokens, result.completion_tokens = generated.prompt_tokens, generated.completion_tokens
        result.time_to_first_token_ms = generated.time_to_first_token_ms
        result.tokens_per_second = generated.tokens_per_second
        if generated.finish_reason == "cancelled" and goal_handle.is_cancel_requested:
            result.message = "cancelled"
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        return result

    # -- handle_command -----------------------------------------------------------------
    def _execute_command(self, goal_handle: ServerGoalHandle) -> HandleCommand.Result:
        request = goal_handle.request
        goal_handle.publish_feedback(HandleCommand.Feedback(stage="routing", text=""))
        reply = self.commander.handle(Command(
            heard=request.text, text=request.text,
            normalized_text=request.normalized_text or normalize_command_text(request.text),
            source=request.source or "text"))
        result = HandleCommand.Result(success=reply.success, error_code=int(reply.error_code), message=reply.message,
                                      reply=reply.reply, actions_json=reply.actions_json, expert=reply.expert)
        goal_handle.succeed()
        return result

    # -- services -----------------------------------------------------------------------
    def _on_route(self, request: Route.Request, response: Route.Response) -> Route.Response:
        try:
            routed = self.service.route(request.prompt)
        except EmbodiedError as exc:
            response.success, response.error_code, response.message = False, int(exc.code), str(exc)
            return response
        response.success, response.expert = True, routed.expert
        response.confidence, response.fallback = routed.confidence, routed.fallback
        response.candidates, response.scores = routed.candidates, routed.scores
        return response

    def _on_set_loaded(self, request: SetExpertLoaded.Request,
                       response: SetExpertLoaded.Response) -> SetExpertLoaded.Response:
        try:
            response.message = self.service.set_loaded(request.expert, request.loaded)
            response.success = True
        except EmbodiedError as exc:
            response.success, response.error_code, response.message = False, int(exc.code), str(exc)
        return response

    def _publish_statistics(self) -> None:
        if self.service.router is None:
            return
        stats = self.service.router.statistics()
        msg = RouterStatistics()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.total_requests, msg.fallback_rate = int(stats.total_requests), float(stats.fallback_rate)
        msg.experts = [s.expert_name for s in stats.stats]
        msg.selections = [int(s.selections) for s in stats.stats]
        msg.average_confidence = [float(s.avg_confidence) if s.avg_confidence is not None else math.nan
                                  for s in stats.stats]
        msg.feedback_accuracy = [float(s.accuracy) if s.accuracy is not None else math.nan for s in stats.stats]
        msg.issues = [issue.message for issue in stats.issues]
        self._statistics.publish(msg)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = ExpertsNode()
    # A training goal holds a thread for the whole job: room for two beside generate and commands.
    spin_until_shutdown(node, threads=6, before_destroy=node.service.close)


if __name__ == "__main__":
    main()
