"""A live stream's clock and breaks: utterance times on the sender's clock, a gap in the stamps
starts a new stream, unstamped chunks continue one, the robot's own voice is not heard, and
audio that stops mid-speech still gives its utterance. Real Silero VAD on piper-made speech."""

from __future__ import annotations

import pytest

from embodied_ai.speech.audio import Audio, chunked, concatenate, silence
from embodied_ai.speech.stream import NS_PER_S, STREAM_GAP_S, UNMUTE_DELAY_S, LiveStream, StreamUtterance
from embodied_ai.speech.tts import SpeechSynthesizer
from embodied_ai.speech.vad import UtteranceSegmenter
from tests.speech_corpus import speak

ORIGIN_NS = 1_000 * NS_PER_S   # the sender's clock at the first chunk
ROS_NOW_NS = 7_000 * NS_PER_S  # this machine's clock, for unstamped streams
CHUNK_S = 0.1


class Clock:
    """Monotonic seconds that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def command(synthesizer: SpeechSynthesizer) -> Audio:
    """One spoken command between pauses (16 kHz)."""
    clip = speak(synthesizer, "Turn your head to the left.")
    return concatenate([silence(0.6, clip.sample_rate), clip, silence(1.2, clip.sample_rate)])


def stream(clock: Clock) -> LiveStream:
    return LiveStream(UtteranceSegmenter(), lambda: ROS_NOW_NS, end_of_stream_s=1.0, clock=clock)


def feed(live: LiveStream, audio: Audio, first_stamp_ns: int | None, clock: Clock,
         frame_id: str = "test_microphone") -> list[StreamUtterance]:
    """``audio`` in 100 ms chunks stamped 100 ms apart from ``first_stamp_ns`` (None: unstamped)."""
    found, at_ns = [], first_stamp_ns
    for chunk in chunked(audio, CHUNK_S):
        found += live.feed(chunk, at_ns, frame_id)
        clock.now += chunk.duration_s
        if at_ns is not None:
            at_ns += round(chunk.duration_s * NS_PER_S)
    return found


def test_utterance_times_are_on_the_senders_clock(command: Audio) -> None:
    clock = Clock()
    heard = feed(stream(clock), command, ORIGIN_NS, clock)
    assert len(heard) == 1
    utterance = heard[0]
    assert utterance.origin_ns == ORIGIN_NS and utterance.frame_id == "test_microphone"
    # After the lead-in silence (less the VAD's pre-roll), before the end of what was sent.
    assert ORIGIN_NS + 0.2 * NS_PER_S <= utterance.start_ns < utterance.end_ns
    assert utterance.end_ns <= ORIGIN_NS + command.duration_s * NS_PER_S
    assert utterance.closed_at > 100.0 and not utterance.utterance.cut


def test_a_gap_in_the_stamps_starts_a_new_stream(command: Audio) -> None:
    clock = Clock()
    live = stream(clock)
    half = Audio(command.samples[: int(len(command.samples) * 0.55)], command.sample_rate)  # stops mid-speech
    assert feed(live, half, ORIGIN_NS, clock) == []
    later_ns = ORIGIN_NS + round((half.duration_s + STREAM_GAP_S + 5.0) * NS_PER_S)
    heard = feed(live, command, later_ns, clock)
    # What the old stream was saying is finished on its own clock; the new one counts from its first stamp.
    assert [(u.origin_ns, u.utterance.cut) for u in heard] == [(ORIGIN_NS, True), (later_ns, False)]
    assert heard[1].start_ns >= later_ns + 0.2 * NS_PER_S


def test_stamps_a_little_off_do_not_break_the_stream(command: Audio) -> None:
    clock = Clock()
    live = stream(clock)
    half = Audio(command.samples[: int(len(command.samples) * 0.55)], command.sample_rate)
    rest = Audio(command.samples[len(half.samples):], command.sample_rate)
    assert feed(live, half, ORIGIN_NS, clock) == []
    jitter_ns = round(STREAM_GAP_S / 2 * NS_PER_S)  # within the gap allowed: the same stream
    heard = feed(live, rest, ORIGIN_NS + round(half.duration_s * NS_PER_S) + jitter_ns, clock)
    assert [(u.origin_ns, u.utterance.cut) for u in heard] == [(ORIGIN_NS, False)]


def test_unstamped_chunks_start_at_this_machines_clock_and_continue_the_stream(command: Audio) -> None:
    clock = Clock()
    heard = feed(stream(clock), command, None, clock)
    assert [u.origin_ns for u in heard] == [ROS_NOW_NS]


def test_the_robots_own_voice_is_not_heard(command: Audio) -> None:
    clock = Clock()
    live = stream(clock)
    live.set_speaking(True)
    assert feed(live, command, ORIGIN_NS, clock) == []
    live.set_speaking(False)
    # Its voice still rings in the room for a moment after it stops.
    assert live.feed(command, ORIGIN_NS, "test_microphone") == []
    clock.now += UNMUTE_DELAY_S + 0.01
    later_ns = ORIGIN_NS + 60 * NS_PER_S
    heard = feed(live, command, later_ns, clock)
    assert [u.origin_ns for u in heard] == [later_ns]


def test_speaking_drops_half_an_utterance(command: Audio) -> None:
    clock = Clock()
    live = stream(clock)
    half = Audio(command.samples[: int(len(command.samples) * 0.55)], command.sample_rate)
    assert feed(live, half, ORIGIN_NS, clock) == []
    live.set_speaking(True)
    live.set_speaking(False)
    clock.now += 1.0
    assert live.close_if_stalled() == []  # nothing was left open


def test_audio_that_stops_mid_speech_still_gives_its_utterance(command: Audio) -> None:
    clock = Clock()
    live = stream(clock)
    half = Audio(command.samples[: int(len(command.samples) * 0.55)], command.sample_rate)
    assert feed(live, half, ORIGIN_NS, clock) == []
    clock.now += 0.5
    assert live.close_if_stalled() == []  # not yet: end_of_stream_s is 1 s
    clock.now += 0.6
    closed = live.close_if_stalled()
    assert [(u.origin_ns, u.utterance.cut) for u in closed] == [(ORIGIN_NS, True)]
    assert live.close_if_stalled() == []
    # The stream ended: the next chunk starts a new one on its own stamp.
    later_ns = ORIGIN_NS + 30 * NS_PER_S
    assert [u.origin_ns for u in feed(live, command, later_ns, clock)] == [later_ns]
