"""Audio I/O: decoding files, raw PCM, resampling, and every kind of bad input."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile

from embodied_ai.speech.audio import (
    Audio,
    StreamResampler,
    audio_to_pcm,
    chunked,
    decode_audio,
    pcm_to_audio,
    resample,
    to_wav_bytes,
)
from embodied_ai.speech.errors import AudioFormatError


def tone(seconds: float = 0.5, rate: int = 16_000, hz: float = 440.0) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return Audio((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)


def encoded(audio: Audio, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.samples, audio.sample_rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["WAV", "OGG", "MP3", "FLAC"])
def test_each_file_format_decodes_to_the_same_tone(fmt):
    original = tone(rate=22_050)
    decoded = decode_audio(encoded(original, fmt))
    assert decoded.sample_rate == 22_050 and decoded.channels == 1
    # Lossy codecs pad and smear, but the length and the pitch survive.
    assert decoded.duration_s == pytest.approx(original.duration_s, abs=0.06)
    spectrum = np.abs(np.fft.rfft(decoded.samples))
    assert np.fft.rfftfreq(decoded.frames, 1 / 22_050)[spectrum.argmax()] == pytest.approx(440, abs=5)


def test_files_decode_from_a_path_and_stereo_folds_to_mono(tmp_path):
    stereo = Audio(np.stack([tone().samples, tone().samples], axis=1), 16_000)
    path = tmp_path / "stereo.wav"
    path.write_bytes(to_wav_bytes(stereo))
    decoded = decode_audio(path)
    assert decoded.channels == 2
    assert np.allclose(decoded.mono().samples, tone().samples, atol=1e-3)


@pytest.mark.parametrize("data, reason", [
    (b"", "0 bytes"),
    (os.urandom(4000), "could not decode"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt " + os.urandom(64), "could not decode"),
])
def test_empty_and_corrupt_files_are_clear_errors(data, reason):
    with pytest.raises(AudioFormatError, match=reason):
        decode_audio(data)


def test_a_truncated_file_gives_what_is_there_or_a_clear_error():
    whole = encoded(tone(1.0), "WAV")
    try:
        decoded = decode_audio(whole[: len(whole) // 2])
    except AudioFormatError:
        return
    assert 0 < decoded.duration_s <= 0.5 + 1e-3


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AudioFormatError, match="no audio file"):
        decode_audio(tmp_path / "absent.wav")


@pytest.mark.parametrize("encoding", ["s16le", "f32le"])
def test_pcm_round_trip(encoding):
    audio = tone()
    back = pcm_to_audio(audio_to_pcm(audio, encoding), 16_000, 1, encoding)
    assert np.allclose(back.samples, audio.samples, atol=1 / 32768 + 1e-6)


@pytest.mark.parametrize("data, rate, channels, encoding, reason", [
    (b"\x00\x00" * 10, 0, 1, "s16le", "sample rate 0"),
    (b"\x00\x00" * 10, 10_000_000, 1, "s16le", "sample rate"),
    (b"\x00\x00" * 10, 16_000, 0, "s16le", "channels"),
    (b"\x00\x00\x00", 16_000, 1, "s16le", "whole number"),
    (b"\x00\x00" * 10, 16_000, 1, "mulaw", "unknown PCM encoding"),
    (b"", 16_000, 1, "s16le", "0 bytes"),
    (np.full(4, np.nan, "<f4").tobytes(), 16_000, 1, "f32le", "NaN"),
])
def test_unusable_pcm_is_a_clear_error(data, rate, channels, encoding, reason):
    with pytest.raises(AudioFormatError, match=reason):
        pcm_to_audio(data, rate, channels, encoding)


def test_resampling_keeps_pitch_and_duration():
    out = resample(tone(1.0, 48_000).samples, 48_000, 16_000)
    assert len(out) == 16_000
    spectrum = np.abs(np.fft.rfft(out))
    assert np.fft.rfftfreq(len(out), 1 / 16_000)[spectrum.argmax()] == pytest.approx(440, abs=2)


def test_stream_resampling_matches_whole_clip_resampling():
    audio = tone(1.0, 44_100)
    stream = StreamResampler(16_000)
    pieces = np.concatenate([stream.process(chunk) for chunk in chunked(audio, 0.1)])
    whole = resample(audio.samples, 44_100, 16_000)
    # The stream holds back its filter delay (~20 ms here); what it gave matches, click-free.
    assert len(whole) - 0.025 * 16_000 < len(pieces) <= len(whole)
    assert np.max(np.abs(pieces[1000:-1000] - whole[1000:len(pieces) - 1000])) < 1e-3


def test_chunking_covers_the_clip_exactly():
    audio = tone(1.05)
    chunks = list(chunked(audio, 0.1))
    assert len(chunks) == 11 and chunks[-1].frames == 800
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), audio.samples)
