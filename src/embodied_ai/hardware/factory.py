"""Build a hardware back end from its kind and a config mapping (a YAML file in launch/)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from embodied_ai.hardware.base import RobotHardware
from embodied_ai.hardware.sim import SHAPES, SimObject, SimTable, SimulatedRobot
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
        objects = [sim_object_from_config(o) for o in config.get("objects", [])]
        return SimulatedRobot(description, objects, seed=int(config.get("seed", 0)),
                              table=sim_table_from_config(config.get("table") or {}),
                              initial_positions=config.get("initial_positions") or {})
    if kind == "dynamixel":
        # Imported lazily: pyserial and the SDK are only needed on a real robot.
        from embodied_ai.hardware.dynamixel import DynamixelBus

        return DynamixelBus.from_config(dict(config))
    raise ValueError(f"unknown hardware back end '{kind}'; choose one of: {', '.join(BACKENDS)}")


def sim_object_from_config(entry: Mapping[str, Any]) -> SimObject:
    """One entry of a sim config's ``objects`` list (launch/hardware_sim.yaml)."""
    shape = str(entry.get("shape", "cube"))
    if shape not in SHAPES:
        raise ValueError(f"object '{entry.get('name')}': shape '{shape}' is not one of {', '.join(SHAPES)}")
    table_xy = entry.get("table_xy")
    return SimObject(
        int(entry["id"]), str(entry["name"]), float(entry["width_m"]), entry.get("in_gripper"),
        shape=shape,
        colour_bgr=tuple(int(c) for c in entry.get("colour_bgr", (40, 40, 200))),  # type: ignore[arg-type]
        height_m=float(entry["height_m"]) if "height_m" in entry else None,
        table_xy=(float(table_xy[0]), float(table_xy[1])) if table_xy is not None else None,
        yaw=float(entry.get("yaw", 0.0)),
    )


def sim_table_from_config(entry: Mapping[str, Any]) -> SimTable:
    defaults = SimTable()
    return SimTable(
        top_z_m=float(entry.get("top_z_m", defaults.top_z_m)),
        x_range_m=tuple(float(v) for v in entry.get("x_range_m", defaults.x_range_m)),  # type: ignore[arg-type]
        y_range_m=tuple(float(v) for v in entry.get("y_range_m", defaults.y_range_m)),  # type: ignore[arg-type]
        colour_bgr=tuple(int(c) for c in entry.get("colour_bgr", defaults.colour_bgr)),  # type: ignore[arg-type]
    )
