"""The robot_control expert's output contract: one JSON action per command.

The pydantic models below are the single definition: they validate what the model wrote,
and their JSON schema (with enums taken from the robot contract) is handed to ONNX Runtime
GenAI's constrained decoding, so the model can only write a syntactically valid action with
a known joint, side and direction. A schema fixes syntax, not meaning: the commander still
checks every motion against the URDF limits before anything moves.

Angles are degrees as spoken, signed by the robot's conventions (REP-103 axes): raising an
arm (shoulder pitch) is negative, bending an elbow positive, turning the head left positive,
tilting it down positive.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from embodied_ai.robot.description import CONTRACT_JOINTS

# Joints a "move" may name; grippers are driven by open / close / grasp.
MOVABLE_JOINTS: tuple[str, ...] = tuple(j for j in CONTRACT_JOINTS if not j.startswith("gripper"))
MovableJoint = Literal[MOVABLE_JOINTS]  # type: ignore[valid-type]
Side = Literal["l", "r"]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Move(_Action):
    action: Literal["move"]
    joint: MovableJoint
    mode: Literal["by", "to"]           # by: relative to the current setpoint; to: absolute
    degrees: float


class Open(_Action):
    action: Literal["open"]
    side: Side


class Close(_Action):
    action: Literal["close"]
    side: Side


class GraspObject(_Action):
    action: Literal["grasp"]
    side: Side


class Look(_Action):
    action: Literal["look"]
    direction: Literal["left", "right", "up", "down", "center"]


class Stop(_Action):
    action: Literal["stop"]


class Describe(_Action):
    action: Literal["describe"]


class Say(_Action):
    action: Literal["say"]
    text: str = Field(min_length=1, max_length=200)


class Unknown(_Action):
    """Not a robot command this contract can express; the commander refuses it."""

    action: Literal["unknown"]


RobotAction = Annotated[Union[Move, Open, Close, GraspObject, Look, Stop, Describe, Say, Unknown],
                        Field(discriminator="action")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(RobotAction)


class ActionParseError(ValueError):
    """The model's text is not a valid action."""


def action_json_schema() -> dict[str, Any]:
    """The schema for constrained decoding: compact JSON (no free whitespace), as trained."""
    schema = _ADAPTER.json_schema()
    # llguidance: forbid free whitespace so the output matches the compact training targets.
    schema["x-guidance"] = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
    return schema


def parse_action(text: str) -> Move | Open | Close | GraspObject | Look | Stop | Describe | Say | Unknown:
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as exc:
        raise ActionParseError(f"not a valid robot action: {text!r} ({exc.errors()[0]['msg']})") from exc


def action_to_json(action: BaseModel) -> str:
    """Compact JSON with the field order of the model: exactly the training target format."""
    data = action.model_dump()
    if isinstance(data.get("degrees"), float) and data["degrees"].is_integer():
        data["degrees"] = int(data["degrees"])
    return json.dumps(data, separators=(",", ":"))


def action_from_dict(data: dict[str, Any]) -> BaseModel:
    return _ADAPTER.validate_python(data)
