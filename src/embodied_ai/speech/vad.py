"""Voice activity detection on a live stream: where each utterance starts and ends.

``SileroVad`` runs the Silero VAD v6 network that faster-whisper ships
(``faster_whisper/assets/silero_vad_v6.onnx``) one 32 ms window at a time, carrying the
network's LSTM state and 64-sample context from window to window, so a stream gives the
same probabilities as faster-whisper's whole-file pass.

``UtteranceSegmenter`` turns those probabilities into utterances: speech starts at the first
window above ``threshold`` (with ``pre_roll_ms`` of the audio before it, so the first
syllable's onset is not cut) and ends after ``min_silence_ms`` below ``neg_threshold``
(with ``post_roll_ms`` kept after the last voiced window). Bursts shorter than
``min_speech_ms`` (a click, a cough) are dropped; speech longer than ``max_utterance_s`` is
cut there, because Whisper sees at most 30 s at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VAD_SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 512          # 32 ms: the window Silero v5/v6 is trained on at 16 kHz
CONTEXT_SAMPLES = 64          # the tail of the previous window the network also sees
_STATE_SHAPE = (1, 1, 128)


def silero_model_path() -> Path:
    """The Silero VAD model inside the faster-whisper package (no download)."""
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


class SileroVad:
    """Speech probability of consecutive 512-sample windows of 16 kHz mono audio."""

    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One window is ~0.2 ms of work; more threads only add scheduling overhead.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(model_path or silero_model_path()), sess_options=options, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def __call__(self, window: np.ndarray) -> float:
        if window.shape != (WINDOW_SAMPLES,):
            raise ValueError(f"a VAD window is {WINDOW_SAMPLES} samples, got {window.shape}")
        model_input = np.concatenate([self._context, window]).astype(np.float32)[np.newaxis, :]
        probability, self._h, self._c = self._session.run(None, {"input": model_input, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT_SAMPLES:]
        return float(np.asarray(probability).reshape(-1)[0])


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5          # a window at or above this starts (or continues) speech
    neg_threshold: float = 0.35     # below this a window counts as silence (hysteresis)
    min_silence_ms: int = 500       # this much silence ends an utterance
    min_speech_ms: int = 250        # utterances with less voiced audio are dropped
    pre_roll_ms: int = 300          # audio kept from before the detected start
    post_roll_ms: int = 200         # audio kept after the last voiced window
    max_utterance_s: float = 20.0   # longer speech is cut here (Whisper's window is 30 s)

    def __post_init__(self) -> None:
        if not 0.0 < self.neg_threshold <= self.threshold < 1.0:
            raise ValueError("VAD thresholds need 0 < neg_threshold <= threshold < 1")
        if self.min_silence_ms <= 0 or self.min_speech_ms < 0 or self.pre_roll_ms < 0 or self.post_roll_ms < 0:
            raise ValueError("VAD durations must not be negative (min_silence_ms > 0)")
        if not 1.0 <= self.max_utterance_s <= 30.0:
            raise ValueError("max_utterance_s must be within 1-30 s (Whisper's window)")


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech: 16 kHz mono samples and its place in the stream."""

    audio: np.ndarray
    start_s: float            # stream time of the first sample (pre-roll included)
    end_s: float              # stream time just after the last sample
    cut: bool = False         # ended by max_utterance_s or the end of the stream, not by silence

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _windows(milliseconds: float) -> int:
    return int(np.ceil(milliseconds * VAD_SAMPLE_RATE / 1000.0 / WINDOW_SAMPLES))


class UtteranceSegmenter:
    """Feed 16 kHz mono chunks of any length; get each utterance once its end is certain."""

    def __init__(self, config: VadConfig | None = None, vad: SileroVad | None = None) -> None:
        self.config = config or VadConfig()
        self._vad = vad or SileroVad()
        self._silence_to_end = _windows(self.config.min_silence_ms)
        self._min_voiced = _windows(self.config.min_speech_ms)
        self._post_roll = _windows(self.config.post_roll_ms)
        self._max_windows = int(self.config.max_utterance_s * VAD_SAMPLE_RATE / WINDOW_SAMPLES)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next sample is time 0 again."""
        self._vad.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._window_index = 0
        self._pre_roll: deque[np.ndarray] = deque(maxlen=_windows(self.config.pre_roll_ms))
        self._speech: list[np.ndarray] = []
        self._start_window = 0
        self._voiced_windows = 0
        self._windows_since_voice = 0

    @property
    def in_speech(self) -> bool:
        return bool(self._speech)

    @property
    def stream_time_s(self) -> float:
        """Seconds of audio analysed so far."""
        return self._window_index * WINDOW_SAMPLES / VAD_SAMPLE_RATE

    def feed(self, samples: np.ndarray) -> list[Utterance]:
        """Analyse more audio; return the utterances that ended within it."""
        audio = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)])
        whole = len(audio) - len(audio) % WINDOW_SAMPLES
        self._pending = audio[whole:]
        finished: list[Utterance] = []
        for start in range(0, whole, WINDOW_SAMPLES):
            utterance = self._step(audio[start:start + WINDOW_SAMPLES])
            if utterance is not None:
                finished.append(utterance)
        return finished

    def flush(self) -> list[Utterance]:
        """End of stream: close an utterance that is still open (if it has enough speech)."""
        if not self._speech:
            return []
        utterance = self._close(cut=True)
        return [utterance] if utterance is not None else []

    def _step(self, window: np.ndarray) -> Utterance | None:
        probability = self._vad(window)
        index = self._window_index
        self._window_index += 1
        if not self._speech:
            if probability >= self.config.threshold:
                self._speech = [*self._pre_roll, window]
                self._start_window = index - len(self._pre_roll)
                self._voiced_windows, self._windows_since_voice = 1, 0
                self._pre_roll.clear()
            else:
                self._pre_roll.append(window)
            return None
        self._speech.append(window)
        if probability >= self.config.neg_threshold:
            self._voiced_windows += 1
            self._windows_since_voice = 0
        else:
            self._windows_since_voice += 1
        if self._windows_since_voice >= self._silence_to_end:
            return self._close(cut=False)
        if len(self._speech) >= self._max_windows:
            # Still speaking: the next window above threshold starts the next piece.
            return self._close(cut=True)
        return None

    def _close(self, cut: bool) -> Utterance | None:
        # Trailing silence beyond the post-roll carries no speech: leave it out.
        trailing = max(0, self._windows_since_voice - self._post_roll)
        kept = self._speech[:len(self._speech) - trailing]
        enough = self._voiced_windows >= self._min_voiced
        start_window = self._start_window
        self._speech = []
        if not enough or not kept:
            return None
        start_s = start_window * WINDOW_SAMPLES / VAD_SAMPLE_RATE
        audio = np.concatenate(kept)
        return Utterance(audio, start_s, start_s + len(audio) / VAD_SAMPLE_RATE, cut)
