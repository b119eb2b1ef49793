"""Spinning a node until Ctrl-C or the launcher's SIGINT, then shutting down cleanly."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


def spin_until_shutdown(node: Node, threads: int = 3, before_destroy: Callable[[], None] | None = None) -> None:
    """Spin (one thread: a single-threaded executor, which costs the least CPU); on exit run
    ``before_destroy``, destroy the node, shut down."""
    executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if before_destroy is not None:
            before_destroy()
        node.destroy_node()
        try:
            rclpy.try_shutdown()
        except RCLError:
            pass  # rclpy's SIGINT handler shut the context down at the same moment: already done
