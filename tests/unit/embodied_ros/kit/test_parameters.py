"""Parameters declared from a config model: what `ros2 param describe` shows, overrides, and a
clear error for a value out of its range."""

from __future__ import annotations

from enum import Enum

import pytest
import rclpy
from pydantic import BaseModel, Field
from rcl_interfaces.msg import ParameterType
from rclpy.context import Context
from rclpy.parameter import Parameter

from embodied_ros.kit.parameters import ParameterError, declare_parameter_group, declare_parameters


class Mode(str, Enum):
    FAST = "fast"
    SAFE = "safe"


class ExampleConfig(BaseModel):
    rate_hz: float = Field(200.0, gt=0, le=1000, description="control loop rate, Hz")
    retries: int = Field(3, ge=0, description="attempts before giving up")
    autostart: bool = Field(True, description="configure and activate on start")
    mode: Mode = Field(Mode.SAFE, description="how to move")
    cameras: list[str] = Field(["head_camera"], description="camera names")


def node(context: Context, **overrides: object):
    return rclpy.create_node("example", context=context, start_parameter_services=False,
                             parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


def test_each_field_is_a_described_parameter_with_its_range(context: Context) -> None:
    example = node(context)
    config = declare_parameters(example, ExampleConfig)
    assert config == ExampleConfig()
    rate = example.describe_parameter("rate_hz")
    assert rate.type == ParameterType.PARAMETER_DOUBLE and rate.description == "control loop rate, Hz"
    assert (rate.floating_point_range[0].from_value, rate.floating_point_range[0].to_value) == (0.0, 1000.0)
    assert example.describe_parameter("retries").integer_range[0].from_value == 0
    assert example.describe_parameter("mode").type == ParameterType.PARAMETER_STRING
    assert example.describe_parameter("cameras").type == ParameterType.PARAMETER_STRING_ARRAY
    example.destroy_node()


def test_overrides_are_read_back_and_validated(context: Context) -> None:
    example = node(context, rate_hz=100.0, mode="fast", cameras=["a", "b"])
    config = declare_parameters(example, ExampleConfig)
    assert (config.rate_hz, config.mode, config.cameras) == (100.0, Mode.FAST, ["a", "b"])
    example.destroy_node()


@pytest.mark.parametrize("overrides, named", [
    ({"rate_hz": 5000.0}, "rate_hz"),    # outside the declared range
    ({"rate_hz": 0.0}, "rate_hz"),       # the range's open end, caught by the model
    ({"mode": "reckless"}, "mode"),      # not one of the choices
])
def test_a_bad_value_is_a_clear_error_naming_the_parameter(context: Context, overrides: dict, named: str) -> None:
    example = node(context, **overrides)
    with pytest.raises(ParameterError, match=named):
        declare_parameters(example, ExampleConfig)
    example.destroy_node()


class ExampleTimeouts(BaseModel):
    move_s: float = Field(30.0, gt=0, description="one move, s")
    stop_s: float = Field(5.0, gt=0, description="the stop call, s")


def test_a_group_is_declared_under_its_prefix(context: Context) -> None:
    example = node(context, **{"timeouts.stop_s": 2.0})
    timeouts = declare_parameter_group(example, "timeouts", ExampleTimeouts)
    assert timeouts == ExampleTimeouts(stop_s=2.0)
    assert example.describe_parameter("timeouts.move_s").description == "one move, s"
    example.destroy_node()


def test_a_bad_value_in_a_group_names_the_full_parameter(context: Context) -> None:
    example = node(context, **{"timeouts.move_s": 0.0})
    with pytest.raises(ParameterError, match=r"timeouts\.move_s"):
        declare_parameter_group(example, "timeouts", ExampleTimeouts)
    example.destroy_node()
