"""Audio in memory, and the conversions the speech stack needs around it.

- ``Audio``: float32 samples in -1..1 plus their sample rate (mono or frames x channels).
- ``decode_audio``: a WAV, MP3, OGG or FLAC file (path or bytes) through libsndfile (soundfile).
- ``pcm_to_audio`` / ``audio_to_pcm``: the raw PCM of the ROS ``AudioData`` message.
- ``to_wav_bytes``: a WAV file in memory (what the REST ``audio/synthesize`` returns).
- ``resample`` (whole clips) and ``StreamResampler`` (a live stream, no clicks at chunk
  boundaries), both through libsoxr (soxr).
- ``chunked``: a clip cut into fixed-length pieces, as a microphone would deliver it.

Every problem with the input is an ``AudioFormatError`` with a reason, never a crash.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

from embodied_ai.speech.errors import AudioFormatError

ENCODING_S16LE = "s16le"
ENCODING_F32LE = "f32le"
_DTYPES: dict[str, np.dtype[Any]] = {ENCODING_S16LE: np.dtype("<i2"), ENCODING_F32LE: np.dtype("<f4")}
_INT16_SCALE = 32768.0
# Outside this range a "sample rate" is a mistake in the caller, not an audio format.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 32


@dataclass(frozen=True)
class Audio:
    """Float32 samples in -1..1: shape (frames,) for mono, (frames, channels) otherwise."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def mono(self) -> Audio:
        """The channels averaged into one (a no-op for mono audio)."""
        if self.samples.ndim == 1:
            return self
        return Audio(self.samples.mean(axis=1, dtype=np.float32), self.sample_rate)

    def resampled(self, sample_rate: int) -> Audio:
        return Audio(resample(self.samples, self.sample_rate, sample_rate), sample_rate)


def check_sample_rate(sample_rate: int) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioFormatError(
            f"sample rate {sample_rate} Hz is not usable (expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)")


def _checked(samples: np.ndarray, sample_rate: int) -> Audio:
    check_sample_rate(sample_rate)
    if samples.size == 0:
        raise AudioFormatError("the audio has no samples")
    if not np.all(np.isfinite(samples)):
        raise AudioFormatError("the audio contains NaN or infinite samples")
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(sample_rate))


def decode_audio(source: bytes | bytearray | memoryview | str | Path) -> Audio:
    """Decode an encoded file (WAV, MP3, OGG/Vorbis or Opus, FLAC) from a path or its bytes."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise AudioFormatError(f"no audio file at {path}")
        stream: io.BytesIO | str = str(path)
        what = str(path)
    else:
        if len(source) == 0:
            raise AudioFormatError("no audio data (0 bytes)")
        stream = io.BytesIO(bytes(source))
        what = f"{len(source)} bytes"
    try:
        samples, sample_rate = soundfile.read(stream, dtype="float32", always_2d=False)
    except (soundfile.SoundFileError, RuntimeError, ValueError, EOFError) as exc:
        raise AudioFormatError(f"could not decode audio ({what}; expected WAV, MP3, OGG or FLAC): {exc}") from exc
    return _checked(samples, sample_rate)


def pcm_to_audio(data: bytes | bytearray | memoryview, sample_rate: int, channels: int, encoding: str) -> Audio:
    """Interleaved raw PCM (the ROS AudioData message) to Audio."""
    dtype = _DTYPES.get(encoding)
    if dtype is None:
        raise AudioFormatError(f"unknown PCM encoding '{encoding}' (expected one of {sorted(_DTYPES)})")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioFormatError(f"{channels} channels is not usable (expected 1-{MAX_CHANNELS})")
    frame_bytes = dtype.itemsize * channels
    if len(data) == 0:
        raise AudioFormatError("no audio data (0 bytes)")
    if len(data) % frame_bytes:
        raise AudioFormatError(
            f"{len(data)} bytes is not a whole number of {channels}-channel {encoding} frames ({frame_bytes} bytes)")
    samples = np.frombuffer(bytes(data), dtype=dtype)
    if encoding == ENCODING_S16LE:
        samples = samples.astype(np.float32) / _INT16_SCALE
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return _checked(samples, sample_rate)


def audio_to_pcm(audio: Audio, encoding: str = ENCODING_S16LE) -> bytes:
    """Audio to interleaved raw PCM bytes (clipped to -1..1 for 16-bit)."""
    if encoding == ENCODING_S16LE:
        scaled = np.clip(np.round(audio.samples * _INT16_SCALE), -_INT16_SCALE, _INT16_SCALE - 1)
        return scaled.astype("<i2").tobytes()
    if encoding == ENCODING_F32LE:
        return audio.samples.astype("<f4").tobytes()
    raise AudioFormatError(f"unknown PCM encoding '{encoding}' (expected one of {sorted(_DTYPES)})")


def to_wav_bytes(audio: Audio) -> bytes:
    """A 16-bit PCM WAV file in memory."""
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.samples, audio.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """A whole clip at another sample rate (libsoxr's high quality)."""
    check_sample_rate(from_rate)
    check_sample_rate(to_rate)
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ")


class StreamResampler:
    """Mono chunks of a live stream to ``out_rate``, continuous across chunk boundaries.

    Resampling each chunk on its own would restart the filter at every chunk (a click every
    100 ms); libsoxr's stream keeps the filter state. A change of input rate starts a new stream.
    """

    def __init__(self, out_rate: int) -> None:
        check_sample_rate(out_rate)
        self.out_rate = out_rate
        self._in_rate: int | None = None
        self._stream: soxr.ResampleStream | None = None

    def process(self, audio: Audio) -> np.ndarray:
        samples = audio.mono().samples
        if audio.sample_rate == self.out_rate:
            self._in_rate, self._stream = audio.sample_rate, None
            return samples
        if audio.sample_rate != self._in_rate or self._stream is None:
            self._in_rate = audio.sample_rate
            self._stream = soxr.ResampleStream(audio.sample_rate, self.out_rate, 1, dtype="float32", quality="HQ")
        return self._stream.resample_chunk(samples)


def chunked(audio: Audio, chunk_s: float) -> Iterator[Audio]:
    """Consecutive pieces of ``chunk_s`` seconds (the last one may be shorter)."""
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    step = max(1, round(chunk_s * audio.sample_rate))
    for start in range(0, audio.frames, step):
        yield Audio(audio.samples[start:start + step], audio.sample_rate)


def silence(seconds: float, sample_rate: int) -> Audio:
    return Audio(np.zeros(round(seconds * sample_rate), dtype=np.float32), sample_rate)


def concatenate(clips: list[Audio]) -> Audio:
    """Mono clips of one sample rate, one after another."""
    if not clips:
        raise AudioFormatError("nothing to concatenate")
    rates = {clip.sample_rate for clip in clips}
    if len(rates) != 1:
        raise AudioFormatError(f"clips have different sample rates: {sorted(rates)}")
    return Audio(np.concatenate([clip.mono().samples for clip in clips]), rates.pop())
