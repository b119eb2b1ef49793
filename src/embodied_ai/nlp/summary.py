"""Extractive summaries: the text's most central sentences, in their original order, within a word budget.

Lengths are words (whitespace-separated), as the seed's ``max_length`` / ``min_length`` are for its
summarisation model (tokens, close to words), and ``compression_ratio`` is summary words over text words.
A sentence (split by pysbd, MIT) scores the frequencies of its content words, normalised by the most frequent
one, summed and divided by the square root of its content-word count (Luhn's idea, 1958, with a softer
length normalisation). The best sentences are taken while they fit ``max_length``, until ``min_length`` is
reached; when whole sentences cannot reach it, the next best sentence is cut at the budget and ends with "…".
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pysbd

from embodied_ai.errors import InvalidRequest
from embodied_ai.nlp.stopwords import STOP_WORDS
from embodied_ai.nlp.text import chunks, text_problems, word_count, words

DEFAULT_MAX_LENGTH = 100
DEFAULT_MIN_LENGTH = 30
MAX_SUMMARY_WORDS = 2_000
ELLIPSIS = "…"


@dataclass(frozen=True)
class Summary:
    summary: str
    original_length: int    # words
    summary_length: int     # words
    compression_ratio: float


def summary_problems(text: str, max_length: int, min_length: int) -> list[str]:
    """Every reason the request cannot be summarised (empty: it can)."""
    problems = text_problems(text)
    if not 1 <= max_length <= MAX_SUMMARY_WORDS:
        problems.append(f"max_length is {max_length}; it must be 1..{MAX_SUMMARY_WORDS} words")
    if not 0 <= min_length <= MAX_SUMMARY_WORDS:
        problems.append(f"min_length is {min_length}; it must be 0..{MAX_SUMMARY_WORDS} words")
    if min_length > max_length:
        problems.append(f"min_length ({min_length}) is greater than max_length ({max_length})")
    return problems


def check_summary_request(text: str, max_length: int, min_length: int) -> None:
    problems = summary_problems(text, max_length, min_length)
    if problems:
        raise InvalidRequest("the text cannot be summarised as asked", problems)


def sentences(text: str) -> list[str]:
    """pysbd's sentences, piece by piece (``text.chunks``): pysbd slows down faster than linearly on long texts."""
    segmenter = pysbd.Segmenter(language="en", clean=False)
    return [sentence.strip() for piece in chunks(text) for sentence in segmenter.segment(piece) if sentence.strip()]


def sentence_scores(parts: list[str]) -> list[float]:
    content = [[word for word in words(part) if word not in STOP_WORDS] for part in parts]
    frequency = Counter(word for sentence in content for word in sentence)
    top = max(frequency.values(), default=1)
    return [sum(frequency[word] / top for word in sentence) / math.sqrt(len(sentence)) if sentence else 0.0
            for sentence in content]


def cut(sentence: str, budget: int) -> str:
    return " ".join(sentence.split()[:budget]).rstrip(",;:") + ELLIPSIS


def fit_to_length(text: str, max_length: int) -> str:
    """``text`` within ``max_length`` words (cut with "…" when longer): how an expert's summary is bounded."""
    return text if word_count(text) <= max_length else cut(text, max_length)


def summary_of(text: str, summary: str) -> Summary:
    original, length = word_count(text), word_count(summary)
    return Summary(summary=summary, original_length=original, summary_length=length,
                   compression_ratio=round(length / original, 4) if original else 0.0)


def summarize_extractive(text: str, max_length: int = DEFAULT_MAX_LENGTH,
                         min_length: int = DEFAULT_MIN_LENGTH) -> Summary:
    check_summary_request(text, max_length, min_length)
    parts = sentences(text)
    lengths = [word_count(part) for part in parts]
    target = min(min_length, word_count(text))
    scores = sentence_scores(parts)
    ranked = sorted(range(len(parts)), key=lambda index: (-scores[index], index))
    chosen: dict[int, str] = {}
    total = 0
    for index in ranked:
        if total >= target and chosen:
            break
        if total + lengths[index] <= max_length:
            chosen[index], total = parts[index], total + lengths[index]
    if total < target or not chosen:
        rest = [index for index in ranked if index not in chosen]
        if rest:
            chosen[rest[0]] = cut(parts[rest[0]], max_length - total)
    return summary_of(text, " ".join(chosen[index] for index in sorted(chosen)))
