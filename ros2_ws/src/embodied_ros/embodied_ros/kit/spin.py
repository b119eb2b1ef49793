"""Spinning a node until Ctrl-C or the launcher's SIGINT, then shutting down cleanly; and
running a node's own worker thread so that a failure in it ends the node for a restart."""

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


def run_worker(node: Node, what: str, body: Callable[[], None], on_failure: Callable[[], None],
               stopping: Callable[[], bool] = lambda: False) -> None:
    """Run ``body`` (a node's own thread). An unexpected exception is logged as fatal, then
    ``on_failure`` runs (the node records it, to exit non-zero) and the node's context is shut
    down, so the launcher restarts the node rather than leave it half alive. An exception while
    the node is stopping (a publish raced the shutdown) is a normal exit."""
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - anything unexpected must end the process loudly
        if stopping() or not node.context.ok():
            return
        node.get_logger().fatal(f"{what} failed: {exc!r}; shutting down for a restart")
        on_failure()
        rclpy.try_shutdown(context=node.context)
