"""Spinning a node until Ctrl-C or the launcher's SIGINT, then shutting down cleanly; and
running a node's own threads so that a failure in one ends the node for a restart."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


def spin_until_shutdown(node: Node, threads: int = 3, before_destroy: Callable[[], None] | None = None,
                        workers: Workers | None = None) -> None:
    """Spin (one thread: a single-threaded executor, which costs the least CPU); on exit run
    ``before_destroy``, destroy the node, shut down; exit with status 1 if one of ``workers``
    failed."""
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
    if workers is not None and workers.failed:
        sys.exit(1)


class Workers:
    """A node's own threads (a control loop, a capture loop, pipeline stages).

    A thread whose body raises logs it as fatal and shuts the node's context down, so the spin
    ends; ``spin_until_shutdown`` then exits with status 1 and the launcher restarts the node
    rather than leave it half alive. An exception while the node is stopping (a publish raced
    the shutdown) is a normal exit.
    """

    def __init__(self, node: Node, stopping: Callable[[], bool] = lambda: False) -> None:
        self._node, self._stopping = node, stopping
        self.failed = False

    def start(self, name: str, what: str, body: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(what, body), name=name, daemon=True)
        thread.start()
        return thread

    def run(self, what: str, body: Callable[[], None]) -> None:
        """Run ``body`` on the calling thread, as described above."""
        try:
            body()
        except Exception as exc:  # noqa: BLE001 - anything unexpected must end the process loudly
            if self._stopping() or not self._node.context.ok():
                return
            self._node.get_logger().fatal(f"{what} failed: {exc!r}; shutting down for a restart")
            self.failed = True
            rclpy.try_shutdown(context=self._node.context)
