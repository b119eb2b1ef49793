"""Fixtures shared by the experts' unit tests: the built base (cached; built once if missing,
as scripts/setup.sh does), an engine on it, a service with the default experts, and a robot port that records what it was asked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from embodied_ai.experts.base_build import BuiltBase, build_base
from embodied_ai.experts.engine import InferenceEngine
from embodied_ai.experts.service import ExpertService


@pytest.fixture(scope="session")
def base() -> BuiltBase:
    return build_base()


@pytest.fixture(scope="session")
def engine(base: BuiltBase) -> InferenceEngine:
    return InferenceEngine(base.onnx_dir, memory_budget_mb=64)


@pytest.fixture
def service(base: BuiltBase, engine: InferenceEngine, tmp_path: Path) -> Iterator[ExpertService]:
    """A service on a fresh state directory with the default experts installed."""
    svc = ExpertService(tmp_path / "state", base, engine=engine)
    svc.install_defaults()
    yield svc
    svc.close()


@dataclass
class RecordingRobot:
    """The commander's RobotPort without ROS: records every goal, answers like the controller."""

    joint_positions: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[str, object]] = field(default_factory=list)

    def positions(self) -> Mapping[str, float] | None:
        return self.joint_positions

    def move_joints(self, targets: Mapping[str, float], relative: bool) -> tuple[bool, int, str]:
        self.calls.append(("move_joints", (dict(targets), relative)))
        return True, 0, "done"

    def grasp(self, side: str, force: float) -> tuple[bool, int, str]:
        self.calls.append(("grasp", (side, force)))
        return True, 0, "grasped"

    def emergency_stop(self) -> tuple[bool, int, str]:
        self.calls.append(("emergency_stop", None))
        return True, 0, "emergency stop latched"

    def describe_scene(self) -> str | None:
        return None
