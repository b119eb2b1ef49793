"""What every analysis accepts: the text limits, the word pattern, and the check that lists every problem."""

from __future__ import annotations

import re

MAX_TEXT_CHARS = 100_000   # longer texts are refused (seed 002: a 1 MB text is a 400/413, not a slow answer)
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)   # letters, with inner apostrophes ("it's")
CHUNK_CHARS = 2_000   # sentence-level tools (VADER, pysbd) slow down faster than linearly on longer inputs
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def text_problems(text: str) -> list[str]:
    """Why ``text`` cannot be analysed; empty when it can."""
    if not text.strip():
        return ["text is empty" if not text else "text is only whitespace"]
    if len(text) > MAX_TEXT_CHARS:
        return [f"text has {len(text)} characters; at most {MAX_TEXT_CHARS} are analysed"]
    return []


def words(text: str) -> list[str]:
    """The words of ``text`` in lower case, digits and punctuation left out."""
    return [match.group().lower().replace("’", "'") for match in WORD.finditer(text)]


def word_count(text: str) -> int:
    """Whitespace-separated words: how summary lengths are counted (``max_length``, ``min_length``)."""
    return len(text.split())


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut after a sentence's end where there is one in
    reach, else after a space, so that tools made for sentences run in linear time on a long text."""
    pieces: list[str] = []
    start = 0
    while len(text) - start > size:
        cut = None
        for match in _SENTENCE_END.finditer(text, start + 1, start + size):
            cut = match.end()
        if cut is None:   # no sentence ends here: cut after the last space, or at the size
            space = text.rfind(" ", start + 1, start + size)
            cut = space + 1 if space > start else start + size
        pieces.append(text[start:cut])
        start = cut
    if start < len(text):
        pieces.append(text[start:])
    return [piece for piece in pieces if piece.strip()]
