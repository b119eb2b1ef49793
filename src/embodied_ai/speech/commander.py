"""Spoken commands: which transcripts are meant for the robot, and whom they are handed to.

A microphone hears everything, so a transcript becomes a command only when it is addressed
to the robot:
- ``wake_phrase``: it starts with a wake phrase ("robot, raise your right arm"); a wake
  phrase said alone opens a short window in which the next utterance is the command;
- ``push_to_talk``: the utterance overlaps a time the talk button was held (transcripts
  arrive after the button is released, so times are compared, not arrival).

What the command *means* is not decided here. It goes to a ``CommandHandler``: the experts
(issue 5) turn words into validated robot actions and carry them out behind the ROS action
``handle_command`` (embodied_interfaces/HandleCommand). Until such a handler exists the
commander says so, in its reply and out loud, and nothing moves: a guessed parse must never
move a robot.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from embodied_ai.errors import ErrorCode
from embodied_ai.speech.normalize import normalize_command_text

DEFAULT_WAKE_PHRASES = ("robot", "hey robot", "ok robot", "okay robot")


class ActivationMode(str, Enum):
    WAKE_PHRASE = "wake_phrase"
    PUSH_TO_TALK = "push_to_talk"


@dataclass(frozen=True)
class Command:
    """A command addressed to the robot."""

    heard: str                 # the whole transcript or typed text
    text: str                  # the command itself (wake phrase removed)
    normalized_text: str       # lower case, numbers as digits
    source: str = "speech"     # "speech" or "text"


@dataclass(frozen=True)
class CommandReply:
    success: bool
    reply: str                 # what to say back
    error_code: int = int(ErrorCode.OK)
    message: str = ""
    actions_json: str = "[]"   # the robot actions carried out (JSON list)
    expert: str = ""


class CommandHandler(Protocol):
    """Turns a command into robot actions and a reply. Implemented by the experts (issue 5)."""

    def handle(self, command: Command) -> CommandReply: ...


def handler_missing_reply(command: Command, why: str) -> CommandReply:
    """The honest answer while nothing can turn words into actions: heard, understood nothing, did nothing."""
    return CommandReply(
        success=False,
        reply=(f"I heard: {command.text.rstrip('.!?')}. I cannot act on spoken commands yet, because the "
               "experts that understand them are not running. Nothing was moved."),
        error_code=int(ErrorCode.EXPERT_NOT_READY),
        message=f"no command handler: {why}")


# -- activation ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    """What to do with one transcript."""

    command: Command | None    # handed on when set
    listening: bool = False    # a bare wake phrase: the next utterance is the command
    reason: str = ""           # why it was ignored (for logs)


class WakePhraseGate:
    """Commands that start with a wake phrase, or follow a bare wake phrase within ``follow_up_s``."""

    def __init__(self, wake_phrases: Sequence[str] = DEFAULT_WAKE_PHRASES, follow_up_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        normalized = {normalize_command_text(p) for p in wake_phrases}
        normalized.discard("")
        if not normalized:
            raise ValueError("at least one non-empty wake phrase is needed")
        # Longest first, so "hey robot" is removed whole rather than leaving "hey".
        self.wake_phrases = sorted(normalized, key=len, reverse=True)
        self._prefixes = [re.compile(r"^\W*" + r"\W+".join(map(re.escape, phrase.split())) + r"\b\W*",
                                     re.IGNORECASE) for phrase in self.wake_phrases]
        self.follow_up_s = follow_up_s
        self._clock = clock
        self._listening_until = -1.0

    def check(self, text: str, normalized_text: str, source: str = "speech") -> Activation:
        for phrase, prefix in zip(self.wake_phrases, self._prefixes):
            if normalized_text == phrase:
                self._listening_until = self._clock() + self.follow_up_s
                return Activation(None, listening=True)
            if normalized_text.startswith(phrase + " "):
                rest = normalized_text[len(phrase) + 1:]
                command_text, removed = prefix.subn("", text, count=1)
                return Activation(Command(text, command_text if removed and command_text else rest, rest, source))
        if self._clock() <= self._listening_until:
            self._listening_until = -1.0
            return Activation(Command(text, text, normalized_text, source))
        return Activation(None, reason="no wake phrase")


class PushToTalkGate:
    """Commands whose utterance overlaps a time the talk button was held (times in seconds)."""

    def __init__(self, keep: int = 32) -> None:
        self._presses: deque[tuple[float, float | None]] = deque(maxlen=keep)

    @property
    def pressed(self) -> bool:
        return bool(self._presses) and self._presses[-1][1] is None

    def press(self, now: float) -> None:
        if not self.pressed:
            self._presses.append((now, None))

    def release(self, now: float) -> None:
        if self.pressed:
            self._presses[-1] = (self._presses[-1][0], now)

    def check(self, text: str, normalized_text: str, start_s: float, end_s: float,
              source: str = "speech") -> Activation:
        for pressed_at, released_at in self._presses:
            if start_s <= (released_at if released_at is not None else float("inf")) and end_s >= pressed_at:
                return Activation(Command(text, text, normalized_text, source))
        return Activation(None, reason="push-to-talk was not held")
