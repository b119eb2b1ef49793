"""Language of a text with py3langid (BSD-3-Clause): langid.py's naive Bayes model over byte n-grams for
140 labels (ISO 639-1 codes, ISO 639-3 where a language has none, "zxx" for no language), shipped inside the
package. Probabilities are normalised, so the confidence is the winning language's share (py3langid scales
scores by the text's length, so a few words get a lower confidence)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_load_lock = threading.Lock()


@dataclass(frozen=True)
class LanguageGuess:
    code: str          # ISO 639-1, or ISO 639-3 where the language has no two-letter code
    confidence: float  # 0..1


@cache
def _identifier() -> LanguageIdentifier:
    with _load_lock:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def supported_languages() -> list[str]:
    return sorted(_identifier().labels)


def detect_language(text: str) -> LanguageGuess:
    code, confidence = _identifier().classify(text)
    return LanguageGuess(code=str(code), confidence=round(float(confidence), 4))
