"""Text analysis without ROS or HTTP (seed 002's NLP service): sentiment, keywords, language, entities and
extractive summaries, from offline libraries and lexicons that ship inside their packages (docs/nlp.md)."""

from embodied_ai.nlp.analysis import ANALYSIS_TYPES, AUTO_LANGUAGE, TextAnalysis, analysis_problems, analyze_text
from embodied_ai.nlp.entities import Entity, recognise_entities
from embodied_ai.nlp.keywords import Keyword, extract_keywords
from embodied_ai.nlp.language import LanguageGuess, detect_language
from embodied_ai.nlp.sentiment import Sentiment, analyse_sentiment
from embodied_ai.nlp.summary import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MIN_LENGTH,
    Summary,
    check_summary_request,
    fit_to_length,
    summarize_extractive,
    summary_of,
)
from embodied_ai.nlp.text import MAX_TEXT_CHARS

__all__ = ["ANALYSIS_TYPES", "AUTO_LANGUAGE", "DEFAULT_MAX_LENGTH", "DEFAULT_MIN_LENGTH", "MAX_TEXT_CHARS",
           "Entity", "Keyword", "LanguageGuess", "Sentiment", "Summary", "TextAnalysis", "analyse_sentiment",
           "analysis_problems", "analyze_text", "check_summary_request", "detect_language", "extract_keywords",
           "fit_to_length", "recognise_entities", "summarize_extractive", "summary_of"]
