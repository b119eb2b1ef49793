"""The experts node's parameters: today's names and defaults, the values launch/robot.yaml
gives, the state and dataset folders they resolve to."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from embodied_ai.experts.config import ExpertsNodeConfig
from embodied_ai.paths import STATE_DIR_ENV
from tests.conftest import REPO


def test_defaults() -> None:
    assert ExpertsNodeConfig().model_dump() == {
        "state_dir": "", "memory_budget_mb": 512.0, "base_precision": "int8", "robot_description_file": "",
        "statistics_period_s": 2.0, "action_timeout_s": 30.0, "scene_max_age_s": 2.0, "use_router": True,
        "dataset_dirs": [""], "autostart": True}
    for name, field in ExpertsNodeConfig.model_fields.items():
        assert field.description and len(field.description) > 10, name


def test_robot_yaml_values_fit() -> None:
    parameters = yaml.safe_load((REPO / "launch" / "robot.yaml").read_text())["nodes"]["experts"]["parameters"]
    config = ExpertsNodeConfig.model_validate(parameters)
    assert config.model_dump(include=set(parameters)) == parameters


def test_state_and_dataset_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "from_env"))
    default = ExpertsNodeConfig()
    assert default.resolved_state_dir() == tmp_path / "from_env" and default.dataset_roots() is None
    given = ExpertsNodeConfig(state_dir=str(tmp_path / "state"), dataset_dirs=["", str(tmp_path / "uploads")])
    assert given.resolved_state_dir() == tmp_path / "state" and given.dataset_roots() == [tmp_path / "uploads"]


@pytest.mark.parametrize("values", [{"base_precision": "int3"}, {"memory_budget_mb": 0.0},
                                    {"statistics_period_s": -1.0}, {"no_such_parameter": 1}])
def test_values_out_of_range_are_refused(values: dict) -> None:
    with pytest.raises(ValidationError):
        ExpertsNodeConfig.model_validate(values)
