"""Text normalisation for commands, so that what was meant compares equal however it was written.

Whisper writes "Move the arm by 30 degrees." where a person typed "move the arm by thirty
degrees"; both normalise to "move the arm by 30 degrees". Number words become digits through
text2num (``alpha2digit`` with threshold 0, so "two seconds" is "2 seconds" too); then case,
punctuation and spacing are folded. Decimal points and a leading minus survive ("1.5", "-10").
"""

from __future__ import annotations

import re
import unicodedata

from text_to_num import alpha2digit

# Symbols Whisper sometimes writes for words a command may contain.
_SYMBOL_WORDS = {"°": " degrees ", "%": " percent ", "&": " and ", "+": " plus "}
_THOUSANDS_SEPARATOR = re.compile(r"(?<=\d),(?=\d{3}\b)")
# Anything that is not a letter, a digit, a decimal point between digits or a leading minus.
_PUNCTUATION = re.compile(r"(?<!\d)\.|\.(?!\d)|(?<!\S)-(?!\d)|(?<=\S)-|[^\w\s.\-]|_")
_SPACES = re.compile(r"\s+")


def numbers_to_digits(text: str, language: str = "en") -> str:
    """Number words as digits: "turn thirty five degrees" -> "turn 35 degrees"."""
    try:
        return alpha2digit(text, language, threshold=0)
    except (ValueError, KeyError):  # a language text2num does not know: leave the words
        return text


def normalize_command_text(text: str, language: str = "en") -> str:
    """Lower case, numbers as digits, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    for symbol, words in _SYMBOL_WORDS.items():
        text = text.replace(symbol, words)
    text = numbers_to_digits(text, language)
    text = _THOUSANDS_SEPARATOR.sub("", text).lower()
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
