"""A node's own threads: a failure ends the node (its context shut down, the spin's exit status
1); an error while the node is stopping is a normal exit. And goals accepted only while active."""

from __future__ import annotations

import time

import pytest
import rclpy
from rclpy.action import GoalResponse
from rclpy.context import Context

from embodied_ros.kit.goals import accept_while
from embodied_ros.kit.spin import Workers, spin_until_shutdown


def broken() -> None:
    raise RuntimeError("the bus fell off")


def test_a_failing_thread_ends_the_spin_with_exit_status_1() -> None:
    rclpy.init()   # the default context, as a node process has it
    node = rclpy.create_node("worker_owner", start_parameter_services=False)
    workers = Workers(node)

    def fails_while_spinning() -> None:
        time.sleep(0.3)
        broken()
    workers.start("loop", "control loop", fails_while_spinning)
    with pytest.raises(SystemExit) as exited:
        spin_until_shutdown(node, threads=1, workers=workers)
    assert exited.value.code == 1 and workers.failed and not rclpy.ok()


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
