"""Sentiment of a text: polarity from VADER, subjectivity from the Pattern lexicon that TextBlob ships.

VADER (vaderSentiment, MIT) scores words and emoji with rules for negation, intensifiers, "but" and
capitals; its ``compound`` score (-1..1) is the polarity, and VADER's own thresholds (±0.05) give the
label. VADER is made for sentences and slows down faster than linearly on long inputs, so a text longer
than ``text.CHUNK_CHARS`` is scored in pieces cut at sentence ends, their scores averaged by length (a shorter
text is scored whole). VADER has no subjectivity, so that comes from the Pattern lexicon inside TextBlob (MIT),
averaged over the text's opinion words (0 objective, 1 subjective). Both lexicons are files inside the
packages: nothing is downloaded. Both are English lexicons; other languages score near neutral.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Literal

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from embodied_ai.nlp.text import chunks, words

SentimentLabel = Literal["positive", "negative", "neutral"]
NEUTRAL_BAND = 0.05       # VADER's published threshold on ``compound``
VADER_VALENCE_MAX = 4.0   # VADER's lexicon rates words -4..4
_load_lock = threading.Lock()


@dataclass(frozen=True)
class Sentiment:
    """``confidence`` is how strongly VADER leans, not a calibrated probability: |polarity| for positive and
    negative texts, the share of neutral words for neutral ones."""

    polarity: float
    subjectivity: float
    label: SentimentLabel
    confidence: float


class _Lexicons:
    def __init__(self) -> None:
        # TextBlob imports NLTK (about a second): at the first analysis, not when the bridge starts.
        from textblob.en.sentiments import PatternAnalyzer

        self.vader = SentimentIntensityAnalyzer()
        self.pattern = PatternAnalyzer()
        self.pattern.analyze("good")   # Pattern loads its lexicon on first use: do it once, here, under the lock


@cache
def _lexicons() -> _Lexicons:
    with _load_lock:
        return _Lexicons()


def sentiment_label(polarity: float) -> SentimentLabel:
    if polarity >= NEUTRAL_BAND:
        return "positive"
    if polarity <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def analyse_sentiment(text: str) -> Sentiment:
    lexicons = _lexicons()
    pieces = chunks(text)
    scores = [lexicons.vader.polarity_scores(piece) for piece in pieces]
    weights = [len(piece) for piece in pieces]
    polarity = sum(float(score["compound"]) * weight for score, weight in zip(scores, weights)) / sum(weights)
    neutral_share = sum(float(score["neu"]) * weight for score, weight in zip(scores, weights)) / sum(weights)
    label = sentiment_label(polarity)
    confidence = neutral_share if label == "neutral" else abs(polarity)
    subjectivity = float(lexicons.pattern.analyze(text).subjectivity)
    return Sentiment(polarity=round(polarity, 4), subjectivity=round(min(max(subjectivity, 0.0), 1.0), 4),
                     label=label, confidence=round(confidence, 4))


def word_valence(phrase: str) -> float:
    """A phrase's mean VADER valence over its rated words, -1..1 (0 when none is rated): a keyword's sentiment."""
    lexicon = _lexicons().vader.lexicon
    rated = [float(lexicon[word]) for word in words(phrase) if word in lexicon]
    return round(sum(rated) / len(rated) / VADER_VALENCE_MAX, 4) if rated else 0.0
