"""Hosting nodes in a process until Ctrl-C or the launcher's SIGINT, then shutting down
cleanly; and running a node's own threads so that a failure in one ends the process for a
restart.

Every node module offers ``component(**node_options) -> Component``. Its ``main`` hosts that
one component (``run_standalone``); the container (``embodied_ros.container``) hosts several
in one process, as ROS 2 component containers do: each stays a node of its own, with its own
name, parameters and executor, spun on a thread of its own, and they share the interpreter,
the imported libraries and one DDS participant.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node


@dataclass
class Component:
    """One node as a process hosts it."""

    node: Node
    threads: int = 1                             # executor threads; 1: single-threaded, the cheapest
    start: Callable[[], None] | None = None      # once, on the component's thread, before it spins
                                                 # (a lifecycle autostart loading models); raising ends the process
    stop: Callable[[], None] | None = None       # before the node is destroyed
    workers: Workers | None = None
    companions: Sequence[Node] = ()              # more nodes, each spun by a single-threaded executor of its own


# Called with rclpy Node keyword options (the container's per-node ``cli_args``).
ComponentFactory = Callable[..., Component]


@dataclass(frozen=True)
class Hosted:
    """A component to host: its name (for the log), its factory and the node options to pass."""

    name: str
    factory: ComponentFactory
    node_options: dict[str, Any]


def run_standalone(factory: ComponentFactory, args: list[str] | None = None) -> None:
    """A node module's ``main``: one component, named and parametrised by the command line."""
    host([Hosted("", factory, {})], args)


def host(components: Sequence[Hosted], args: list[str] | None = None) -> None:
    """Build, start and spin every component, each on its own thread (models load in parallel),
    until shutdown; exit with status 1 when one failed to build or start or one of its workers
    failed, so that the launcher restarts the process."""
    rclpy.init(args=args)
    failed = threading.Event()
    threads = [threading.Thread(target=_run, args=(hosted, failed), name=f"component:{hosted.name}", daemon=True)
               for hosted in components]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _shutdown()
        for thread in threads:
            thread.join(timeout=10.0)
    if failed.is_set():
        sys.exit(1)


def _run(hosted: Hosted, failed: threading.Event) -> None:
    try:
        component = hosted.factory(**hosted.node_options)
    except Exception as exc:  # noqa: BLE001 - a node that cannot be built ends the process loudly
        get_logger(hosted.name or "component").fatal(f"could not be created: {exc!r}")
        failed.set()
        _shutdown()
        return
    node = component.node
    try:
        if component.start is not None:
            component.start()
        _spin(component)
    except Exception as exc:  # noqa: BLE001 - see above
        if rclpy.ok():
            node.get_logger().fatal(f"failed: {exc!r}; exiting for the launcher to restart the process")
            failed.set()
    finally:
        if component.workers is not None and component.workers.failed:
            failed.set()
        if component.stop is not None:
            component.stop()
        for companion in component.companions:
            companion.destroy_node()
        node.destroy_node()
        _shutdown()  # one component ending (a failed worker, a failed start) ends the process


def _spin(component: Component) -> None:
    executors = [(component.node, SingleThreadedExecutor() if component.threads == 1
                  else MultiThreadedExecutor(num_threads=component.threads))]
    executors += [(companion, SingleThreadedExecutor()) for companion in component.companions]
    for node, executor in executors:
        executor.add_node(node)
    companion_threads = [threading.Thread(target=_spin_quietly, args=(executor,), daemon=True,
                                          name=f"{node.get_name()}_executor") for node, executor in executors[1:]]
    for thread in companion_threads:
        thread.start()
    try:
        _spin_quietly(executors[0][1])
    finally:
        for _, executor in executors:
            executor.shutdown(timeout_sec=1.0)
        for thread in companion_threads:
            thread.join(timeout=5.0)


def _spin_quietly(executor: SingleThreadedExecutor | MultiThreadedExecutor) -> None:
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


def _shutdown() -> None:
    try:
        rclpy.try_shutdown()
    except RCLError:
        pass  # rclpy's SIGINT handler shut the context down at the same moment: already done


class Workers:
    """A node's own threads (a control loop, a capture loop, pipeline stages).

    A thread whose body raises logs it as fatal and shuts the node's context down, so the spin
    ends; ``host`` then exits with status 1 and the launcher restarts the process rather than
    leave the node half alive. An exception while the node is stopping (a publish raced
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
