"""Policy node: one deployed robot skill. A lifecycle node (deploy = configure + activate):

  configure  loads the policy ``model_id`` from the model registry (its ONNX graph and contract;
             a contract that does not fit this robot's joints, limits or control rate is refused)
             and creates the endpoints
  activate   runs the policy at its contract's control rate and marks it ``deployed``
  deactivate stops commanding (the servo controller's watchdog then holds the joints) and marks it
             ``trained`` again; cleanup releases the policy

  subscribes joint_states (sensor_msgs/JointState), ``target_topic`` (geometry_msgs/PointStamped,
             base_link)
  publishes  joint_commands (sensor_msgs/JointState positions): the servo controller's streamed-command
             path, so every limit, its watchdog and the e-stop apply to what the policy commands

A tick with joint states older than ``stale_after_s`` or no target yet sends nothing; each tick
that commands is recorded as a served request of the model (its latency: the policy's compute),
for ``GET /v1/models/{id}/metrics`` and ``/performance``. The node is
wiring: the policy's run is embodied_ai.skills.policy_runtime.PolicyRuntime.
Parameters: embodied_ai.skills.node_config.PolicyNodeConfig (``ros2 param describe``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState

from embodied_ai.errors import EmbodiedError
from embodied_ai.skills.node_config import PolicyNodeConfig
from embodied_ros.kit.parameters import declare_parameters, read_parameters
from embodied_ros.kit.qos import COMMANDS, SENSOR_DATA, STATE
from embodied_ros.kit.spin import Component, run_standalone

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
DATABASE = "operations.sqlite"
FLUSH_S = 1.0


class PolicyNode(LifecycleNode):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("policy", **node_options)
        self.config = declare_parameters(self, PolicyNodeConfig)
        self._registry: Any = None
        self._runtime: Any = None
        self._subscriptions: list[Any] = []
        self._commands: Any = None
        self._timer: Any = None
        self._flusher: Any = None
        self._served: Any = None
        self._joints: tuple[dict[str, float], dict[str, float], float] | None = None   # positions, velocities, when
        self._target: np.ndarray | None = None
        self._last_reason = ""

    # -- lifecycle ----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from embodied_ai.model_registry import ModelRegistry, PerformanceLog
        from embodied_ai.skills.policy_runtime import PolicyRuntime

        self.config = read_parameters(self, PolicyNodeConfig)   # a deployment sets model_id before configuring
        if not self.config.model_id:
            self.get_logger().error("model_id is not set: which policy to run?")
            return FAILURE
        registry = ModelRegistry(self.config.resolved_state_dir() / DATABASE)
        try:
            self._runtime = PolicyRuntime.from_registry(registry, self.config.model_id)
        except EmbodiedError as exc:
            registry.close()
            self.get_logger().error(f"policy {self.config.model_id} cannot run here: {exc} "
                                    f"{'; '.join(getattr(exc, 'problems', []))}")
            return FAILURE
        self._registry, self._served = registry, PerformanceLog(self.config.resolved_state_dir() / DATABASE)
        self._subscriptions = [
            self.create_subscription(JointState, "joint_states", self._on_joint_states, SENSOR_DATA),
            self.create_subscription(PointStamped, self.config.target_topic, self._on_target, STATE)]
        self._commands = self.create_publisher(JointState, "joint_commands", COMMANDS)
        self.get_logger().info(f"policy {self._runtime.model_id} ({self._runtime.spec.env_id}) at "
                               f"{self._runtime.spec.control_rate_hz:g} Hz on {', '.join(self._runtime.joints)}")
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._timer = self.create_timer(self._runtime.period_s, self._tick)
        # Each commanded tick is one served request of the model (GET /v1/models/{id}/metrics), written
        # once a second.
        self._flusher = self.create_timer(FLUSH_S, self._flush)
        self._registry.mark_loaded(self._runtime.model_id)
        self.get_logger().info(f"deployed: {self._runtime.model_id}")
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_ticking()
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return SUCCESS

    def _stop_ticking(self) -> None:
        """No more commands; the registry says the policy is no longer deployed (unless another robot's
        node or a deployment already said so: a lifecycle callback must not fail on that)."""
        if self._timer is not None:
            # The registry first: at a SIGINT the context is already down when this runs.
            try:
                self._registry.mark_unloaded(self._runtime.model_id)
            except EmbodiedError as exc:
                self.get_logger().info(f"registry status left as it is: {exc}")
            self._timer.cancel()
            self._flusher.cancel()
            self._timer = self._flusher = None
            self._flush()

    def release(self) -> None:
        """Stop commanding and free the policy (ONNX Runtime's session too, before the process ends)."""
        self._stop_ticking()
        self._runtime = None
        if self._registry is not None:
            self._registry.close()
            self._served.close()
            self._registry = self._served = None
        if self.context.ok():   # at a SIGINT the context is already down: the node's destruction frees these
            for subscription in self._subscriptions:
                self.destroy_subscription(subscription)
            if self._commands is not None:
                self.destroy_publisher(self._commands)
        self._subscriptions, self._commands = [], None

    def _flush(self) -> None:
        try:
            self._served.flush()
        except Exception as exc:   # a locked database: the rows wait for the next flush
            self.get_logger().warning(f"could not write the serving figures: {exc}")

    # -- inputs and the control tick -----------------------------------------------------
    def _on_joint_states(self, msg: JointState) -> None:
        velocities = list(msg.velocity) if len(msg.velocity) == len(msg.name) else [0.0] * len(msg.name)
        self._joints = (dict(zip(msg.name, msg.position)), dict(zip(msg.name, velocities)), time.monotonic())

    def _on_target(self, msg: PointStamped) -> None:
        self._target = np.array([msg.point.x, msg.point.y, msg.point.z])

    def _tick(self) -> None:
        positions, velocities, seen = self._joints or (None, None, float("-inf"))
        started = time.perf_counter()
        decided = self._runtime.tick(positions, velocities, self._target, time.monotonic() - seen,
                                     self.config.stale_after_s)
        if decided.targets is None:
            if decided.reason != self._last_reason:
                self.get_logger().warning(f"not commanding: {decided.reason}")
            self._last_reason = decided.reason
            return
        self._last_reason = ""
        self._served.record(self._runtime.model_id, (time.perf_counter() - started) * 1000.0, True)
        command = JointState(name=list(decided.targets), position=list(decided.targets.values()))
        command.header.stamp = self.get_clock().now().to_msg()
        self._commands.publish(command)


def component(**node_options: Any) -> Component:
    node = PolicyNode(**node_options)

    def start() -> None:
        if node.config.autostart and not (node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS):
            raise RuntimeError("autostart failed (see above)")
    return Component(node, threads=1, start=start, stop=node.release)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
