"""Seed 002's NLP service (``/v1/ai/nlp/analyze`` and ``/summarize``): seed 002's field names inside the envelope.

Bodies take plain types: the bounds (text length, known analysis types, min_length <= max_length) are checked by
``embodied_ai.nlp``, which answers 400 with every problem at once rather than the first one pydantic meets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict
from embodied_ai.bridge.schemas.openai import ROUTER_MODEL
from embodied_ai.nlp import ANALYSIS_TYPES, AUTO_LANGUAGE, DEFAULT_MAX_LENGTH, DEFAULT_MIN_LENGTH, MAX_TEXT_CHARS
from embodied_ai.nlp.keywords import DEFAULT_MAX_KEYWORDS

SummaryMethod = Literal["extractive", "expert"]


class AnalyzeBody(Strict):
    text: str = Field(description=f"1..{MAX_TEXT_CHARS} characters, not only whitespace",
                      examples=["I love this product! It's amazing and works perfectly."])
    analysis_types: list[str] = Field(default_factory=lambda: list(ANALYSIS_TYPES),
                                      description=f"any of {', '.join(ANALYSIS_TYPES)} (default: all)")
    language: str = Field(default=AUTO_LANGUAGE,
                          description="`auto` (detect) or a language code (ISO 639-1) taken as given")
    max_keywords: int = Field(default=DEFAULT_MAX_KEYWORDS, description="1..50")


class SentimentResult(BaseModel):
    polarity: float = Field(description="-1 (negative) .. 1 (positive): VADER's compound score")
    subjectivity: float = Field(description="0 (objective) .. 1 (subjective): the Pattern lexicon")
    label: Literal["positive", "negative", "neutral"]
    confidence: float = Field(description="how strongly the polarity leans (0..1), not a calibrated probability")


class EntityResult(BaseModel):
    text: str
    label: str = Field(description="PERSON, ORG, LOC, MISC, DATE, TIME, MONEY, PERCENT, NUMBER, EMAIL or URL")
    start: int = Field(description="character offset: text[start:end] is the entity")
    end: int
    confidence: float = Field(description="the rule's fixed prior (0..1)")


class KeywordResult(BaseModel):
    text: str
    relevance: float = Field(description="0..1, the best keyword is 1")
    sentiment: float = Field(description="-1..1, the words' mean VADER valence (0: none rated)")


class LanguageResult(BaseModel):
    code: str = Field(description="ISO 639-1 (ISO 639-3 where a language has no two-letter code)")
    confidence: float


class TextAnalysisResult(BaseModel):
    request_id: str
    text_length: int = Field(description="characters")
    detected_language: str
    sentiment: SentimentResult | None = None
    entities: list[EntityResult] | None = None
    keywords: list[KeywordResult] | None = None
    language: LanguageResult | None = None


class SummarizeBody(Strict):
    text: str = Field(description=f"1..{MAX_TEXT_CHARS} characters, not only whitespace")
    max_length: int = Field(default=DEFAULT_MAX_LENGTH, description="words, 1..2000")
    min_length: int = Field(default=DEFAULT_MIN_LENGTH, description="words, 0..max_length")
    method: SummaryMethod = Field(default="extractive", description=(
        "`extractive`: the text's own sentences, here; `expert`: an expert writes it (503 when none runs)"))
    model: str = Field(default=ROUTER_MODEL, min_length=1, max_length=128,
                       description="for `expert`: an expert's name, or `auto` (the router chooses)")


class SummaryResult(BaseModel):
    request_id: str
    original_length: int = Field(description="words in the text")
    summary: str
    summary_length: int = Field(description="words in the summary (at most max_length)")
    compression_ratio: float = Field(description="summary_length / original_length")
    method: SummaryMethod
    model: str = Field(description="`extractive`, or the expert that wrote the summary")
    length_unit: Literal["words"] = "words"
