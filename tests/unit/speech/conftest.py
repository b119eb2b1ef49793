"""Session fixtures of the speech tests: the real models, loaded once, and piper-made audio."""

from __future__ import annotations

import pytest

from embodied_ai.speech.asr import AsrConfig, SpeechRecognizer
from embodied_ai.speech.tts import SpeechSynthesizer
from tests.speech_corpus import Recording, SpokenCommand, make_synthesizer, recording_with_pauses, spoken_commands


@pytest.fixture(scope="session")
def synthesizer() -> SpeechSynthesizer:
    return make_synthesizer()


@pytest.fixture(scope="session")
def recognizer() -> SpeechRecognizer:
    return SpeechRecognizer(AsrConfig())


@pytest.fixture(scope="session")
def commands(synthesizer: SpeechSynthesizer) -> list[SpokenCommand]:
    return spoken_commands(synthesizer)


@pytest.fixture(scope="session")
def recording(synthesizer: SpeechSynthesizer) -> Recording:
    return recording_with_pauses(synthesizer)
