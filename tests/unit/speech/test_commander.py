"""Which transcripts become commands (wake phrase, push-to-talk), and the reply with no experts."""

from __future__ import annotations

import pytest

from embodied_ai.errors import ErrorCode
from embodied_ai.speech.commander import Command, PushToTalkGate, WakePhraseGate, handler_missing_reply
from embodied_ai.speech.normalize import normalize_command_text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def check(gate: WakePhraseGate, text: str):
    return gate.check(text, normalize_command_text(text))


@pytest.mark.parametrize("text, command", [
    ("Robot, raise your right arm by 30 degrees.", "raise your right arm by 30 degrees."),
    ("Hey robot! Open the left gripper.", "Open the left gripper."),
    ("OK, robot: look up by ten degrees", "look up by ten degrees"),
])
def test_a_wake_phrase_at_the_start_makes_the_rest_a_command(text, command):
    activation = check(WakePhraseGate(), text)
    assert activation.command is not None and activation.command.text == command
    assert not normalize_command_text(activation.command.normalized_text).startswith(("robot", "hey", "ok"))


@pytest.mark.parametrize("text", ["Raise your right arm.", "The robot is nice.", "Robots are everywhere.", ""])
def test_speech_without_the_wake_phrase_at_the_start_is_ignored(text):
    assert check(WakePhraseGate(), text).command is None


def test_a_bare_wake_phrase_makes_the_next_utterance_within_the_window_a_command():
    clock = Clock()
    gate = WakePhraseGate(follow_up_s=5.0, clock=clock)
    assert check(gate, "Robot.").listening
    clock.now = 3.0
    assert check(gate, "Open the left gripper.").command.text == "Open the left gripper."
    clock.now = 4.0
    assert check(gate, "And close it.").command is None  # the window is used up
    check(gate, "Hey robot")
    clock.now = 10.0
    assert check(gate, "Open the left gripper.").command is None  # too late


def test_push_to_talk_takes_utterances_that_overlap_the_press():
    gate = PushToTalkGate()
    gate.press(10.0)
    gate.release(13.0)
    # The transcript arrives after the release; its utterance times are what count.
    assert gate.check("Open the gripper.", "open the gripper", 10.5, 12.8).command is not None
    assert gate.check("Earlier chatter.", "earlier chatter", 6.0, 9.5).command is None
    assert gate.check("Later chatter.", "later chatter", 13.5, 15.0).command is None
    gate.press(20.0)
    assert gate.pressed and gate.check("Stop.", "stop", 20.2, 21.0).command is not None


def test_without_experts_the_reply_says_so_and_nothing_is_done():
    reply = handler_missing_reply(Command("Robot, wave.", "wave.", "wave"), "no handle_command server")
    assert not reply.success and reply.error_code == ErrorCode.EXPERT_NOT_READY
    assert reply.actions_json == "[]" and "Nothing was moved" in reply.reply and "wave" in reply.reply
    assert "robot" not in reply.reply.lower()  # the reply must not wake the commander again
