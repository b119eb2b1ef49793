"""Experts node: the mixture of experts on the ROS graph; ROS wiring over embodied_ai.experts
(service, engine, registry, router, commander).

A lifecycle node, like the servo controller (ros2/demos lifecycle_py):
  configure  opens the registry in ``state_dir``, builds the quantized base into the cache if it
             is not there yet (once, ~1-2 min), registers the default experts from
             models/experts/, loads the router, and creates the endpoints;
  activate   serves: goals are accepted ("[experts]: ready" in the log). While inactive, goals
             are rejected and service requests answered EXPERT_NOT_READY;
  cleanup    destroys the endpoints and closes the service.
With ``autostart`` (default) it configures and activates itself at start, as nav2's lifecycle
manager would; when that fails the process exits non-zero and the launcher restarts it.

Endpoints (relative names, created in configure):
  actions    generate (Generate: token feedback, cancel), handle_command (HandleCommand:
             words → validated robot action → move_joints / grasp / emergency_stop, and a reply)
  services   route (Route), set_expert_loaded (SetExpertLoaded)
  registry   services list_experts, get_expert, create_expert, update_expert, delete_expert;
             action retrain_router (embodied_ros.expert_registry). Training and datasets are the
             jobs node's (train_expert, training_status, add_dataset); a version it registers is
             served from its first request
  publishes  router_statistics (RouterStatistics, every ``statistics_period_s`` while active)
  robot      clients move_joints (MoveJoints), grasp (Grasp), emergency_stop (std_srvs/Trigger);
             subscribes joint_states, detections ("describe the scene") (embodied_ros.robot_port)
Parameters: embodied_ai.experts.config.ExpertsNodeConfig (``ros2 param describe experts <name>``).
"""

from __future__ import annotations

import threading
from typing import Any

from embodied_interfaces.action import Generate, HandleCommand
from embodied_interfaces.msg import RouterStatistics
from embodied_interfaces.srv import Route, SetExpertLoaded
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.commander import RobotCommandHandler
from embodied_ai.experts.config import ExpertsNodeConfig
from embodied_ai.experts.service import ExpertService, open_service
from embodied_ai.robot import load_robot_description
from embodied_ros import expert_conversions as convert
from embodied_ros.expert_registry import ExpertRegistryEndpoints, guarded
from embodied_ros.kit.endpoints import ConfiguredEndpoints
from embodied_ros.kit.goals import Ending, accept_cancel, accept_while, finish, refuse, succeed
from embodied_ros.kit.parameters import declare_parameters
from embodied_ros.kit.qos import STATE
from embodied_ros.kit.spin import Component, run_standalone
from embodied_ros.robot_port import RosRobotPort

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ExpertsNode(LifecycleNode):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("experts", **node_options)
        self.config = declare_parameters(self, ExpertsNodeConfig)
        self._commander: RobotCommandHandler | None = None  # with the service: set while configured
        self._configured = ConfiguredEndpoints(self)
        self._active = False

    # -- lifecycle ----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        log = self.get_logger()
        service: ExpertService | None = None
        try:
            description = load_robot_description(self.config.robot_description_file)
            opened = open_service(self.config, progress=lambda line: log.info(f"base model: {line}"))
            service = opened.service
            if opened.installed:
                log.info(f"installed default experts: {', '.join(opened.installed)}")
            with self._configured.recording():
                robot = RosRobotPort(self, self.config.action_timeout_s, self.config.scene_max_age_s)
                self._configured.on_destroy(robot.destroy)
                self._make_endpoints()
            self._commander = RobotCommandHandler(service, description, robot)
        except Exception as exc:  # rclpy would turn it into an ERROR transition without a word
            log.error(f"configure failed: {exc!r}")
            self._configured.destroy()
            if service is not None:
                service.close()
            return FAILURE
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info(f"ready: {self._serving().service.summary()}")
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return SUCCESS

    def autostart(self) -> bool:
        return self.trigger_configure() == SUCCESS and self.trigger_activate() == SUCCESS

    def release(self) -> None:
        """Destroy the endpoints and close the service; safe to call twice."""
        self._active = False
        self._configured.destroy()
        if self._commander is not None:
            self._commander.service.close()
            self._commander = None

    def _serving(self) -> RobotCommandHandler:
        """The commander (and its service) while active; EXPERT_NOT_READY otherwise."""
        if not self._active or self._commander is None:
            raise EmbodiedError("the experts node is not active", ErrorCode.EXPERT_NOT_READY)
        return self._commander

    # -- endpoints ----------------------------------------------------------------------
    def _make_endpoints(self) -> None:
        """The node keeps every endpoint in its own lists; cleanup destroys them (ConfiguredEndpoints)."""
        actions, services = ReentrantCallbackGroup(), MutuallyExclusiveCallbackGroup()
        ActionServer(self, Generate, "generate", self._execute_generate, callback_group=actions,
                     goal_callback=accept_while(lambda: self._active), cancel_callback=accept_cancel)
        ActionServer(self, HandleCommand, "handle_command", self._execute_command, callback_group=actions,
                     goal_callback=accept_while(lambda: self._active))
        self.create_service(Route, "route", guarded(self._on_route, self._service), callback_group=services)
        self.create_service(SetExpertLoaded, "set_expert_loaded", guarded(self._on_set_loaded, self._service),
                            callback_group=services)
        ExpertRegistryEndpoints(self, self._service, accept_while(lambda: self._active))
        self._statistics = self.create_publisher(RouterStatistics, "router_statistics", STATE)
        self.create_timer(self.config.statistics_period_s, self._publish_statistics, callback_group=services)

    def _service(self) -> ExpertService:
        return self._serving().service

    def _execute_generate(self, goal_handle: ServerGoalHandle) -> Generate.Result:
        request, cancel = goal_handle.request, threading.Event()

        def on_text(text: str, tokens: int) -> None:
            if goal_handle.is_cancel_requested:
                cancel.set()
            goal_handle.publish_feedback(Generate.Feedback(text=text, completion_tokens=tokens))

        try:
            served = self._service().generate(convert.generation_request(request), expert=request.expert,
                                              on_text=on_text, cancel=cancel)
        except EmbodiedError as exc:
            return refuse(goal_handle, Generate.Result(), exc.code, str(exc))
        result = convert.generate_result(served)
        if served.result.finish_reason == "cancelled":
            return finish(goal_handle, result, Ending.CANCELED, message="cancelled")
        return succeed(goal_handle, result)

    def _execute_command(self, goal_handle: ServerGoalHandle) -> HandleCommand.Result:
        goal_handle.publish_feedback(HandleCommand.Feedback(stage="routing", text=""))
        try:
            reply = self._serving().handle(convert.command_from_goal(goal_handle.request))
        except EmbodiedError as exc:
            return refuse(goal_handle, HandleCommand.Result(), exc.code, str(exc))
        result = HandleCommand.Result(reply=reply.reply, actions_json=reply.actions_json, expert=reply.expert)
        return finish(goal_handle, result, Ending.SUCCEEDED if reply.success else Ending.ABORTED, reply.error_code,
                      reply.message)

    @staticmethod
    def _on_route(service: ExpertService, request: Route.Request, response: Route.Response) -> Route.Response:
        routed = service.route(request.prompt)
        response.expert, response.confidence, response.fallback = routed.expert, routed.confidence, routed.fallback
        response.candidates, response.scores = routed.candidates, routed.scores
        return response

    @staticmethod
    def _on_set_loaded(service: ExpertService, request: SetExpertLoaded.Request,
                       response: SetExpertLoaded.Response) -> SetExpertLoaded.Response:
        response.message = service.set_loaded(request.expert, request.loaded)
        return response

    def _publish_statistics(self) -> None:
        router = self._commander.service.router if self._active and self._commander else None
        if router is not None:
            stamp = self.get_clock().now().to_msg()
            self._statistics.publish(convert.router_statistics_msg(router.statistics(), stamp))


def component(**node_options: Any) -> Component:
    node = ExpertsNode(**node_options)

    def start() -> None:   # loads the models, on the component's own thread
        if node.config.autostart and not node.autostart():
            raise RuntimeError("autostart failed (see above)")
    # A training goal holds a thread for the whole job: room for two beside generate and commands.
    return Component(node, threads=6, start=start, stop=node.release)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
