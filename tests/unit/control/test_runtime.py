"""What the servo controller node runs between configure and cleanup, on the simulated robot
and the real clock: the loop on its thread, the services, the actions, the release."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from embodied_ai.control import CommandState, ServoController
from embodied_ai.control.config import ServoControllerConfig
from embodied_ai.control.loop import Tick
from embodied_ai.control.reach import KnownObjects
from embodied_ai.control.runtime import ControllerRuntime
from embodied_ai.errors import EmbodiedError, ErrorCode, SafetyViolation
from tests.conftest import REPO, SAFETY, URDF, RecordingHardware

CONFIG = ServoControllerConfig(robot_description_file=str(URDF), safety_config_file=str(SAFETY),
                               hardware_config_file=str(REPO / "launch" / "hardware_sim.yaml"), rate_hz=200.0)


class Ticks:
    """What the loop publishes, as the node's publisher would see it."""

    def __init__(self) -> None:
        self.received: list[Tick[float]] = []

    def __call__(self, tick: Tick[float]) -> None:
        self.received.append(tick)

    def during(self, seconds: float) -> list[Tick[float]]:
        start = len(self.received)
        time.sleep(seconds)
        return self.received[start:]


@pytest.fixture
def runtime() -> Iterator[ControllerRuntime]:
    runtime = ControllerRuntime.open(CONFIG, KnownObjects())
    yield runtime
    runtime.close()


@pytest.fixture
def ticks(runtime: ControllerRuntime) -> Ticks:
    ticks = Ticks()
    runtime.activate(time.monotonic, ticks)
    return ticks


def test_configure_loads_the_robot_and_opens_its_hardware(runtime):
    assert runtime.describe() == "12 joints, hardware 'sim', loop 200 Hz"
    assert runtime.sim is not None and not runtime.active


@pytest.mark.parametrize("change", [{"robot_description_file": "/no/such.urdf"}, {"hardware": "steam"},
                                    {"safety_config_file": str(URDF)}])
def test_configure_fails_with_a_reason_for_a_missing_or_wrong_file(change):
    with pytest.raises((ValueError, OSError, EmbodiedError)):
        ControllerRuntime.open(CONFIG.model_copy(update=change), KnownObjects())


def test_the_loop_runs_while_active_only(runtime, ticks):
    running = ticks.during(0.3)
    assert runtime.active and len(running) >= 30 and running[-1].backend == "sim"
    runtime.deactivate()
    assert not runtime.active and not ticks.during(0.1)
    runtime.activate(time.monotonic, ticks)   # and again, as after a lifecycle deactivate/activate
    assert ticks.during(0.1)


def test_a_move_runs_to_its_end_with_feedback(runtime, ticks):
    feedback = []
    handle, positions = runtime.move(["head_pan"], [0.2], 0.3, False, lambda: False,
                                     lambda measured, progress: feedback.append(progress))
    assert handle.state is CommandState.SUCCEEDED and positions == [pytest.approx(0.2, abs=0.011)]
    assert len(feedback) >= 4 and feedback == sorted(feedback)


def test_a_refused_move_raises_with_the_code_the_result_carries(runtime, ticks):
    with pytest.raises(SafetyViolation, match="outside the joint limits") as refused:
        runtime.move(["head_pan"], [7.0], 0.0, False, lambda: False, lambda *_: None)
    assert refused.value.code is ErrorCode.SAFETY_VIOLATION


def test_the_services_answer_with_a_message(runtime, ticks):
    assert runtime.emergency_stop() == "emergency stop latched"
    assert runtime.emergency_stop() == "emergency stop was already latched"
    assert runtime.reset_emergency_stop() == "emergency stop reset"
    assert runtime.inject_fault("wrist_roll_l", "clear") == "injected 'clear' on wrist_roll_l"
    with pytest.raises((KeyError, ValueError)):
        runtime.inject_fault("wrist_roll_l", "gremlins")


def test_faults_are_injected_into_the_simulated_robot_only(description, safety, sim):
    runtime = ControllerRuntime(ServoController(description, RecordingHardware(sim), safety), KnownObjects(), 200.0)
    with pytest.raises(ValueError, match="simulated robot only"):
        runtime.inject_fault("wrist_roll_l", "overheat")


def test_streamed_targets_are_ignored_while_inactive_and_checked_while_active(runtime):
    runtime.stream(["head_pan"], [0.1, 0.2])   # inactive: ignored, even when malformed
    runtime.activate(time.monotonic, lambda tick: None)
    with pytest.raises(SafetyViolation, match="differ in length"):
        runtime.stream(["head_pan"], [0.1, 0.2])
    runtime.stream(["head_pan"], [0.1])
    time.sleep(0.3)
    assert runtime.controller.positions["head_pan"] > 0.02


def test_the_simulators_objects_are_reported_when_they_change(runtime):
    states = runtime.changed_objects()
    assert states is not None and {holder for _, holder, _ in states} == {"", "l", "r"}   # launch/hardware_sim.yaml
    assert runtime.changed_objects() is None


def test_a_grasp_of_an_object_perception_never_saw_is_refused_naming_it(runtime, ticks):
    with pytest.raises(EmbodiedError, match="grasp object 999: object 999 has not been seen"):
        runtime.grasp(999, "", 5.0, lambda: False, lambda *_: None)


def test_a_failing_loop_reaches_the_guard(runtime):
    failures: list[BaseException] = []
    done = threading.Event()

    def guard(body) -> None:   # the node's: log it, end the process for a restart
        try:
            body()
        except RuntimeError as exc:
            failures.append(exc)
        done.set()

    def publish(tick: Tick[float]) -> None:
        raise RuntimeError("publisher gone")
    runtime.activate(time.monotonic, publish, guard=guard)
    assert done.wait(2.0) and str(failures[0]) == "publisher gone"
