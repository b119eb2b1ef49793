"""A small rclpy client for graph tests: collect topics, call services, run actions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy._rclpy_pybind11 import InvalidHandle
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data

from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.qos import LATCHED, STATE


class GraphClient:
    def __init__(self, domain_id: int | None = None) -> None:   # None: ROS_DOMAIN_ID's
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node("graph_test_client", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._running = True
        self._thread.start()
        self._action_clients: dict[str, ThreadSafeActionClient] = {}

    def _spin(self) -> None:
        while self._running and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except InvalidHandle:
                # A subscription or client destroyed by the test thread while this thread was
                # building the wait set (collect(), call()): wait again without it. Uncaught,
                # it ended this thread and every later test of the session saw nothing.
                continue

    def __enter__(self) -> "GraphClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self._running = False
        self._thread.join(2)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)

    # -- graph introspection ------------------------------------------------------------
    def topics(self) -> dict[str, list[str]]:
        return dict(self.node.get_topic_names_and_types())

    def services(self) -> dict[str, list[str]]:
        return dict(self.node.get_service_names_and_types())

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    # -- topics -------------------------------------------------------------------------
    def collect(self, msg_type: Any, topic: str, seconds: float, qos: QoSProfile = STATE,
                until: Callable[[list[Any]], bool] | None = None) -> list[tuple[float, Any]]:
        """Messages with their receive times, for ``seconds`` (or until ``until`` holds)."""
        received: list[tuple[float, Any]] = []
        subscription = self.node.create_subscription(
            msg_type, topic, lambda m: received.append((time.monotonic(), m)), qos)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if until is not None and until([m for _, m in received]):
                    break
                time.sleep(0.01)
        finally:
            self.node.destroy_subscription(subscription)
        return received

    def latest(self, msg_type: Any, topic: str, timeout: float = 5.0, qos: QoSProfile = STATE) -> Any:
        messages = self.collect(msg_type, topic, timeout, qos, until=lambda ms: bool(ms))
        assert messages, f"no message on {topic} within {timeout} s"
        return messages[-1][1]

    def publisher(self, msg_type: Any, topic: str, qos: QoSProfile = STATE) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    # -- services and actions -----------------------------------------------------------
    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 10.0) -> Any:
        service = self.node.create_client(srv_type, name)
        try:
            assert service.wait_for_service(timeout), f"service {name} not available"
            future = service.call_async(request)
            self._wait_future(future, timeout, name)
            return future.result()
        finally:
            self.node.destroy_client(service)

    def send_goal(self, action_type: Any, name: str, goal: Any, feedback: list[Any] | None = None,
                  timeout: float = 10.0) -> Any:
        client = self._action_clients.get(name)
        if client is None:
            client = self._action_clients[name] = ThreadSafeActionClient(self.node, action_type, name)
        assert client.wait_for_server(timeout), f"action server {name} not available"
        on_feedback = (lambda f: feedback.append(f.feedback)) if feedback is not None else None
        future = client.send_goal_async(goal, feedback_callback=on_feedback)
        if not self._done_within(future, min(timeout, FIRST_GOAL_RESPONSE_S)):
            # Fast DDS drops a server's response when the server has not yet matched this
            # client's response reader ("failed to send response (timeout)" in its log): right
            # after discovery, send the goal once more.
            future = client.send_goal_async(goal, feedback_callback=on_feedback)
        self._wait_future(future, timeout, f"{name} goal response")
        return future.result()

    @staticmethod
    def _done_within(future: Any, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        return future.done()

    def result(self, goal_handle: Any, timeout: float = 20.0) -> Any:
        future = goal_handle.get_result_async()
        self._wait_future(future, timeout, "action result")
        return future.result()

    def run(self, action_type: Any, name: str, goal: Any, feedback: list[Any] | None = None,
            timeout: float = 20.0) -> Any:
        handle = self.send_goal(action_type, name, goal, feedback)
        assert handle.accepted, f"{name} goal was not accepted"
        return self.result(handle, timeout)

    @staticmethod
    def _wait_future(future: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.01)


FIRST_GOAL_RESPONSE_S = 5.0  # a goal response normally comes in milliseconds
SENSOR_QOS = qos_profile_sensor_data
LATCHED_QOS = LATCHED
