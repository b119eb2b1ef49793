"""Recognition with the real Whisper tiny.en on piper-made commands: accuracy and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from jiwer import wer

from embodied_ai.speech.asr import AsrConfig, SpeechRecognizer
from embodied_ai.speech.audio import Audio, decode_audio, silence, to_wav_bytes
from embodied_ai.speech.errors import AudioFormatError, SpeechError, SpeechUnavailable
from tests.speech_corpus import assert_heard

MAX_WER = 0.10


def test_robot_commands_are_transcribed_with_under_10_percent_wer(recognizer, commands):
    hypotheses = [recognizer.transcribe(c.audio, vad_filter=False).normalized_text for c in commands]
    references = [c.expected for c in commands]
    error_rate = wer(references, hypotheses)
    misses = [(r, h) for r, h in zip(references, hypotheses) if r != h]
    print(f"WER {error_rate:.3f} over {len(commands)} commands; differing: {misses}")
    assert error_rate < MAX_WER, misses


def test_numbers_in_words_and_digits_mean_the_same(recognizer, commands):
    by_text = {c.text: c for c in commands}
    said_in_words = recognizer.transcribe(by_text["Raise your right arm by thirty degrees."].audio)
    said_in_digits = recognizer.transcribe(by_text["Turn the head right by 30 degrees."].audio)
    assert "30" in said_in_words.normalized_text.split()
    assert "30" in said_in_digits.normalized_text.split()


def test_a_transcription_has_text_timing_and_confidence(recognizer, commands):
    command = commands[0]
    result = recognizer.transcribe(command.audio)
    assert result.language == "en" and 0.3 < result.confidence <= 1.0
    assert result.duration_s == pytest.approx(command.audio.duration_s)
    assert result.segments and 0 <= result.segments[0].start_s < result.segments[-1].end_s <= result.duration_s + 0.5


@pytest.mark.parametrize("rate", [8_000, 44_100, 48_000])
def test_any_sample_rate_is_resampled_for_whisper(recognizer, commands, rate):
    command = commands[1]  # "Open the left gripper."
    file_bytes = to_wav_bytes(command.audio.resampled(rate))
    result = recognizer.transcribe(decode_audio(file_bytes))
    assert_heard(result.normalized_text, command.expected, ["open", "left", "gripper"])


def test_silence_gives_no_words_not_a_hallucination(recognizer):
    result = recognizer.transcribe(silence(3.0, 16_000))
    assert result.is_empty and result.normalized_text == "" and result.confidence == 0.0


def test_quiet_noise_gives_no_words(recognizer):
    noise = Audio(np.random.default_rng(0).normal(0, 0.003, 48_000).astype(np.float32), 16_000)
    assert recognizer.transcribe(noise).is_empty


def test_bad_audio_is_a_clear_error(recognizer):
    with pytest.raises(AudioFormatError, match="no samples"):
        recognizer.transcribe(np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioFormatError, match="NaN"):
        recognizer.transcribe(np.full(16_000, np.nan, dtype=np.float32))


def test_a_recording_over_the_limit_is_refused_not_cut(commands):
    short_limit = SpeechRecognizer(AsrConfig(max_audio_s=1.0))
    with pytest.raises(AudioFormatError, match="limit is 1 s"):
        short_limit.transcribe(commands[0].audio)


def test_an_english_only_model_refuses_another_language(recognizer, commands):
    with pytest.raises(SpeechError, match="English-only"):
        recognizer.transcribe(commands[0].audio, language="de")


def test_a_directory_that_is_not_a_whisper_model_is_unavailable(tmp_path):
    with pytest.raises(SpeechUnavailable, match="not a CTranslate2 Whisper directory"):
        SpeechRecognizer(AsrConfig(model_dir=str(tmp_path)))


def test_decoding_stops_early_when_asked(recognizer, recording):
    seen = []
    result = recognizer.transcribe(recording.audio, on_segment=lambda s, p: seen.append(p), should_stop=lambda: True)
    assert len(result.segments) == 1 and len(seen) == 1 and 0 < seen[0] < 1
