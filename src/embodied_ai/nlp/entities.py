"""Named entities by transparent rules: patterns for e-mail addresses, URLs, money, percentages, dates, times
and numbers, then runs of capitalised words as names.

A name's label comes from, in order: the Pattern gazetteer that TextBlob ships (``en-entities.txt``, about 640
people, places and organisations), a title before it (Dr., Ms., ...) for PERSON, an organisation suffix (Inc.,
University, ...) for ORG, a preposition before it (in, from, to, near) for LOC, and MISC otherwise. A capitalised
word that opens a sentence is a name only when the Brill lexicon TextBlob ships (``en-lexicon.txt``) tags it as a
common word and not as a proper noun, so "Inflation rose" yields nothing but "Acme hired" yields "Acme".
``confidence`` is the rule's fixed prior, not a probability.
English only; the measured quality (docs/nlp.md) is modest and said so.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from embodied_ai.nlp.stopwords import STOP_WORDS

NUMBER = r"(?<![\d.,])\d+(?:[.,]\d+){0,4}"   # starts only where a number can: no quadratic backtracking
MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
         r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)")
WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
NUMBER_WORD = (r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
               r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen)")
UNIT = (r"(?:metres|meters|metre|meter|km|kilometres|kilometers|miles|cm|mm|m|kg|kilograms|grams|g|tonnes|tons|"
        r"litres|liters|ml|l|degrees|volts|V|watts|W|Hz|kHz|MHz|GHz|GB|MB|TB|pixels|units|pieces)")
CURRENCY_AFTER = r"(?:EUR|USD|GBP|JPY|CHF|CNY|dollars?|euros?|pounds?|yen)"
TLD = r"(?:com|org|net|io|edu|gov|dev|ai|co|uk|de|fr|eu)"

# (label, pattern, prior): the first rule that claims a span keeps it.
PATTERNS: list[tuple[str, re.Pattern[str], float]] = [(label, re.compile(pattern), prior) for label, pattern, prior in [
    ("EMAIL", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", 0.99),   # starts only where a name can
    ("URL", rf"(?:https?://|www\.)[^\s<>\"]+|(?<![\w.-])(?:[a-z0-9-]+\.){{1,6}}{TLD}\b(?:/[^\s<>\"]*)?", 0.95),
    ("MONEY", rf"[$€£¥]\s?{NUMBER}(?:\s?(?:million|billion|thousand|bn|[kKmM])\b)?"
              rf"|\b{NUMBER}(?:\s(?:million|billion|thousand))?\s?{CURRENCY_AFTER}\b", 0.9),
    ("PERCENT", rf"\b{NUMBER}\s?(?:%|percent\b|per cent\b)", 0.95),
    ("TIME", rf"\b\d{{1,2}}:\d{{2}}(?:\s?[ap]\.?m\.?)?|\b\d{{1,2}}\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)"
             rf"|\b{NUMBER}\s(?:seconds?|minutes?|hours?)\b", 0.85),
    ("DATE", rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b"
             rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s(?:of\s)?{MONTH}(?:,?\s\d{{4}})?"
             rf"|\b{MONTH}\s\d{{1,2}}(?:st|nd|rd|th)?\b(?:,\s\d{{4}})?|\b{MONTH}\s\d{{4}}\b"
             rf"|\b{NUMBER}\s(?:days?|weeks?|months?|years?)\b|\b{WEEKDAY}\b|\b{MONTH}(?!\w)"
             rf"|\b(?:1[89]\d\d|20\d\d)\b(?!\s?{UNIT}\b)", 0.85),
    ("NUMBER", rf"\b{NUMBER}(?:\s{UNIT}\b)?|\b{NUMBER_WORD}\b", 0.8),
]]

CAPITALISED_WORD = r"(?:(?:Inc|Ltd|Corp|Co|Plc)\.|[A-Z][\w'’&-]*)"   # a company suffix keeps its "."
CAPITALISED_RUN = re.compile(rf"{CAPITALISED_WORD}(?:\s+(?:(?:of|the|da|de|del|der|van|von|di|la|le)\s+)*"
                             rf"{CAPITALISED_WORD})*")
TITLE_BEFORE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Dame|Lord|Lady|President|Senator)\.?\s+$")
TITLES = frozenset({"Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Sir", "Dame", "Lord", "Lady"})
ORG_WORDS = frozenset({"Inc", "Inc.", "Ltd", "Ltd.", "Corp", "Corp.", "Co.", "LLC", "GmbH", "Plc", "Company",
                       "Corporation", "University", "Institute", "Organization", "Organisation", "Association",
                       "Agency", "Bank", "Airlines", "Group", "Foundation", "Council", "Ministry", "Department",
                       "Robotics", "Technologies", "Labs", "Laboratory", "College", "School", "Hospital"})
LOC_BEFORE = re.compile(r"\b(?:in|from|to|near|across|around)\s+(?:the\s+)?$")
SENTENCE_START = re.compile(r"(?:\A|[.!?]\s+|\n\s*)\Z")
CONTEXT_CHARS = 40   # how far back the cues before a name are looked for (titles, prepositions, a sentence's end)
GAZETTEER_LABELS = {"PERS": "PERSON", "LOC": "LOC", "ORG": "ORG"}
NAME_PRIORS = {"gazetteer": 0.85, "title": 0.8, "suffix": 0.75, "preposition": 0.6, "none": 0.5}


@dataclass(frozen=True)
class Entity:
    text: str
    label: str   # PERSON, ORG, LOC, MISC, DATE, TIME, MONEY, PERCENT, NUMBER, EMAIL, URL
    start: int   # character offsets into the text: text[start:end] == entity text
    end: int
    confidence: float


def _textblob_data(name: str) -> list[str]:
    return (files("textblob.en") / name).read_text(encoding="utf-8").splitlines()


@cache
def gazetteer() -> dict[str, str]:
    """Pattern's named entities: name -> PERSON / LOC / ORG."""
    entries: dict[str, str] = {}
    for line in _textblob_data("en-entities.txt"):
        name, _, tag = line.rpartition(" ")
        if name and tag in GAZETTEER_LABELS:
            entries[name] = GAZETTEER_LABELS[tag]
    return entries


@cache
def _lexicon() -> tuple[frozenset[str], frozenset[str]]:
    proper: set[str] = set()
    common: set[str] = set()
    for word, _, tag in (line.partition(" ") for line in _textblob_data("en-lexicon.txt")):
        (proper if tag.startswith("NNP") else common).add(word)
    return frozenset(proper), frozenset(common)


def proper_nouns() -> frozenset[str]:
    """Words the Brill lexicon tags as proper nouns (NNP, NNPS), as written there."""
    return _lexicon()[0]


def common_words() -> frozenset[str]:
    """Words the Brill lexicon tags otherwise (nouns, verbs, ...), as written there."""
    return _lexicon()[1]


def _is_capitalised_common_word(word: str) -> bool:
    """A sentence's first word that is only capitalised because it opens the sentence ("Inflation")."""
    return word not in proper_nouns() and word not in gazetteer() and word.lower() in common_words()


def _pattern_entities(text: str) -> Iterator[Entity]:
    for label, pattern, prior in PATTERNS:
        for match in pattern.finditer(text):
            span = match.group().rstrip(".,;:!?)'\"") if label in ("URL", "EMAIL") else match.group()
            yield Entity(span, label, match.start(), match.start() + len(span), prior)


def _name(text: str, start: int, end: int) -> Entity | None:
    """A capitalised run as a name, its sentence-opening word or title dropped; None when nothing is left."""
    words = text[start:end].split()
    if words and words[0].rstrip(".") in TITLES:
        return None   # "Dr" before the "." that ends the run: the name follows
    opens_sentence = SENTENCE_START.search(text[max(0, start - CONTEXT_CHARS):start]) is not None
    first = 0
    while first < len(words) and (words[first].lower() in STOP_WORDS
                                  or (opens_sentence and _is_capitalised_common_word(words[first]))):
        start = text.index(words[first], start) + len(words[first])
        while start < end and text[start].isspace():
            start += 1
        first, opens_sentence = first + 1, False
    words = words[first:]
    if not words:
        return None
    span = text[start:end]
    before = text[max(0, start - CONTEXT_CHARS):start]
    if span in gazetteer():
        label, rule = gazetteer()[span], "gazetteer"
    elif TITLE_BEFORE.search(before):
        label, rule = "PERSON", "title"
    elif words[-1] in ORG_WORDS or words[0] in ORG_WORDS:
        label, rule = "ORG", "suffix"
    elif LOC_BEFORE.search(before):
        label, rule = "LOC", "preposition"
    else:
        label, rule = "MISC", "none"
    return Entity(span, label, start, end, NAME_PRIORS[rule])


def recognise_entities(text: str) -> list[Entity]:
    """The text's entities in order of position; spans never overlap."""
    taken: list[Entity] = []   # sorted by start; spans never overlap
    starts: list[int] = []

    def claim(entity: Entity) -> None:
        at = bisect.bisect_left(starts, entity.start)
        if (at == 0 or taken[at - 1].end <= entity.start) and (at == len(taken) or entity.end <= taken[at].start):
            taken.insert(at, entity)
            starts.insert(at, entity.start)

    for entity in _pattern_entities(text):
        claim(entity)
    for match in CAPITALISED_RUN.finditer(text):
        name = _name(text, match.start(), match.end())
        if name is not None:
            claim(name)
    return taken
