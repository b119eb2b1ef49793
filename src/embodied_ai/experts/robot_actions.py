"""The robot_control expert's output contract: one JSON action per command.

The pydantic models below are the single definition: they validate what the model wrote,
and their JSON schema (with enums taken from the robot contract) is handed to ONNX Runtime
GenAI's constrained decoding, so the model can only write a syntactically valid action with
a known joint, side and direction. A schema fixes syntax, not meaning: the commander still
checks every motion against the URDF limits before anything moves.

Angles are degrees, signed by the robot's conventions (REP-103 axes): raising an arm
(shoulder pitch) is negative, bending an elbow positive, turning the head left positive,
tilting it down positive.

The expert does not write those signs. For a relative move it writes the direction as a
word and the angle as spoken ("lower your left arm by 65" → ``"direction":"down",
"degrees":65``), and ``parse_action`` turns the word into the sign through
``DIRECTION_WORDS``. A sign is a fact of this robot's joint axes, not of the sentence (the
right shoulder's "out" is negative, the left one's positive), and a small language model
copies or paraphrases a direction word more reliably than it learns per-joint signs (the same
training recipe went from 86.7 % to 97.5 % held-out exact: models/experts/robot_control/card.md).
The schema offers each joint only its own two words.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from embodied_ai.robot.description import CONTRACT_JOINTS

# Joints a "move" may name; grippers are driven by open / close / grasp.
MOVABLE_JOINTS: tuple[str, ...] = tuple(j for j in CONTRACT_JOINTS if not j.startswith("gripper"))
MovableJoint = Literal[MOVABLE_JOINTS]  # type: ignore[valid-type]
Side = Literal["l", "r"]

# Each movable joint's (positive, negative) direction words under the REP-103 axes of the URDF.
DIRECTION_WORDS: dict[str, tuple[str, str]] = {
    "head_pan": ("left", "right"),
    "head_tilt": ("down", "up"),
    **{f"shoulder_pitch_{s}": ("down", "up") for s in ("l", "r")},
    "shoulder_roll_l": ("out", "in"),   # away from the body: positive on the left, negative on the right
    "shoulder_roll_r": ("in", "out"),
    **{f"elbow_pitch_{s}": ("bend", "straighten") for s in ("l", "r")},
    **{f"wrist_roll_{s}": ("counterclockwise", "clockwise") for s in ("l", "r")},
}
if TYPE_CHECKING:  # a Literal built at run time: type checkers see its base type
    Direction = str
else:
    Direction = Literal[tuple(dict.fromkeys(w for words in DIRECTION_WORDS.values() for w in words))]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Move(_Action):
    """The contract's move, which the commander executes: signed degrees."""

    action: Literal["move"]
    joint: MovableJoint
    mode: Literal["by", "to"]           # by: relative to the current setpoint; to: absolute
    degrees: float


class MoveTo(_Action):
    """What the expert writes for an absolute move: the angle is signed as spoken ("minus 30")."""

    action: Literal["move"]
    joint: MovableJoint
    mode: Literal["to"]
    degrees: float

    def resolved(self) -> Move:
        return Move(action="move", joint=self.joint, mode="to", degrees=self.degrees)


class MoveBy(_Action):
    """What the expert writes for a relative move: a direction word and an unsigned angle."""

    action: Literal["move"]
    joint: MovableJoint
    mode: Literal["by"]
    direction: Direction
    degrees: float = Field(ge=0)

    @model_validator(mode="after")
    def _direction_fits_joint(self) -> MoveBy:
        if self.direction not in DIRECTION_WORDS[self.joint]:
            raise ValueError(f"{self.joint} moves {' or '.join(DIRECTION_WORDS[self.joint])}, not {self.direction}")
        return self

    def resolved(self) -> Move:
        positive, _ = DIRECTION_WORDS[self.joint]
        sign = 1 if self.direction == positive else -1
        return Move(action="move", joint=self.joint, mode="by", degrees=sign * self.degrees)

    @classmethod
    def from_move(cls, move: Move) -> MoveBy:
        positive, negative = DIRECTION_WORDS[move.joint]
        return cls(action="move", joint=move.joint, mode="by", direction=positive if move.degrees >= 0 else negative,
                   degrees=abs(move.degrees))


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


ContractAction = Union[Move, Open, Close, GraspObject, Look, Stop, Describe, Say, Unknown]
_CONTRACT: TypeAdapter[Any] = TypeAdapter(Annotated[ContractAction, Field(discriminator="action")])
# What the expert writes: the same actions, with a move split by its mode (see the module docstring).
_ExpertMove = Annotated[Union[MoveTo, MoveBy], Field(discriminator="mode")]
_EXPERT: TypeAdapter[Any] = TypeAdapter(Annotated[
    Union[_ExpertMove, Open, Close, GraspObject, Look, Stop, Describe, Say, Unknown], Field(discriminator="action")])


class ActionParseError(ValueError):
    """The model's text is not a valid action."""


def action_json_schema() -> dict[str, Any]:
    """The schema for the expert's constrained decoding: compact JSON (no free whitespace), as
    trained, and a relative move offers each joint only its own two direction words."""
    schema = _EXPERT.json_schema()
    move_by = schema["$defs"]["MoveBy"]
    by_words: dict[tuple[str, str], list[str]] = {}
    for joint, words in DIRECTION_WORDS.items():
        by_words.setdefault(tuple(sorted(words)), []).append(joint)  # type: ignore[arg-type]
    schema["$defs"]["MoveBy"] = {"anyOf": [
        {**move_by, "properties": {**move_by["properties"], "joint": {"enum": joints},
                                   "direction": {"enum": list(words)}}}
        for words, joints in by_words.items()]}
    # llguidance: forbid free whitespace so the output matches the compact training targets.
    schema["x-guidance"] = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
    return schema


def parse_action(text: str) -> ContractAction:
    """The expert's text → the contract action it means (a relative move's direction → its sign)."""
    try:
        action = _EXPERT.validate_json(text)
    except ValidationError as exc:
        raise ActionParseError(f"not a valid robot action: {text!r} ({exc.errors()[0]['msg']})") from exc
    return action.resolved() if isinstance(action, (MoveTo, MoveBy)) else action


def _compact(data: dict[str, Any]) -> str:
    if isinstance(data.get("degrees"), float) and data["degrees"].is_integer():
        data["degrees"] = int(data["degrees"])
    return json.dumps(data, separators=(",", ":"))


def action_to_json(action: BaseModel) -> str:
    """A contract action as compact JSON (signed degrees): what the commander reports."""
    return _compact(action.model_dump())


def expert_text(action: BaseModel) -> str:
    """A contract action as the expert writes it: exactly the training target format."""
    if isinstance(action, Move) and action.mode == "by":
        action = MoveBy.from_move(action)
    return _compact(action.model_dump())


def action_from_dict(data: dict[str, Any]) -> ContractAction:
    """A contract action (signed degrees) from its JSON object."""
    return _CONTRACT.validate_python(data)
