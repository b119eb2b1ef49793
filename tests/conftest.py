"""Shared fixtures: the real URDF and safety config, a controllable clock, a simulated robot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from embodied_ai.control import CommandHandle, ControllerStatus, ServoController
from embodied_ai.hardware.base import RobotHardware
from embodied_ai.hardware.sim import SimObject, SimulatedRobot
from embodied_ai.robot import RobotDescription, load_robot_description
from embodied_ai.safety import SafetyConfig, load_safety_config

REPO = Path(__file__).resolve().parents[1]
URDF = REPO / "urdf" / "embodied_robot.urdf"
SAFETY = REPO / "launch" / "safety.yaml"
LOOP_DT = 0.005  # the controller's default 200 Hz


class FakeClock:
    """A clock the test advances; makes the simulation and the controller deterministic."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingHardware(RobotHardware):
    """Passes everything to the simulated robot and keeps every write."""

    def __init__(self, inner: SimulatedRobot) -> None:
        self.inner, self.kind, self.writes = inner, inner.kind, []

    joint_names = property(lambda self: self.inner.joint_names)

    def open(self): self.inner.open()
    def close(self): self.inner.close()
    def set_torque(self, enabled): self.inner.set_torque(enabled)
    def read(self): return self.inner.read()

    def write_positions(self, targets: Mapping[str, float]):
        self.writes.append(dict(targets))
        return self.inner.write_positions(targets)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the modules that use the session's robot graph last, one after another.

    The graph (tests/graph/conftest.py) keeps about a dozen node processes busy from its first
    user until the session ends. Every test that does not need it runs before it starts, so no
    model-heavy unit test competes with it for the two cores, and the graph is stopped as soon
    as its last user is done. The sort is stable: the order within each group is unchanged.
    """
    graph_modules = {item.module for item in items if "graph" in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: item.module in graph_modules)


@pytest.fixture(scope="session")
def description() -> RobotDescription:
    return load_robot_description(URDF)


@pytest.fixture(scope="session")
def safety() -> SafetyConfig:
    return load_safety_config(SAFETY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(description: RobotDescription, clock: FakeClock) -> SimulatedRobot:
    robot = SimulatedRobot(description, [SimObject(1, "red_cube", 0.05, "r")], clock=clock)
    robot.open()
    return robot


class ControllerRig:
    """A controller on the simulated robot, stepped by hand at the loop period."""

    def __init__(self, controller: ServoController, clock: FakeClock, sim: SimulatedRobot) -> None:
        self.controller, self.clock, self.sim = controller, clock, sim
        self.status: ControllerStatus | None = None
        self.events: list[str] = []  # every safety event the controller reported

    def step(self, seconds: float = LOOP_DT) -> ControllerStatus:
        steps = max(1, round(seconds / LOOP_DT))
        for _ in range(steps):
            self.clock.advance(LOOP_DT)
            self.status = self.controller.tick()
            self.events.extend(self.status.events)
        assert self.status is not None
        return self.status

    def run_until_done(self, handle: CommandHandle, timeout: float = 10.0,
                       on_tick: Callable[[ControllerStatus], None] | None = None) -> None:
        deadline = self.clock.now + timeout
        while not handle.done:
            assert self.clock.now < deadline, f"{handle.kind} did not finish in {timeout} s"
            status = self.step()
            if on_tick:
                on_tick(status)


@pytest.fixture
def rig(description: RobotDescription, safety: SafetyConfig, clock: FakeClock, sim: SimulatedRobot) -> ControllerRig:
    controller = ServoController(description, sim, safety, clock=clock)
    controller.activate()
    return ControllerRig(controller, clock, sim)
