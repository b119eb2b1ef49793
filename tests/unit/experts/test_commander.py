"""Robot actions: the schema, the plan checked against the URDF limits, and the commander end to
end on the real model (router → robot_control adapter → constrained JSON → robot goals)."""

from __future__ import annotations

import json
import math

import pytest

from embodied_ai.errors import ErrorCode
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.commander import RobotCommandHandler
from embodied_ai.experts.engine import InferenceEngine
from embodied_ai.experts.robot_actions import (
    DIRECTION_WORDS,
    MOVABLE_JOINTS,
    ActionParseError,
    Move,
    action_from_dict,
    action_json_schema,
    expert_text,
    parse_action,
)
from embodied_ai.experts.router import Router
from embodied_ai.experts.service import ExpertService
from embodied_ai.robot import RobotDescription
from embodied_ai.speech.commander import Command
from tests.unit.experts.recording_robot import RecordingRobot

pytestmark = pytest.mark.timeout(1500)


def test_schema_enums_come_from_the_robot_contract() -> None:
    schema = json.dumps(action_json_schema())
    for joint in ("shoulder_pitch_r", "head_pan", "wrist_roll_l"):
        assert f'"{joint}"' in schema
    assert '"gripper_r"' not in schema  # grippers move only through open / close / grasp


def test_every_movable_joint_has_two_direction_words() -> None:
    assert set(DIRECTION_WORDS) == set(MOVABLE_JOINTS)
    assert all(len(set(words)) == 2 for words in DIRECTION_WORDS.values())


@pytest.mark.parametrize(("text", "joint", "degrees"), [
    ('{"action":"move","joint":"shoulder_pitch_l","mode":"by","direction":"down","degrees":65}', "shoulder_pitch_l",
     65),
    ('{"action":"move","joint":"shoulder_pitch_r","mode":"by","direction":"up","degrees":30}', "shoulder_pitch_r", -30),
    ('{"action":"move","joint":"shoulder_roll_r","mode":"by","direction":"out","degrees":20}', "shoulder_roll_r", -20),
    ('{"action":"move","joint":"shoulder_roll_l","mode":"by","direction":"out","degrees":20}', "shoulder_roll_l", 20),
    ('{"action":"move","joint":"elbow_pitch_r","mode":"by","direction":"straighten","degrees":15}', "elbow_pitch_r",
     -15),
    ('{"action":"move","joint":"wrist_roll_l","mode":"by","direction":"clockwise","degrees":90}', "wrist_roll_l", -90),
    ('{"action":"move","joint":"head_pan","mode":"by","direction":"left","degrees":20}', "head_pan", 20),
    ('{"action":"move","joint":"head_tilt","mode":"by","direction":"down","degrees":10}', "head_tilt", 10),
    ('{"action":"move","joint":"head_pan","mode":"to","degrees":-30}', "head_pan", -30),
])
def test_the_experts_direction_word_becomes_the_joints_sign(text: str, joint: str, degrees: int) -> None:
    action = parse_action(text)
    assert action == Move(action="move", joint=joint, mode="by" if '"by"' in text else "to", degrees=degrees)
    assert expert_text(action) == text  # and back: the training target of that action


def test_the_schema_offers_each_joint_only_its_own_direction_words() -> None:
    move_by = action_json_schema()["$defs"]["MoveBy"]["anyOf"]
    offered = {joint: set(variant["properties"]["direction"]["enum"])
               for variant in move_by for joint in variant["properties"]["joint"]["enum"]}
    assert offered == {joint: set(words) for joint, words in DIRECTION_WORDS.items()}


@pytest.mark.parametrize("text", [
    '{"action":"move","joint":"knee_l","mode":"by","degrees":10}',
    '{"action":"move","joint":"head_pan","mode":"by"}',
    '{"action":"move","joint":"head_pan","mode":"by","degrees":10}',                       # no direction
    '{"action":"move","joint":"head_tilt","mode":"by","direction":"left","degrees":10}',   # not head_tilt's
    '{"action":"move","joint":"elbow_pitch_l","mode":"by","direction":"bend","degrees":-10}',  # signed twice
    '{"action":"move","joint":"head_pan","mode":"to","direction":"left","degrees":10}',
    '{"action":"open","side":"middle"}',
    '{"action":"teleport"}',
    "raise the arm",
])
def test_invalid_actions_are_rejected(text: str) -> None:
    with pytest.raises(ActionParseError):
        parse_action(text)


def _handler(description: RobotDescription, robot: RecordingRobot, service: ExpertService | None = None
             ) -> RobotCommandHandler:
    return RobotCommandHandler(service, description, robot)  # type: ignore[arg-type]


def test_out_of_limit_moves_are_refused_and_nothing_moves(description: RobotDescription) -> None:
    robot = RecordingRobot(joint_positions={"shoulder_pitch_r": -0.5})
    handler = _handler(description, robot)
    for action in ({"action": "move", "joint": "shoulder_pitch_r", "mode": "by", "degrees": -500},
                   {"action": "move", "joint": "elbow_pitch_l", "mode": "to", "degrees": 170},
                   {"action": "unknown"}):
        reply = handler.execute(action_from_dict(action))
        assert not reply.success and reply.error_code == ErrorCode.SAFETY_VIOLATION and reply.actions_json == "[]"
    assert robot.calls == []


def test_actions_become_the_right_goals(description: RobotDescription) -> None:
    robot = RecordingRobot(joint_positions={"shoulder_pitch_r": 0.0})
    handler = _handler(description, robot)
    assert handler.execute(action_from_dict(
        {"action": "move", "joint": "shoulder_pitch_r", "mode": "by", "degrees": -30})).success
    assert handler.execute(action_from_dict({"action": "open", "side": "l"})).success
    assert handler.execute(action_from_dict({"action": "grasp", "side": "r"})).success
    assert handler.execute(action_from_dict({"action": "stop"})).success
    say = handler.execute(action_from_dict({"action": "say", "text": "hello there"}))
    assert say.success and say.reply == "hello there"
    (name, (targets, relative)), open_left, grasp, stop = robot.calls
    assert name == "move_joints" and relative and math.isclose(targets["shoulder_pitch_r"], math.radians(-30))
    assert open_left == ("move_joints", ({"gripper_l": 0.0}, False))
    assert grasp[0] == "grasp" and grasp[1][0] == "r" and stop[0] == "emergency_stop"


@pytest.fixture(scope="module")
def service(base: BuiltBase, engine: InferenceEngine, tmp_path_factory: pytest.TempPathFactory
            ) -> ExpertService:
    state = tmp_path_factory.mktemp("state")
    svc = ExpertService(state, base, engine=engine, router=Router.load(state / "router"))
    assert "robot_control" in svc.install_defaults()
    yield svc
    svc.close()


@pytest.mark.parametrize(("text", "joint", "degrees"), [
    ("Robot, raise your right arm by thirty degrees please", "shoulder_pitch_r", -30),
    ("turn your head left by 20 degrees", "head_pan", 20),
])
def test_commands_move_the_robot(service: ExpertService, description: RobotDescription, text: str, joint: str,
                                 degrees: int) -> None:
    robot = RecordingRobot(joint_positions={joint: 0.0})
    reply = RobotCommandHandler(service, description, robot).handle(Command(text, text, ""))
    assert reply.success, reply
    assert reply.expert == "robot_control"
    assert robot.calls == [("move_joints", ({joint: pytest.approx(math.radians(degrees))}, True))]


@pytest.mark.parametrize("text", ["move your left leg", "raise your right arm by five hundred degrees"])
def test_unknown_or_unsafe_commands_are_refused(service: ExpertService, description: RobotDescription,
                                                text: str) -> None:
    robot = RecordingRobot(joint_positions={"shoulder_pitch_r": 0.0})
    reply = RobotCommandHandler(service, description, robot).handle(Command(text, text, ""))
    assert not reply.success and reply.error_code == ErrorCode.SAFETY_VIOLATION and "Nothing was moved" in reply.reply
    assert robot.calls == []


def test_other_prompts_go_to_another_expert(service: ExpertService, description: RobotDescription) -> None:
    robot = RecordingRobot()
    reply = RobotCommandHandler(service, description, robot).handle(
        Command("What is the capital of France?", "What is the capital of France?", ""))
    assert reply.success and reply.expert == "general" and reply.reply
    assert robot.calls == []
