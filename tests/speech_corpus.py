"""Test audio made by piper, deterministically: robot commands and a recording with pauses.

Every test (and bench/speech.py) makes its audio here from text, so no recording is stored
in the repository and the expected words are known exactly. With ``deterministic`` piper
(no sampling noise) the same text always gives the same samples.

Run as a script to write the clips as WAV files, to listen to them:
    .venv/bin/python -m tests.speech_corpus OUT_DIR
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embodied_ai.speech.audio import Audio, concatenate, silence, to_wav_bytes
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ai.speech.tts import SpeechSynthesizer, TtsConfig, load_synthesizer

SAMPLE_RATE = 16_000  # what the recogniser wants; piper's 22.05 kHz is resampled once here

# Robot commands as a person would say them: numbers in words and in digits (piper reads
# "30" as "thirty"), joints, grippers, directions, and a few requests that are not motions.
COMMANDS = (
    "Raise your right arm by thirty degrees.",
    "Open the left gripper.",
    "Close the right gripper gently.",
    "Turn your head to the left by forty five degrees.",
    "Look up by ten degrees.",
    "Move the left elbow to ninety degrees.",
    "Stop moving now.",
    "Grasp the red cube with your right hand.",
    "Rotate the right wrist by fifteen degrees.",
    "Lower your left shoulder by twenty degrees.",
    "Pick up the ball on the table.",
    "What do you see in front of you?",
    "Wave hello with your right hand.",
    "Put both arms down slowly.",
    "Say good morning to everyone.",
    "Turn the head right by 30 degrees.",
    "Move the right shoulder up by 12 degrees.",
    "Open both grippers and wait two seconds.",
    "Describe the scene in front of you.",
    "Look down at the table.",
)

# The recording with pauses: (text, silence after it in seconds). About 20 s in all. The comma
# in the third one gives a short pause inside an utterance that must not split it.
RECORDING = (
    ("Robot, raise your right arm by thirty degrees.", 1.6),
    ("Open the left gripper.", 1.2),
    ("Turn your head to the left, then look down at the table.", 2.0),
    ("Close the right gripper gently.", 1.4),
    ("Describe the scene in front of you.", 1.5),
)
LEAD_IN_S = 1.5


def make_synthesizer() -> SpeechSynthesizer:
    return load_synthesizer(TtsConfig(engine="piper", deterministic=True))


@dataclass(frozen=True)
class SpokenCommand:
    text: str
    expected: str          # normalised: what a correct transcript normalises to
    audio: Audio           # 16 kHz mono


def speak(synthesizer: SpeechSynthesizer, text: str) -> Audio:
    return synthesizer.synthesize_audio(text).resampled(SAMPLE_RATE)


def spoken_commands(synthesizer: SpeechSynthesizer, texts: tuple[str, ...] = COMMANDS) -> list[SpokenCommand]:
    return [SpokenCommand(text, normalize_command_text(text), speak(synthesizer, text)) for text in texts]


def voiced_bounds(audio: Audio, level: float = 0.02) -> tuple[float, float]:
    """First and last sample louder than ``level``, in seconds (where the voice really is)."""
    loud = np.flatnonzero(np.abs(audio.samples) > level)
    return loud[0] / audio.sample_rate, (loud[-1] + 1) / audio.sample_rate


@dataclass(frozen=True)
class Recording:
    audio: Audio                                  # 16 kHz mono
    texts: tuple[str, ...]
    voiced: tuple[tuple[float, float], ...]       # where each utterance's voice is, in seconds


def recording_with_pauses(synthesizer: SpeechSynthesizer, script=RECORDING, lead_in_s: float = LEAD_IN_S) -> Recording:
    pieces, voiced, at = [silence(lead_in_s, SAMPLE_RATE)], [], lead_in_s
    for text, pause_s in script:
        clip = speak(synthesizer, text)
        start, end = voiced_bounds(clip)
        voiced.append((at + start, at + end))
        pieces += [clip, silence(pause_s, SAMPLE_RATE)]
        at += clip.duration_s + pause_s
    return Recording(concatenate(pieces), tuple(text for text, _ in script), tuple(voiced))


# One utterance may differ by two words in ten: the corpus-wide bound (tests/unit/speech/test_asr)
# is 10 %.
MAX_UTTERANCE_WER = 0.2


def assert_heard(heard: str, said: str, meaning: list[str]) -> None:
    """What speech promises: few word errors, and every word that carries the meaning heard, in
    order. Whisper's int8 kernels differ between CPUs, so a word can come out differently from
    one machine to the next ("please" as "place", "describe" as "subscribe"); a test that wants
    the exact transcript checks the machine, not the product."""
    from jiwer import wer

    assert wer(said, heard) <= MAX_UTTERANCE_WER, (said, heard)
    words = iter(heard.split())
    assert all(word in words for word in meaning), (meaning, heard)


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    synthesizer = make_synthesizer()
    for index, command in enumerate(spoken_commands(synthesizer)):
        (out / f"command_{index:02d}.wav").write_bytes(to_wav_bytes(command.audio))
    (out / "recording_with_pauses.wav").write_bytes(to_wav_bytes(recording_with_pauses(synthesizer).audio))
    print(f"wrote {len(COMMANDS) + 1} WAV files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/speech_corpus"))
