"""A live audio stream (a microphone, or chunks on a topic) cut into utterances, on its own clock.

Chunks come in at any rate and channel count, each with the time of its first sample when
the sender stamps it. The stream is resampled to 16 kHz and cut by the VAD
(``UtteranceSegmenter``); its time 0 (``origin_ns``, ROS time) is the first chunk's stamp, so
an utterance at ``start_s`` of the stream was said at ``origin_ns + start_s``.

What breaks a stream and what it means:
- a stamp far (``gap_s``) from where the stream should be by the samples fed so far: a new
  stream (a restart of the sender, a gap); what the old one was saying is finished first;
- no audio for ``end_of_stream_s`` in the middle of speech (the sender went away): what came
  is an utterance;
- the robot speaking: nothing is heard meanwhile, nor for ``unmute_delay_s`` after (its voice
  still rings in the room), and half an utterance cut by its own voice is dropped.

Thread-safe: a ROS callback and a microphone thread may feed the same stream.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from embodied_ai.speech.audio import Audio, StreamResampler
from embodied_ai.speech.vad import VAD_SAMPLE_RATE, Utterance, UtteranceSegmenter

NS_PER_S = 1_000_000_000
UNMUTE_DELAY_S = 0.3  # after the robot stops talking its voice still rings in the room for a moment
STREAM_GAP_S = 1.0    # a stamp further than this from where the stream should be starts a new stream


@dataclass(frozen=True)
class StreamUtterance:
    utterance: Utterance
    origin_ns: int       # the stream's time 0 (ROS time): the utterance's times are seconds after it
    frame_id: str        # where the audio came from (the sender's frame, or "microphone")
    closed_at: float     # monotonic seconds when it was cut, to measure the wait before decoding

    @property
    def start_ns(self) -> int:
        return self.origin_ns + round(self.utterance.start_s * NS_PER_S)

    @property
    def end_ns(self) -> int:
        return self.origin_ns + round(self.utterance.end_s * NS_PER_S)


class LiveStream:
    def __init__(self, segmenter: UtteranceSegmenter, ros_time_ns: Callable[[], int],
                 end_of_stream_s: float = 1.0, unmute_delay_s: float = UNMUTE_DELAY_S, gap_s: float = STREAM_GAP_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``ros_time_ns`` starts a stream whose first chunk is unstamped; ``clock`` (monotonic
        seconds) times silence and muting."""
        self._segmenter = segmenter
        self._ros_time_ns = ros_time_ns
        self._end_of_stream_s, self._unmute_delay_s, self._gap_s = end_of_stream_s, unmute_delay_s, gap_s
        self._clock = clock
        self._lock = threading.Lock()
        self._resampler = StreamResampler(VAD_SAMPLE_RATE)
        self._origin_ns: int | None = None   # None: no stream yet (the next chunk starts one)
        self._fed_samples = 0                # 16 kHz samples since the origin
        self._frame_id = ""
        self._last_audio = -float("inf")
        self._muted_until = -float("inf")
        self._speaking = False

    def feed(self, audio: Audio, stamp_ns: int | None, frame_id: str) -> list[StreamUtterance]:
        """Add a chunk; ``stamp_ns`` is its first sample's ROS time, or None when unknown (an
        unstamped chunk continues the stream it arrives in). Returns the utterances it closed."""
        with self._lock:
            now = self._clock()
            self._last_audio = now
            if self._speaking or now < self._muted_until:
                return []
            closed = []
            if self._origin_ns is None:
                self._start(stamp_ns if stamp_ns is not None else self._ros_time_ns(), frame_id)
            elif stamp_ns is not None and abs(stamp_ns - self._expected_ns()) > self._gap_s * NS_PER_S:
                closed = self._cut(self._segmenter.flush())
                self._start(stamp_ns, frame_id)
            samples = self._resampler.process(audio)
            self._fed_samples += len(samples)
            return closed + self._cut(self._segmenter.feed(samples))

    def close_if_stalled(self) -> list[StreamUtterance]:
        """Audio stopped in the middle of speech for ``end_of_stream_s``: the utterance so far,
        and the stream ends (the next chunk starts a new one)."""
        with self._lock:
            now = self._clock()
            if not self._segmenter.in_speech or now - self._last_audio <= self._end_of_stream_s:
                return []
            closed = self._cut(self._segmenter.flush())
            self._origin_ns = None
            return closed

    def set_speaking(self, speaking: bool) -> None:
        """The robot started (true) or stopped (false) talking."""
        with self._lock:
            self._speaking = speaking
            if speaking:
                self._segmenter.reset()  # half an utterance cut by our own voice is noise
                self._origin_ns = None
            else:
                self._muted_until = self._clock() + self._unmute_delay_s

    def _expected_ns(self) -> int:
        assert self._origin_ns is not None
        return self._origin_ns + round(self._fed_samples * NS_PER_S / VAD_SAMPLE_RATE)

    def _start(self, origin_ns: int, frame_id: str) -> None:
        self._segmenter.reset()
        self._resampler = StreamResampler(VAD_SAMPLE_RATE)
        self._origin_ns, self._fed_samples, self._frame_id = origin_ns, 0, frame_id

    def _cut(self, utterances: list[Utterance]) -> list[StreamUtterance]:
        assert self._origin_ns is not None
        return [StreamUtterance(u, self._origin_ns, self._frame_id, self._clock()) for u in utterances]
