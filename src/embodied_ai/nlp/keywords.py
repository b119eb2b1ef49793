"""Keywords of a text: RAKE (Rose et al., 2010, "Automatic keyword extraction from individual documents").

Candidate phrases are the runs of words between punctuation and stop words (at most ``MAX_PHRASE_WORDS``
words); a word scores its degree over its frequency (how much it co-occurs, for how often it appears) plus its
frequency, and a phrase the sum of its words' scores. ``relevance`` is the score over the best one's (0..1];
``sentiment`` is the phrase's mean VADER valence. Written here rather than using YAKE (LGPL) or rake-nltk
(which needs NLTK's downloaded stop words); the stop words are English, so other languages get poorer phrases.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from embodied_ai.nlp.sentiment import word_valence
from embodied_ai.nlp.stopwords import STOP_WORDS
from embodied_ai.nlp.text import WORD

MAX_PHRASE_WORDS = 3
DEFAULT_MAX_KEYWORDS = 10
MIN_WORD_CHARS = 2
_BREAKS = re.compile(r"[.,;:!?()\[\]{}\"“”«»/\\|\n\t]+|\s[-–—]\s")   # punctuation that ends a phrase


@dataclass(frozen=True)
class Keyword:
    text: str          # as first written in the text
    relevance: float   # 0..1, the best keyword is 1
    sentiment: float   # -1..1


def candidate_phrases(text: str) -> list[str]:
    """The text's runs of content words, in lower case (long runs are left out: they are not key phrases)."""
    phrases: list[str] = []
    for chunk in _BREAKS.split(text):
        run: list[str] = []
        for token in [*chunk.split(), ""]:
            word = token.lower().replace("’", "'")
            match = WORD.fullmatch(word.strip("'\"-–—"))
            if match is None or match.group() in STOP_WORDS or len(match.group()) < MIN_WORD_CHARS:
                if 0 < len(run) <= MAX_PHRASE_WORDS:
                    phrases.append(" ".join(run))
                run = []
            else:
                run.append(match.group())
    return phrases


def first_spelling(text: str, phrase: str) -> str:
    match = re.search(r"\s+".join(re.escape(word) for word in phrase.split()), text, re.IGNORECASE)
    return match.group() if match else phrase


def extract_keywords(text: str, max_keywords: int = DEFAULT_MAX_KEYWORDS) -> list[Keyword]:
    phrases = candidate_phrases(text)
    frequency: Counter[str] = Counter()
    degree: defaultdict[str, int] = defaultdict(int)
    for phrase in phrases:
        members = phrase.split()
        for word in members:
            frequency[word] += 1
            degree[word] += len(members)
    word_score = {word: degree[word] / count + count for word, count in frequency.items()}
    scores = {phrase: sum(word_score[word] for word in phrase.split()) for phrase in dict.fromkeys(phrases)}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:max_keywords]
    if not ranked:
        return []
    best = ranked[0][1]
    return [Keyword(text=first_spelling(text, phrase), relevance=round(score / best, 4),
                    sentiment=word_valence(phrase)) for phrase, score in ranked]
