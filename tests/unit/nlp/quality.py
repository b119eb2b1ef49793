"""The measured quality of each analysis on the hand-labelled sets in tests/data/nlp (docs/nlp.md reports it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from embodied_ai.nlp.entities import recognise_entities
from embodied_ai.nlp.keywords import extract_keywords
from embodied_ai.nlp.language import detect_language
from embodied_ai.nlp.sentiment import analyse_sentiment

DATA = Path(__file__).resolve().parents[2] / "data" / "nlp"
TOP_KEYWORDS = 10


def labelled_lines(name: str) -> list[tuple[str, str]]:
    rows = (line.split("\t", 1) for line in (DATA / name).read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#"))
    return [(label, text) for label, text in rows]


def sentiment_accuracy() -> float:
    """Share of sentences whose label (positive / negative / neutral) is the hand label."""
    rows = labelled_lines("sentiment.tsv")
    return sum(analyse_sentiment(text).label == label for label, text in rows) / len(rows)


def language_accuracy() -> float:
    rows = labelled_lines("language.tsv")
    return sum(detect_language(text).code == code for code, text in rows) / len(rows)


def keyword_recall() -> float:
    """Share of reference terms found in the top 10 keywords (equal to one, or a whole-word part of one)."""
    paragraphs = json.loads((DATA / "keywords.json").read_text(encoding="utf-8"))["paragraphs"]
    found = total = 0
    for paragraph in paragraphs:
        extracted = [f" {k.text.lower()} " for k in extract_keywords(paragraph["text"], TOP_KEYWORDS)]
        for reference in paragraph["keywords"]:
            total += 1
            found += any(f" {reference} " in keyword for keyword in extracted)
    return found / total


@dataclass(frozen=True)
class EntityScores:
    span_precision: float   # a found span is right when its offsets are a labelled entity's
    span_recall: float
    labelled_f1: float      # offsets and label both right


def entity_scores() -> EntityScores:
    sentences = json.loads((DATA / "entities.json").read_text(encoding="utf-8"))["sentences"]
    found_total = gold_total = span_hits = labelled_hits = 0
    for sentence in sentences:
        text = sentence["text"]
        gold = {(text.index(span), text.index(span) + len(span)): label for span, label in sentence["entities"]}
        found = {(e.start, e.end): e.label for e in recognise_entities(text)}
        found_total, gold_total = found_total + len(found), gold_total + len(gold)
        span_hits += len(found.keys() & gold.keys())
        labelled_hits += sum(gold[span] == label for span, label in found.items() if span in gold)
    precision = span_hits / found_total if found_total else 0.0
    labelled_precision = labelled_hits / found_total if found_total else 0.0
    labelled_recall = labelled_hits / gold_total
    labelled_f1 = (2 * labelled_precision * labelled_recall / (labelled_precision + labelled_recall)
                   if labelled_hits else 0.0)
    return EntityScores(span_precision=precision, span_recall=span_hits / gold_total, labelled_f1=labelled_f1)
