"""Hosting components: each node built and spun on its own thread with its own name and
parameters; a failure (a worker, a start) ends the whole process with exit status 1 and every
node is still stopped; an error while a node is stopping is a normal exit. And goals accepted
only while active."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import rclpy
from rclpy.action import GoalResponse
from rclpy.context import Context

from embodied_ros.container import node_options
from embodied_ros.kit.goals import accept_while
from embodied_ros.kit.spin import Component, Hosted, Workers, host, run_standalone


def broken() -> None:
    raise RuntimeError("the bus fell off")


def test_a_failing_thread_ends_the_process_with_exit_status_1() -> None:
    def component(**options: Any) -> Component:
        node = rclpy.create_node("worker_owner", start_parameter_services=False, **options)
        workers = Workers(node)

        def fails_while_spinning() -> None:
            time.sleep(0.3)
            broken()
        workers.start("loop", "control loop", fails_while_spinning)
        return Component(node, workers=workers)
    with pytest.raises(SystemExit) as exited:
        run_standalone(component, [])
    assert exited.value.code == 1 and not rclpy.ok()


def test_hosted_nodes_have_their_own_names_and_parameters_and_all_stop(tmp_path) -> None:
    seen: dict[str, Any] = {}
    stopped: list[str] = []

    def component(**options: Any) -> Component:
        node = rclpy.create_node("generic", start_parameter_services=False, **options)
        name = node.get_name()
        seen[name] = node.declare_parameter("rate_hz", 0.0).value
        if len(seen) == 2:   # both built: end the process as Ctrl-C would
            threading.Timer(0.3, rclpy.try_shutdown).start()
        return Component(node, stop=lambda: stopped.append(name))
    hosted = []
    for name, rate in (("left", 2.0), ("right", 5.0)):
        params = tmp_path / f"{name}.yaml"
        params.write_text(f"/**:\n  ros__parameters:\n    rate_hz: {rate}\n")
        hosted.append(Hosted(name, component, node_options(name, str(params))))
    host(hosted, ["container", "--ros-args", "-r", "__node:=container"])   # global args do not reach them
    assert seen == {"left": 2.0, "right": 5.0} and sorted(stopped) == ["left", "right"]


def test_a_start_that_fails_ends_the_process_and_stops_the_others() -> None:
    stopped: list[str] = []

    def healthy(**options: Any) -> Component:
        return Component(rclpy.create_node("healthy", start_parameter_services=False, **options),
                         stop=lambda: stopped.append("healthy"))

    def failing(**options: Any) -> Component:
        def start() -> None:
            time.sleep(0.3)
            raise RuntimeError("autostart failed (see above)")
        return Component(rclpy.create_node("failing", start_parameter_services=False, **options), start=start,
                         stop=lambda: stopped.append("failing"))
    with pytest.raises(SystemExit) as exited:
        host([Hosted("healthy", healthy, {}), Hosted("failing", failing, {})], [])
    assert exited.value.code == 1 and sorted(stopped) == ["failing", "healthy"]


def test_an_error_while_stopping_is_a_normal_exit(context: Context) -> None:
    node = rclpy.create_node("worker_owner", context=context, start_parameter_services=False)
    workers = Workers(node, stopping=lambda: True)
    workers.run("capture loop", broken)
    assert not workers.failed and context.ok()
    node.destroy_node()


def test_goals_are_accepted_only_while_serving() -> None:
    serving = [False]
    callback = accept_while(lambda: serving[0])
    assert callback(object()) is GoalResponse.REJECT
    serving[0] = True
    assert callback(object()) is GoalResponse.ACCEPT
