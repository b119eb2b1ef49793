"""Synthesis with the real piper voice: sentences, determinism, a TTS -> ASR round trip, bad text."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace

import numpy as np
import pytest

from embodied_ai.speech.audio import decode_audio
from embodied_ai.speech.errors import SpeechUnavailable, TextError
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ai.speech.tts import PiperSynthesizer, TtsConfig, load_synthesizer, split_sentences
from tests.speech_corpus import assert_heard


def test_sentences_come_one_by_one_with_their_text(synthesizer):
    spoken = list(synthesizer.synthesize("Hello there. I moved my arm by 30 degrees! Is that right?"))
    assert [s.text for s in spoken] == ["Hello there.", "I moved my arm by 30 degrees!", "Is that right?"]
    assert [(s.index, s.count) for s in spoken] == [(0, 3), (1, 3), (2, 3)]
    assert all(s.audio.sample_rate == 22_050 and 0.4 < s.audio.duration_s < 4.0 for s in spoken)


def test_deterministic_synthesis_gives_identical_wav_bytes(synthesizer):
    text = "The left gripper is open."
    assert synthesizer.synthesize_wav(text) == synthesizer.synthesize_wav(text)


def test_speed_changes_the_duration(synthesizer):
    normal = synthesizer.synthesize_audio("Turning the head to the left.")
    fast = synthesizer.synthesize_audio("Turning the head to the left.", speed=2.0)
    # Phonemes get half as long; the voice's fixed lead-in and tail do not.
    assert 0.4 * normal.duration_s < fast.duration_s < 0.75 * normal.duration_s
    with pytest.raises(TextError, match="speed"):
        synthesizer.synthesize_audio("Too fast.", speed=10.0)


def test_tts_to_asr_round_trip(synthesizer, recognizer):
    text = "Please lower your right arm by twenty five degrees and open the gripper."
    wav = synthesizer.synthesize_wav(text)
    assert wav[:4] == b"RIFF"
    heard = recognizer.transcribe(decode_audio(wav))
    said = normalize_command_text(text)
    assert said == "please lower your right arm by 25 degrees and open the gripper"
    assert_heard(heard.normalized_text, said, ["lower", "right", "arm", "25", "degrees", "open", "gripper"])


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("!!! ??? ... --- ***", "no letters or digits"),
    ("x" * 10_000, "10000 characters; the limit is 5000"),
])
def test_unspeakable_text_is_a_clear_error(synthesizer, text, reason):
    with pytest.raises(TextError, match=reason):
        next(iter(synthesizer.synthesize(text)))


def test_symbols_within_words_are_spoken_and_symbol_only_sentences_skipped(synthesizer):
    spoken = list(synthesizer.synthesize("Ready? ... !!! Moving 5 cm & back."))
    assert [s.text for s in spoken] == ["Ready?", "Moving 5 cm & back."]


def test_a_long_text_streams_its_first_sentence_without_rendering_the_rest(synthesizer, monkeypatch):
    sentence = "The robot raises its right arm slowly and then waits for the next command"
    text = (sentence + " ") * 140  # about 10 000 characters and no full stop at all
    assert 9_000 < len(text) < 11_000
    monkeypatch.setattr(synthesizer, "config", replace(synthesizer.config, max_text_chars=20_000,
                                                       max_sentence_chars=120))
    rendered = []
    render = synthesizer._render
    monkeypatch.setattr(synthesizer, "_render", lambda text, speed: rendered.append(text) or render(text, speed))
    stream = synthesizer.synthesize(text)
    first = next(stream)
    stream.close()  # the listener stops: nothing more is made
    assert first.count >= 80 and len(first.text) <= 120 and first.audio.duration_s > 2.0
    assert rendered == [first.text]


def test_without_piper_the_engine_says_it_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "piper", None)  # as if piper-tts were not installed
    with pytest.raises(SpeechUnavailable, match="optional GPL extra"):
        PiperSynthesizer(TtsConfig())
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # and no espeak-ng either
    with pytest.raises(SpeechUnavailable, match="piper: piper-tts is not installed.*espeak: espeak-ng is not"):
        load_synthesizer(TtsConfig(engine="auto"))


def test_a_missing_voice_file_is_unavailable(tmp_path):
    with pytest.raises(SpeechUnavailable, match="no piper voice"):
        PiperSynthesizer(TtsConfig(voice_model=str(tmp_path / "absent.onnx")))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed here")
def test_espeak_fallback_speaks_intelligibly(recognizer):
    espeak = load_synthesizer(TtsConfig(engine="espeak"))
    text = "Good morning. Raise your right arm by thirty degrees."
    spoken = list(espeak.synthesize(text))
    assert [s.text for s in spoken] == ["Good morning.", "Raise your right arm by thirty degrees."]
    heard = recognizer.transcribe(espeak.synthesize_audio(text))
    assert_heard(heard.normalized_text, "good morning raise your right arm by 30 degrees",
                      ["raise", "right", "arm", "30", "degrees"])
    assert np.abs(espeak.synthesize_audio("Hello.").samples).max() > 0.1


def test_long_sentences_are_wrapped_at_spaces():
    text = "word " * 300
    pieces = split_sentences(text, max_sentence_chars=100)
    assert all(len(p) <= 100 for p in pieces) and " ".join(pieces) == text.strip()
