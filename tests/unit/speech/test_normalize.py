"""Number and punctuation normalisation: "30" and "thirty" mean the same to a command."""

from __future__ import annotations

import pytest

from embodied_ai.speech.normalize import normalize_command_text


@pytest.mark.parametrize("written, spoken", [
    ("Move the right shoulder up by 30 degrees.", "move the right shoulder up by thirty degrees"),
    ("Turn 45° left!", "turn forty-five degrees left"),
    ("Wait 2 seconds", "wait two seconds"),
    ("Rotate 135 degrees", "rotate one hundred thirty five degrees"),
    ("Lift 1,000 grams", "lift one thousand grams"),
    ("Wait 1.5 seconds.", "wait one point five seconds"),
])
def test_digits_and_number_words_normalise_alike(written, spoken):
    assert normalize_command_text(written) == normalize_command_text(spoken)
    assert any(ch.isdigit() for ch in normalize_command_text(spoken))


@pytest.mark.parametrize("text, expected", [
    ("Robot, open the gripper.", "robot open the gripper"),
    ("Turn -10 degrees", "turn -10 degrees"),
    ("left-hand gripper", "left hand gripper"),
    ("  MANY   spaces\t", "many spaces"),
    ("!!! ???", ""),
    ("", ""),
])
def test_case_punctuation_and_spacing_are_folded(text, expected):
    assert normalize_command_text(text) == expected
