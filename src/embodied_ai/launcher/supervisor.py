"""Process supervision: start each node as its own process, restart crashed ones with
exponential back-off, and stop everything in order on SIGINT/SIGTERM.

Like ros2 launch: output lines are prefixed with the node name, a node's exit is logged with
its code, ``respawn`` nodes come back after a delay that doubles on each quick crash.

A process can also be stopped, started and restarted by name while the graph runs (the launcher
node's services, ``embodied_ros.launcher_node``): a node's name stands for the process hosting it,
so the nodes sharing a container process go down and up together; a stopped process is not
respawned until it is started again. ``status()`` lists every node with its process's state.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO

from embodied_ai.errors import Conflict, NotFound
from embodied_ai.launcher.config import RestartPolicy

ProcessStatus = Literal["running", "stopped", "restarting"]


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    respawn: bool = True
    nodes: Sequence[str] = ()     # the nodes a container process hosts (its name is the process's)


@dataclass
class _Managed:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 0.0
    restarts: int = 0
    readers: list[threading.Thread] = field(default_factory=list)
    held: bool = False          # stopped by request: not respawned until started again
    restarting: bool = False    # a requested restart is stopping the process

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.spec.nodes) or (self.spec.name,)


@dataclass(frozen=True)
class ServiceState:
    """One node as the supervisor sees its process."""

    name: str                   # the node
    process: str
    nodes: tuple[str, ...]      # every node of the process (stopped and started together)
    status: ProcessStatus       # "restarting": a requested restart, or a crash waiting out its back-off
    pid: int | None
    restarts: int               # respawns after crashes and requested restarts
    uptime_s: float | None


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        env: Mapping[str, str],
        policy: RestartPolicy,
        output: TextIO = sys.stdout,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._managed = {s.name: _Managed(s, backoff=policy.initial_backoff_s) for s in specs}
        self._env = dict(env)
        self._policy = policy
        self._output = output
        self._output_lock = threading.Lock()
        self._clock = clock
        self._stopping = threading.Event()
        # poll() runs in the supervising loop, process control in the launcher node's threads.
        self._lock = threading.RLock()

    # -- public -------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            for managed in self._managed.values():
                self._spawn(managed)

    def pids(self) -> dict[str, int | None]:
        return {name: m.popen.pid if m.popen and m.popen.poll() is None else None for name, m in self._managed.items()}

    def status(self) -> list[ServiceState]:
        """Every node, in the order of the processes, with its process's state."""
        with self._lock:
            now = self._clock()
            states = []
            for managed in self._managed.values():
                running = managed.popen is not None and managed.popen.poll() is None
                status: ProcessStatus = ("restarting" if managed.restarting or managed.restart_at is not None
                                         else "running" if running else "stopped")
                pid = managed.popen.pid if running and managed.popen else None
                uptime = now - managed.started_at if running else None
                states += [ServiceState(node, managed.spec.name, managed.nodes, status, pid, managed.restarts, uptime)
                           for node in managed.nodes]
            return states

    def service(self, name: str) -> ServiceState:
        """The state of node ``name`` (a process's name: its first node); NotFound for neither."""
        process = self._find(name).spec.name
        states = [s for s in self.status() if s.process == process]
        return next((s for s in states if s.name == name), states[0])

    def start_process(self, name: str) -> tuple[str, ...]:
        """Start the process of node (or process) ``name`` unless it runs; it is respawned again after crashes.
        Returns the nodes it hosts."""
        with self._lock:
            managed = self._find(name)
            if self._stopping.is_set():
                raise Conflict("the launcher is stopping")
            managed.held, managed.restart_at = False, None
            if managed.popen is None or managed.popen.poll() is not None:
                self._reap(managed)
                managed.backoff = self._policy.initial_backoff_s
                self._spawn(managed)
            return managed.nodes

    def stop_process(self, name: str, force: bool = False, timeout: float = 10.0) -> tuple[str, ...]:
        """Stop the process of node (or process) ``name`` as stop() does (SIGKILL at once with ``force``) and
        keep it stopped until start_process. Returns the nodes it hosted."""
        with self._lock:
            managed = self._find(name)
            managed.held, managed.restart_at = True, None
            popen = managed.popen
        if popen is not None:
            self._terminate([(managed, popen)], timeout, force)
        with self._lock:
            self._reap(managed)
        return managed.nodes

    def restart_process(self, name: str, force: bool = False, timeout: float = 10.0) -> tuple[str, ...]:
        """Stop (as stop_process) and start again the process of ``name``; counts as a restart."""
        with self._lock:
            managed = self._find(name)
            if self._stopping.is_set():
                raise Conflict("the launcher is stopping")
            managed.restarting = True
        try:
            self.stop_process(name, force, timeout)
        finally:
            with self._lock:
                managed.restarting = False
        with self._lock:
            if self._stopping.is_set():
                raise Conflict("the launcher is stopping")
            managed.restarts += 1
            self._log(managed.spec.name, "restarting on request")
            return self.start_process(name)

    def restarts(self) -> dict[str, int]:
        return {name: m.restarts for name, m in self._managed.items()}

    def poll(self) -> None:
        """Notice exits and perform due restarts; call periodically."""
        with self._lock:
            self._poll()

    def _poll(self) -> None:
        now = self._clock()
        for managed in self._managed.values():
            popen = managed.popen
            if popen is not None and popen.poll() is not None:
                code = popen.returncode
                managed.popen = None
                uptime = now - managed.started_at
                self._log(managed.spec.name, f"process exited with code {code} after {uptime:.1f} s")
                if managed.spec.respawn and not self._stopping.is_set() and not managed.held:
                    if uptime >= self._policy.stable_after_s:
                        managed.backoff = self._policy.initial_backoff_s
                    managed.restart_at = now + managed.backoff
                    self._log(managed.spec.name, f"restarting in {managed.backoff:.1f} s")
                    managed.backoff = min(managed.backoff * 2, self._policy.max_backoff_s)
            if managed.popen is None and managed.restart_at is not None and now >= managed.restart_at:
                managed.restart_at = None
                managed.restarts += 1
                self._spawn(managed)

    def request_stop(self) -> None:
        self._stopping.set()

    def run(self, poll_interval: float = 0.1, on_started: Callable[[], None] | None = None) -> int:
        """Start, call ``on_started`` (the launcher node), supervise until SIGINT/SIGTERM (or request_stop),
        then stop; returns 0."""
        previous = {sig: signal.signal(sig, lambda *_: self.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            if on_started is not None:
                on_started()
            while not self._stopping.wait(poll_interval):
                self.poll()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT every node (ROS nodes shut down cleanly on it), then SIGTERM, then SIGKILL."""
        self._stopping.set()
        with self._lock:
            running = [(m, m.popen) for m in self._managed.values() if m.popen is not None and m.popen.poll() is None]
        self._terminate(running, timeout)
        for managed in self._managed.values():
            if managed.popen is not None:
                self._log(managed.spec.name, f"stopped (code {managed.popen.returncode})")
            for reader in managed.readers:
                reader.join(timeout=1.0)

    # -- internals ----------------------------------------------------------------------
    def _find(self, name: str) -> _Managed:
        managed = self._managed.get(name) or next((m for m in self._managed.values() if name in m.spec.nodes), None)
        if managed is None:
            raise NotFound(f"no service '{name}': the launcher runs {', '.join(self._names())}")
        return managed

    def _names(self) -> list[str]:
        return [node for m in self._managed.values() for node in m.nodes]

    def _reap(self, managed: _Managed) -> None:
        """Log the exit of a process that has ended, under the lock (poll() may have done it already)."""
        if managed.popen is not None and managed.popen.poll() is not None:
            self._log(managed.spec.name, f"stopped (code {managed.popen.returncode})")
            managed.popen = None

    def _terminate(self, running: list[tuple[_Managed, subprocess.Popen[bytes]]], timeout: float,
                   force: bool = False) -> None:
        """SIGINT (ROS nodes shut down cleanly on it), then SIGTERM, then SIGKILL; only SIGKILL with ``force``."""
        steps = ((signal.SIGKILL, 3.0),) if force else ((signal.SIGINT, timeout), (signal.SIGTERM, 3.0),
                                                        (signal.SIGKILL, 3.0))
        for sig, wait in steps:
            running = [(m, popen) for m, popen in running if popen.poll() is None]
            if not running:
                break
            for managed, popen in running:
                self._log(managed.spec.name, f"sending {sig.name}")
                popen.send_signal(sig)
            deadline = time.monotonic() + wait
            for _, popen in running:
                try:
                    popen.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass

    def _spawn(self, managed: _Managed) -> None:
        # Own session: a terminal's Ctrl-C reaches only the launcher, which stops nodes in order.
        popen = subprocess.Popen(
            list(managed.spec.argv), env=self._env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        managed.popen, managed.started_at = popen, self._clock()
        hosting = f" hosting {', '.join(managed.spec.nodes)}" if managed.spec.nodes else ""
        self._log(managed.spec.name, f"started (pid {popen.pid}){hosting}")
        reader = threading.Thread(target=self._pump, args=(managed.spec.name, popen), daemon=True)
        reader.start()
        managed.readers = [r for r in managed.readers if r.is_alive()] + [reader]

    def _pump(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        for raw in iter(popen.stdout.readline, b""):
            self._log(name, raw.decode("utf-8", "replace").rstrip(), pid=popen.pid)
        popen.stdout.close()

    def _log(self, name: str, text: str, pid: int | None = None) -> None:
        tag = f"[{name}-{pid}]" if pid else f"[launcher] {name}:"
        with self._output_lock:
            self._output.write(f"{tag} {text}\n")
            self._output.flush()


def node_argv(package: str, executable: str, node_name: str, params_file: str, namespace: str = "") -> list[str]:
    """The command line of one node: its module run by this interpreter, with ROS arguments."""
    return [sys.executable, "-m", f"{package}.{executable}", "--ros-args",
            *(["-r", f"__ns:={namespace}"] if namespace else []), "-r", f"__node:={node_name}",
            "--params-file", params_file]


