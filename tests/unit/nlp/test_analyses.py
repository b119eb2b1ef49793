"""Behaviour of each analysis and of the checks, through embodied_ai.nlp's public functions."""

from __future__ import annotations

import time

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.nlp import (
    MAX_TEXT_CHARS,
    analyse_sentiment,
    analysis_problems,
    analyze_text,
    detect_language,
    extract_keywords,
    recognise_entities,
    summarize_extractive,
)
from embodied_ai.nlp.language import supported_languages

ARTICLE = ("Solar panels convert sunlight into electricity. The cost of solar electricity has fallen by eighty "
           "percent in a decade, so homeowners install solar panels on their roofs. Many also buy a battery. "
           "The battery stores surplus solar electricity for the evening. Some towns even pay for the panels.")


def test_negation_turns_the_sentiment() -> None:
    assert analyse_sentiment("The gripper is good.").label == "positive"
    assert analyse_sentiment("The gripper is not good.").label == "negative"
    neutral = analyse_sentiment("The gripper has two fingers.")
    assert neutral.label == "neutral" and neutral.subjectivity == 0.0 and 0 <= neutral.confidence <= 1


def test_language_confidence_grows_with_the_text() -> None:
    short = detect_language("Bonjour")
    long = detect_language("Bonjour, je voudrais réserver une table pour deux personnes ce soir.")
    assert long.code == "fr" and long.confidence > short.confidence


def test_keywords_are_ranked_with_relevance_and_sentiment() -> None:
    keywords = extract_keywords(ARTICLE, max_keywords=5)
    assert len(keywords) == 5 and keywords[0].relevance == 1.0
    assert [k.relevance for k in keywords] == sorted((k.relevance for k in keywords), reverse=True)
    assert "solar electricity" in [k.text.lower() for k in keywords]
    assert extract_keywords("love it") and extract_keywords("love it")[0].sentiment > 0
    assert extract_keywords("the and of it") == []


def test_entity_offsets_point_into_the_text() -> None:
    text = "Write to ops@robot.example.com or visit https://robot.example.com/docs. Sensors cost $12 each."
    entities = recognise_entities(text)
    assert [(e.text, e.label) for e in entities] == [
        ("ops@robot.example.com", "EMAIL"), ("https://robot.example.com/docs", "URL"), ("$12", "MONEY")]
    assert all(text[e.start:e.end] == e.text for e in entities)


def test_a_summary_is_the_texts_own_sentences_within_the_budget() -> None:
    summary = summarize_extractive(ARTICLE, max_length=25, min_length=10)
    assert 10 <= summary.summary_length <= 25 and summary.original_length == len(ARTICLE.split())
    assert summary.summary in ARTICLE or all(part in ARTICLE for part in summary.summary.split(". "))


def test_a_summary_cuts_a_sentence_when_none_fits() -> None:
    summary = summarize_extractive(ARTICLE, max_length=4, min_length=2)
    assert summary.summary_length == 4 and summary.summary.endswith("…")


def test_a_text_shorter_than_min_length_is_its_own_summary() -> None:
    summary = summarize_extractive("Battery low. Charging now.", max_length=100, min_length=30)
    assert summary.summary == "Battery low. Charging now." and summary.compression_ratio == 1.0


def test_every_problem_is_listed() -> None:
    problems = analysis_problems(" \n", ["sentiment", "syntax", "mood"], language="klingon", max_keywords=0)
    assert problems == ["text is only whitespace", "unknown analysis type(s) mood, syntax; choose from sentiment, "
                        "entities, keywords, language", "language 'klingon' is not 'auto' nor a supported language "
                        f"code ({len(supported_languages())} are)", "max_keywords is 0; it must be 1..50"]
    with pytest.raises(InvalidRequest) as refused:
        summarize_extractive("x" * (MAX_TEXT_CHARS + 1), max_length=5, min_length=9)
    assert refused.value.problems == [f"text has {MAX_TEXT_CHARS + 1} characters; at most {MAX_TEXT_CHARS} are "
                                      "analysed", "min_length (9) is greater than max_length (5)"]
    with pytest.raises(InvalidRequest):
        analyze_text("", ["sentiment"])


def test_analyze_text_fills_only_what_is_asked() -> None:
    analysis = analyze_text("Der Roboter ist bereit.", ["language"])
    assert analysis.detected_language == "de" and analysis.language is not None
    assert analysis.sentiment is None and analysis.entities is None and analysis.keywords is None


def test_the_longest_texts_take_linear_time_whatever_their_shape() -> None:
    """Regex backtracking and VADER / pysbd on one huge sentence were quadratic: 100 000 characters took minutes."""
    started = time.perf_counter()
    long_article = ARTICLE * (MAX_TEXT_CHARS // len(ARTICLE))
    for text in ("1," * 50_000, "a." * 50_000, "A " * 50_000, "good " * 20_000, long_article):
        analyze_text(text)
        summarize_extractive(text)
    assert time.perf_counter() - started < 30   # measured about 2 s on a shared 2-core machine
