"""Build a hardware back end from its kind and a config mapping (a YAML file in launch/)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from embodied_ai.hardware.base import RobotHardware
from embodied_ai.hardware.sim import SimObject, SimulatedRobot
from embodied_ai.robot.description import RobotDescription

BACKENDS = ("sim", "dynamixel")


def load_hardware_config(path: str | Path | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read hardware config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"hardware config {path} must be a mapping")
    return data


def create_hardware(kind: str, description: RobotDescription, config: Mapping[str, Any]) -> RobotHardware:
    if kind == "sim":
        objects = [
            SimObject(int(o["id"]), str(o["name"]), float(o["width_m"]), o.get("in_gripper"))
            for o in config.get("objects", [])
        ]
        return SimulatedRobot(description, objects, seed=int(config.get("seed", 0)))
    if kind == "dynamixel":
        # Imported lazily: pyserial and the SDK are only needed on a real robot.
        from embodied_ai.hardware.dynamixel import DynamixelBus

        return DynamixelBus.from_config(dict(config))
    raise ValueError(f"unknown hardware back end '{kind}'; choose one of: {', '.join(BACKENDS)}")
