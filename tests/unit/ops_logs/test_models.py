"""Operations log lines: ROS levels, service names, time parsing and formatting."""

from __future__ import annotations

import math

import pytest

from embodied_ai.ops_logs.models import OpsLogLine, from_ros_levels, iso_z, level_name, parse_instant, service_of


@pytest.mark.parametrize(("level", "name"), [
    (10, "DEBUG"), (20, "INFO"), (30, "WARN"), (40, "ERROR"), (50, "FATAL"),
    (0, "DEBUG"), (25, "INFO"), (49, "ERROR"), (200, "FATAL"),
])
def test_ros_levels_map_to_names(level: int, name: str) -> None:
    assert from_ros_levels(level) == name


@pytest.mark.parametrize(("text", "name"), [
    ("warn", "WARN"), ("WARN", "WARN"), ("Warning", "WARN"), (" error ", "ERROR"), ("critical", "FATAL"),
    ("debug", "DEBUG"), ("verbose", None), ("", None),
])
def test_level_names_are_case_insensitive(text: str, name: str | None) -> None:
    assert level_name(text) == name


def test_the_service_is_the_logger_name_up_to_its_first_dot() -> None:
    assert service_of("servo_controller.control") == "servo_controller"
    assert service_of("experts") == "experts"


def test_a_line_from_rosout_fields() -> None:
    line = OpsLogLine.from_ros(1_704_110_400.25, 40, "servo_controller.control", "bus fault", "servo.py", "step", 42)
    assert line == OpsLogLine(1_704_110_400.25, "ERROR", "servo_controller", "servo_controller.control", "bus fault",
                              {"file": "servo.py", "function": "step", "line": 42})


def test_a_line_refuses_an_unknown_level_or_a_non_finite_stamp() -> None:
    with pytest.raises(ValueError, match="level"):
        OpsLogLine(0.0, "NOTICE", "a", "a", "m")
    with pytest.raises(ValueError, match="timestamp"):
        OpsLogLine(math.nan, "INFO", "a", "a", "m")


def test_times_are_iso_utc_with_milliseconds() -> None:
    assert iso_z(1_704_110_400.0) == "2024-01-01T12:00:00.000Z"
    assert iso_z(1_704_110_400.2509) == "2024-01-01T12:00:00.250Z"


@pytest.mark.parametrize(("value", "epoch"), [
    ("2024-01-01T12:00:00Z", 1_704_110_400.0),
    ("2024-01-01T13:00:00+01:00", 1_704_110_400.0),
    ("2024-01-01T12:00:00.5z", 1_704_110_400.5),
    ("1704110400", 1_704_110_400.0),
    (" 1704110400.5 ", 1_704_110_400.5),
    (1_704_110_400, 1_704_110_400.0),
])
def test_instants_read_iso_with_a_zone_or_epoch_seconds(value: str | float, epoch: float) -> None:
    assert parse_instant(value, "since") == (epoch, None)


@pytest.mark.parametrize(("value", "problem"), [
    ("2024-01-01T12:00:00", "needs a timezone"),
    ("yesterday", "not an ISO-8601 time"),
    ("", "not a time"),
    ("nan", "not a finite time"),
    (math.inf, "not a finite time"),
    (True, "not a time"),
])
def test_bad_instants_say_why(value: str | float, problem: str) -> None:
    epoch, text = parse_instant(value, "until")
    assert epoch is None and text is not None and text.startswith("until: ") and problem in text
