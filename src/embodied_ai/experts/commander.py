"""Words → a validated robot action → the robot (the speech issue's ``CommandHandler``).

text → router → robot_control expert (constrained to the action schema) → pydantic
validation → a plan checked against the URDF limits → move_joints / grasp / emergency_stop,
and a reply to speak. Anything else the router sends to another expert, whose answer is the
reply. An unknown or unsafe request gets a refusal and nothing moves: a plan is checked
whole before its first goal is sent, and the servo controller checks it again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.robot_actions import (
    ActionParseError,
    Close,
    Describe,
    GraspObject,
    Look,
    Move,
    Open,
    Say,
    Stop,
    Unknown,
    action_json_schema,
    action_to_json,
    parse_action,
)
from embodied_ai.experts.service import ExpertService
from embodied_ai.robot.description import GRIPPER_JOINTS, RobotDescription
from embodied_ai.speech.commander import Command, CommandReply
from embodied_ai.speech.normalize import normalize_command_text

ROBOT_EXPERT = "robot_control"
SIDE_WORDS = {"l": "left", "r": "right"}
# Where "look <direction>" points the head, in degrees (head_pan, head_tilt).
LOOK_TARGETS_DEG: dict[str, dict[str, float]] = {
    "left": {"head_pan": 30.0}, "right": {"head_pan": -30.0}, "up": {"head_tilt": -20.0},
    "down": {"head_tilt": 20.0}, "center": {"head_pan": 0.0, "head_tilt": 0.0}}
DEFAULT_GRASP_FORCE_N = 5.0
ACTION_MAX_TOKENS = 48


class RobotPort(Protocol):
    """What the commander needs from the robot (the experts node implements it over ROS)."""

    def positions(self) -> Mapping[str, float] | None:
        """The latest measured joint positions (rad), or None when unknown."""

    def move_joints(self, targets: Mapping[str, float], relative: bool) -> tuple[bool, int, str]: ...

    def grasp(self, side: str, force: float) -> tuple[bool, int, str]: ...

    def emergency_stop(self) -> tuple[bool, int, str]: ...

    def describe_scene(self) -> str | None:
        """A sentence about what the cameras see, or None without perception."""


@dataclass(frozen=True)
class Plan:
    """One action turned into robot goals (radians), checked against the limits."""

    kind: str                          # "move" | "grasp" | "stop" | "describe" | "say"
    targets: dict[str, float]
    relative: bool = False
    side: str = "r"
    reply: str = ""


class RobotCommandHandler:
    def __init__(self, service: ExpertService, description: RobotDescription, robot: RobotPort) -> None:
        self.service = service
        self.description = description
        self.robot = robot
        self._schema = action_json_schema()

    def handle(self, command: Command) -> CommandReply:
        text = command.normalized_text or normalize_command_text(command.text)
        if not text:
            return CommandReply(False, "I did not hear a command.", int(ErrorCode.INFERENCE_FAILED), "empty command")
        try:
            routed = self.service.route(text)
            if routed.expert != ROBOT_EXPERT:
                return self._answer(text, routed.expert)
            served = self.service.generate(
                GenerationRequest(text, max_tokens=ACTION_MAX_TOKENS, json_schema=self._schema), ROBOT_EXPERT)
            action = parse_action(served.result.text)
        except ActionParseError as exc:
            return CommandReply(False, "I did not understand that as something I can do. Nothing was moved.",
                                int(ErrorCode.INFERENCE_FAILED), str(exc), expert=ROBOT_EXPERT)
        except EmbodiedError as exc:
            return CommandReply(False, f"I cannot do that now: {exc}. Nothing was moved.", int(exc.code), str(exc))
        return self.execute(action)

    def _answer(self, text: str, expert: str) -> CommandReply:
        served = self.service.generate(GenerationRequest(text, max_tokens=96), expert)
        reply = served.result.text.strip() or "I have no answer to that."
        return CommandReply(True, reply, message=f"answered by {expert}", expert=expert)

    # -- action → plan → robot ----------------------------------------------------------
    def plan(self, action: object) -> Plan:
        """Turn an action into goals; raises EmbodiedError (4001) when it cannot be done safely."""
        if isinstance(action, Unknown):
            raise EmbodiedError("that is not something this robot can do", ErrorCode.SAFETY_VIOLATION)
        if isinstance(action, Move):
            radians = math.radians(action.degrees)
            relative = action.mode == "by"
            self._check_target(action.joint, radians, relative)
            how = "by" if relative else "to"
            return Plan("move", {action.joint: radians}, relative,
                        reply=f"Moving {action.joint.replace('_', ' ')} {how} {action.degrees:g} degrees.")
        if isinstance(action, Look):
            targets = {j: math.radians(d) for j, d in LOOK_TARGETS_DEG[action.direction].items()}
            for joint, target in targets.items():
                self._check_target(joint, target, False)
            return Plan("move", targets, reply=f"Looking {action.direction}.")
        if isinstance(action, (Open, Close)):
            joint = GRIPPER_JOINTS[action.side]
            limits = self.description.joint(joint)
            target = limits.lower if isinstance(action, Open) else limits.upper  # 0 rad = open
            verb = "Opening" if isinstance(action, Open) else "Closing"
            return Plan("move", {joint: target}, reply=f"{verb} my {SIDE_WORDS[action.side]} hand.")
        if isinstance(action, GraspObject):
            return Plan("grasp", {}, side=action.side, reply=f"Grasping with my {SIDE_WORDS[action.side]} hand.")
        if isinstance(action, Stop):
            return Plan("stop", {}, reply="Stopping.")
        if isinstance(action, Describe):
            return Plan("describe", {})
        if isinstance(action, Say):
            return Plan("say", {}, reply=action.text)
        raise EmbodiedError(f"no plan for {action!r}", ErrorCode.SAFETY_VIOLATION)

    def _check_target(self, joint: str, value: float, relative: bool) -> None:
        limits = self.description.joint(joint)
        target = value
        if relative:
            current = (self.robot.positions() or {}).get(joint)
            if current is None:
                return  # unknown start: the servo controller refuses an out-of-limit goal whole
            target = current + value
        if not limits.contains(target):
            raise EmbodiedError(
                f"{joint} would go to {math.degrees(target):.0f} degrees, outside its limits "
                f"({math.degrees(limits.lower):.0f} to {math.degrees(limits.upper):.0f})", ErrorCode.SAFETY_VIOLATION)

    def execute(self, action: object) -> CommandReply:
        action_json = action_to_json(action)  # type: ignore[arg-type]
        try:
            plan = self.plan(action)
        except EmbodiedError as exc:
            return CommandReply(False, f"I won't do that: {exc}. Nothing was moved.", int(exc.code), str(exc),
                                "[]", ROBOT_EXPERT)
        if plan.kind == "move":
            ok, code, message = self.robot.move_joints(plan.targets, plan.relative)
        elif plan.kind == "grasp":
            ok, code, message = self.robot.grasp(plan.side, DEFAULT_GRASP_FORCE_N)
        elif plan.kind == "stop":
            ok, code, message = self.robot.emergency_stop()
        elif plan.kind == "describe":
            scene = self.robot.describe_scene()
            if scene is None:
                return CommandReply(False, "I cannot see anything: no perception is running.",
                                    int(ErrorCode.HARDWARE_ERROR), "no scene description", "[]", ROBOT_EXPERT)
            return CommandReply(True, scene, actions_json=json.dumps([json.loads(action_json)]), expert=ROBOT_EXPERT)
        else:  # say: the reply is what is spoken
            ok, code, message = True, int(ErrorCode.OK), "say"
        if not ok:
            return CommandReply(False, f"That did not work: {message}.", code, message, "[]", ROBOT_EXPERT)
        return CommandReply(True, plan.reply, int(ErrorCode.OK), message,
                            json.dumps([json.loads(action_json)]), ROBOT_EXPERT)
