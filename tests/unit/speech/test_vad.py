"""Silero VAD on a stream: a 20 s recording with pauses splits into the right utterances."""

from __future__ import annotations

import numpy as np
import pytest
from jiwer import wer

from embodied_ai.speech.audio import Audio, chunked, silence
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ai.speech.vad import WINDOW_SAMPLES, SileroVad, UtteranceSegmenter, VadConfig

PRE_ROLL_S = VadConfig().pre_roll_ms / 1000


def segment(audio, config=None, chunk_s=0.1):
    segmenter = UtteranceSegmenter(config)
    found = []
    for chunk in chunked(audio, chunk_s):
        found += segmenter.feed(chunk.samples)
    return found + segmenter.flush()


def test_streamed_probabilities_equal_faster_whispers_whole_file_pass(recording):
    from faster_whisper.vad import get_vad_model

    audio = recording.audio.samples[: 200 * WINDOW_SAMPLES]
    vad = SileroVad()
    streamed = [vad(audio[i:i + WINDOW_SAMPLES]) for i in range(0, len(audio), WINDOW_SAMPLES)]
    whole_file = get_vad_model()(audio.copy()).reshape(-1)
    # faster-whisper's batch pass zeroes the last window's final 64 samples in place (a side
    # effect of building the context as a view), so its last probability differs slightly.
    assert len(streamed) == len(whole_file) == 200
    assert np.allclose(streamed[:-1], whole_file[:-1], atol=1e-5)


def test_a_recording_with_pauses_splits_into_its_utterances(recording, recognizer):
    assert 19.0 < recording.audio.duration_s < 23.0
    utterances = segment(recording.audio)
    assert len(utterances) == len(recording.texts), [(u.start_s, u.end_s) for u in utterances]
    for utterance, (voice_start, voice_end) in zip(utterances, recording.voiced):
        # Each utterance holds all of its voice, with the pre-roll before it, and ends by silence.
        assert voice_start - PRE_ROLL_S - 0.1 <= utterance.start_s <= voice_start
        assert voice_end <= utterance.end_s <= voice_end + 0.5
        assert not utterance.cut
    # And each piece is the sentence that was said there.
    heard = [recognizer.transcribe(u.audio, vad_filter=False).normalized_text for u in utterances]
    assert wer([normalize_command_text(text) for text in recording.texts], heard) < 0.10, heard


def test_chunk_size_does_not_change_the_utterances(recording):
    small = segment(recording.audio, chunk_s=0.02)
    large = segment(recording.audio, chunk_s=0.5)
    assert [(u.start_s, u.end_s) for u in small] == [(u.start_s, u.end_s) for u in large]


def test_silence_and_quiet_noise_give_no_utterances():
    noise = np.random.default_rng(1).normal(0, 0.003, 5 * 16_000).astype(np.float32)
    assert segment(silence(5.0, 16_000)) == []
    segmenter = UtteranceSegmenter()
    assert segmenter.feed(noise) == [] and segmenter.flush() == []


def test_speech_longer_than_the_limit_is_cut_into_pieces(commands):
    long_speech = np.concatenate([c.audio.samples for c in commands[:6]])  # ~10 s, no pauses
    pieces = segment(Audio(long_speech, 16_000), VadConfig(max_utterance_s=3.0))
    assert len(pieces) >= 3 and all(p.duration_s <= 3.0 + 1e-6 for p in pieces)
    assert any(p.cut for p in pieces)


def test_a_stream_that_stops_mid_utterance_is_flushed(commands):
    segmenter = UtteranceSegmenter()
    assert segmenter.feed(commands[0].audio.samples[:-1000]) == []  # no trailing silence yet
    assert segmenter.in_speech
    [utterance] = segmenter.flush()
    assert utterance.cut and utterance.duration_s > 1.0


@pytest.mark.parametrize("bad", [dict(threshold=0.2, neg_threshold=0.3), dict(min_silence_ms=0),
                                 dict(max_utterance_s=60.0)])
def test_bad_vad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        VadConfig(**bad)
