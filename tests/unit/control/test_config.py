"""The servo controller node's parameters: the names and defaults it has always had, a
description for each, and ranges that refuse nonsense."""

import pytest
import yaml
from pydantic import ValidationError

from embodied_ai.control.config import ServoControllerConfig
from tests.conftest import REPO

# The node's parameters before they became a config model (name: default).
DECLARED = {"robot_description_file": "", "safety_config_file": "", "hardware": "sim", "hardware_config_file": "",
            "rate_hz": 200.0, "autostart": True, "autostart_retry_s": 5.0, "detections_topic": "detections",
            "object_max_age_s": 5.0}
# Added since (issue 11): the control loop's real-time class and core.
ADDED = {"realtime_priority": 80, "loop_cpu": -1}


def test_names_and_defaults_are_unchanged_and_each_is_described():
    assert ServoControllerConfig().model_dump() == {**DECLARED, **ADDED}
    assert all(field.description for field in ServoControllerConfig.model_fields.values())


def test_the_launch_config_sets_only_known_parameters():
    launched = yaml.safe_load((REPO / "launch" / "robot.yaml").read_text())["nodes"]["servo_controller"]["parameters"]
    assert set(launched) <= set(DECLARED) | set(ADDED)


@pytest.mark.parametrize("field", ["rate_hz", "autostart_retry_s", "object_max_age_s"])
def test_a_rate_or_period_must_be_positive(field):
    with pytest.raises(ValidationError, match=field):
        ServoControllerConfig.model_validate({field: 0.0})
