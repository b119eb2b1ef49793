"""The bridge node's parameters (RestBridgeConfig, BridgeTimeouts) and the app settings made from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from embodied_ai.bridge.settings import BridgeSettings, BridgeTimeouts, RestBridgeConfig
from embodied_ai.launcher.config import load_launch_config
from tests.conftest import REPO


def test_the_defaults_make_the_default_settings(tmp_path: Path) -> None:
    assert RestBridgeConfig().settings(tmp_path) == BridgeSettings(state_dir=tmp_path)


def test_parameters_become_settings(tmp_path: Path) -> None:
    config = RestBridgeConfig(state_dir="~/robot", max_upload_mb=1.5, cors_origins=["", "http://ui"], port=0)
    settings = config.settings(tmp_path)
    assert settings.state_dir == Path("~/robot").expanduser() and settings.port == 0
    assert settings.max_upload_bytes == 1_572_864 and settings.cors_origins == ["http://ui"]


@pytest.mark.parametrize("bad", [{"port": 70000}, {"max_upload_mb": 0.0}, {"anonymous_rate_limit": "lots"},
                                 {"camera_event_hz": 60.0}])
def test_a_bad_parameter_is_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        RestBridgeConfig(**bad)


def test_every_timeout_is_positive_and_says_why() -> None:
    for name, field in BridgeTimeouts.model_fields.items():
        assert name.endswith("_s") and field.description and ", s; " in field.description, name
    with pytest.raises(ValidationError):
        BridgeTimeouts(generate_s=0.0)


def test_the_launch_file_sets_only_parameters_the_node_has() -> None:
    parameters = load_launch_config(REPO / "launch" / "robot.yaml").nodes["rest_bridge"].parameters
    known = set(RestBridgeConfig.model_fields) | {f"timeouts.{name}" for name in BridgeTimeouts.model_fields}
    assert set(parameters) <= known
    RestBridgeConfig(**{k: v for k, v in parameters.items() if k in RestBridgeConfig.model_fields})
