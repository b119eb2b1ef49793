"""Starting, stopping and restarting supervised processes by a node's name, with real processes, and the
launcher's refusal to stop the servo controller while the robot moves."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.launcher.config import RestartPolicy
from embodied_ai.launcher.control import MotionWatch, ServiceControl, service_from_record, service_record
from embodied_ai.launcher.supervisor import ProcessSpec, Supervisor

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class _Lines:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _wait(predicate: Callable[[], bool], supervisor: Supervisor, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.poll()
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    """servo_controller alone, and a container process 'sensing' hosting perception and sensors."""
    specs = [ProcessSpec("servo_controller", SLEEP), ProcessSpec("sensing", SLEEP, nodes=("perception", "sensors"))]
    running = Supervisor(specs, {}, RestartPolicy(initial_backoff_s=0.05), output=_Lines())
    running.start()
    yield running
    running.stop(timeout=2.0)


def _by_name(supervisor: Supervisor) -> dict[str, tuple[str, str, int | None, int]]:
    return {s.name: (s.process, s.status, s.pid, s.restarts) for s in supervisor.status()}


def test_status_lists_every_node_with_its_process(supervisor: Supervisor) -> None:
    states = supervisor.status()
    assert [(s.name, s.process, s.nodes, s.status) for s in states] == [
        ("servo_controller", "servo_controller", ("servo_controller",), "running"),
        ("perception", "sensing", ("perception", "sensors"), "running"),
        ("sensors", "sensing", ("perception", "sensors"), "running"),
    ]
    pids = supervisor.pids()
    assert states[1].pid == states[2].pid == pids["sensing"] and states[0].pid == pids["servo_controller"]
    assert all(s.restarts == 0 and s.uptime_s is not None and s.uptime_s >= 0 for s in states)


def test_a_stopped_process_stays_stopped_until_started(supervisor: Supervisor) -> None:
    old_pid = supervisor.pids()["sensing"]
    assert supervisor.stop_process("perception") == ("perception", "sensors")
    assert supervisor.pids()["sensing"] is None
    time.sleep(0.2)                      # past the back-off a crash would wait
    supervisor.poll()
    assert _by_name(supervisor)["sensors"] == ("sensing", "stopped", None, 0)
    assert supervisor.service("perception").uptime_s is None
    assert supervisor.pids()["servo_controller"] is not None   # the other process runs on
    assert supervisor.start_process("sensors") == ("perception", "sensors")
    new_pid = supervisor.pids()["sensing"]
    assert new_pid is not None and new_pid != old_pid
    assert _by_name(supervisor)["perception"] == ("sensing", "running", new_pid, 0)   # a start is no restart
    assert supervisor.start_process("sensing") == ("perception", "sensors")           # already running: kept
    assert supervisor.pids()["sensing"] == new_pid


def test_restart_replaces_the_process_and_counts(supervisor: Supervisor) -> None:
    old_pid = supervisor.pids()["servo_controller"]
    assert supervisor.restart_process("servo_controller") == ("servo_controller",)
    state = supervisor.service("servo_controller")
    assert state.status == "running" and state.pid not in (None, old_pid) and state.restarts == 1


def test_a_forced_stop_kills_a_process_that_ignores_sigint() -> None:
    stubborn = ProcessSpec("stubborn", [sys.executable, "-c",
                                        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                                        "print('ready', flush=True); time.sleep(60)"])
    out = _Lines()
    supervisor = Supervisor([stubborn], {}, RestartPolicy(), output=out)
    supervisor.start()
    try:
        _wait(lambda: "ready" in out.text, supervisor)
        started = time.monotonic()
        supervisor.stop_process("stubborn", force=True, timeout=30.0)
        assert time.monotonic() - started < 3.0
        assert "sending SIGKILL" in out.text and "sending SIGINT" not in out.text
        assert supervisor.service("stubborn").status == "stopped"
    finally:
        supervisor.stop(timeout=1.0)


def test_a_crashed_process_waiting_out_its_back_off_is_restarting_and_starts_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "crashed"   # the first run crashes, the next ones run
    crasher = ProcessSpec("crasher", [sys.executable, "-c",
                                      f"import pathlib, time; p = pathlib.Path({str(marker)!r}); "
                                      "first = not p.exists(); "
                                      "p.touch(); raise SystemExit(3) if first else time.sleep(60)"])
    supervisor = Supervisor([crasher], {}, RestartPolicy(initial_backoff_s=30.0), output=_Lines())
    supervisor.start()
    try:
        _wait(lambda: supervisor.service("crasher").status == "restarting", supervisor)
        assert supervisor.service("crasher").pid is None
        supervisor.start_process("crasher")   # at once, not after the 30 s back-off
        state = supervisor.service("crasher")
        assert state.status == "running" and state.pid is not None and state.restarts == 0
    finally:
        supervisor.stop(timeout=1.0)


def test_unknown_names_are_not_found(supervisor: Supervisor) -> None:
    for call in (supervisor.start_process, supervisor.stop_process, supervisor.restart_process, supervisor.service):
        with pytest.raises(NotFound, match="no service 'gripper'.*servo_controller, perception, sensors"):
            call("gripper")


def test_nothing_starts_once_the_launcher_is_stopping(supervisor: Supervisor) -> None:
    supervisor.stop_process("servo_controller")
    supervisor.request_stop()
    with pytest.raises(Conflict, match="stopping"):
        supervisor.start_process("servo_controller")


def test_the_servo_controller_is_not_stopped_while_the_robot_moves(supervisor: Supervisor) -> None:
    clock = _Clock()
    motion = MotionWatch(clock)
    control = ServiceControl(supervisor, motion)
    pid = supervisor.pids()["servo_controller"]
    motion.observe([0.0, 0.02])
    clock.now += 0.4
    for action in ("stop", "restart"):
        with pytest.raises(Conflict, match=rf"{action} of 'servo_controller' refused.*moves"):
            control.control("servo_controller", action)
    assert supervisor.pids()["servo_controller"] == pid
    outcome = control.control("perception", "restart")        # another process: allowed while moving
    assert outcome.affects == ("perception", "sensors") and outcome.service.restarts == 1
    motion.observe([0.005, -0.009, float("nan")])              # still: under 0.01 rad/s
    clock.now += 0.2                                           # 0.6 s after the last motion
    outcome = control.control("servo_controller", "stop")
    assert outcome.affects == ("servo_controller",) and outcome.service.status == "stopped"
    motion.observe([0.5])
    assert control.control("servo_controller", "start").service.status == "running"   # starting is allowed


def test_a_bad_action_lists_the_actions(supervisor: Supervisor) -> None:
    control = ServiceControl(supervisor, MotionWatch())
    with pytest.raises(InvalidRequest) as refused:
        control.control("perception", "pause")
    assert refused.value.problems == ["action: one of start, stop, restart"]


def test_a_service_survives_its_json_record(supervisor: Supervisor) -> None:
    state = supervisor.service("sensors")
    assert service_from_record(service_record(state)) == state
