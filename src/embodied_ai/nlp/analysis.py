"""One request's analyses of a text (seed 002's ``/ai/nlp/analyze``): the checks, then each analysis asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from embodied_ai.errors import InvalidRequest
from embodied_ai.nlp.entities import Entity, recognise_entities
from embodied_ai.nlp.keywords import DEFAULT_MAX_KEYWORDS, Keyword, extract_keywords
from embodied_ai.nlp.language import LanguageGuess, detect_language, supported_languages
from embodied_ai.nlp.sentiment import Sentiment, analyse_sentiment
from embodied_ai.nlp.text import text_problems

ANALYSIS_TYPES = ("sentiment", "entities", "keywords", "language")
AUTO_LANGUAGE = "auto"
MAX_KEYWORDS = 50


@dataclass(frozen=True)
class TextAnalysis:
    """``detected_language`` is the client's ``language`` when it named one, else the detected one; the other
    fields are None unless their analysis was asked for."""

    text_length: int   # characters
    detected_language: str
    language: LanguageGuess | None = None
    sentiment: Sentiment | None = None
    entities: list[Entity] | None = None
    keywords: list[Keyword] | None = None


def analysis_problems(text: str, analysis_types: Sequence[str], language: str = AUTO_LANGUAGE,
                      max_keywords: int = DEFAULT_MAX_KEYWORDS) -> list[str]:
    """Every reason the request cannot be answered (empty: it can)."""
    problems = text_problems(text)
    if not analysis_types:
        problems.append(f"analysis_types is empty; choose from {', '.join(ANALYSIS_TYPES)}")
    unknown = sorted({kind for kind in analysis_types if kind not in ANALYSIS_TYPES})
    if unknown:
        problems.append(f"unknown analysis type(s) {', '.join(unknown)}; choose from {', '.join(ANALYSIS_TYPES)}")
    if language != AUTO_LANGUAGE and language not in supported_languages():
        problems.append(f"language '{language}' is not 'auto' nor a supported language code "
                        f"({len(supported_languages())} are)")
    if not 1 <= max_keywords <= MAX_KEYWORDS:
        problems.append(f"max_keywords is {max_keywords}; it must be 1..{MAX_KEYWORDS}")
    return problems


def analyze_text(text: str, analysis_types: Sequence[str] = ANALYSIS_TYPES, language: str = AUTO_LANGUAGE,
                 max_keywords: int = DEFAULT_MAX_KEYWORDS) -> TextAnalysis:
    """The analyses asked for; InvalidRequest listing every problem when the request is not valid."""
    problems = analysis_problems(text, analysis_types, language, max_keywords)
    if problems:
        raise InvalidRequest("the text cannot be analysed as asked", problems)
    asked = set(analysis_types)
    guess = detect_language(text) if "language" in asked or language == AUTO_LANGUAGE else None
    return TextAnalysis(
        text_length=len(text),
        detected_language=guess.code if language == AUTO_LANGUAGE and guess else language,
        language=guess if "language" in asked else None,
        sentiment=analyse_sentiment(text) if "sentiment" in asked else None,
        entities=recognise_entities(text) if "entities" in asked else None,
        keywords=extract_keywords(text, max_keywords) if "keywords" in asked else None,
    )
