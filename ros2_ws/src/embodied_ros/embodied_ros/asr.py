"""ASR node: speech on the audio topic (or a microphone) to transcripts; a transcribe action.

All logic is in embodied_ai.speech: ``LiveStream`` keeps the live stream's clock and cuts it
into utterances (Silero VAD), ``SpeechRecognizer`` (faster-whisper) decodes each one on a
worker thread, so a long decode never holds up the audio callback.

Endpoints (relative names):
  subscribes audio (embodied_interfaces/AudioData, any rate and channel count; a microphone
             node or a client publishes it), speaking (std_msgs/Bool from the tts node: while
             the robot talks it does not listen to itself)
  publishes  transcript (embodied_interfaces/Transcript, one per utterance)
  actions    transcribe (Transcribe: a file's bytes, raw PCM or a path -> text)
Parameters: embodied_ai.speech.config.AsrNodeConfig (``ros2 param describe asr <name>``).
Without a usable model or configuration the node stays up and says why on every request,
rather than crash-loop under the launcher.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from embodied_interfaces.action import Transcribe
from embodied_interfaces.msg import AudioData, Transcript
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool

from embodied_ai.speech.asr import Segment, SpeechRecognizer
from embodied_ai.speech.config import AsrNodeConfig
from embodied_ai.speech.devices import Microphone, parse_device
from embodied_ai.speech.errors import AudioFormatError, SpeechError
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ai.speech.stream import LiveStream, StreamUtterance
from embodied_ai.speech.vad import VAD_SAMPLE_RATE, UtteranceSegmenter
from embodied_ros.kit.goals import Ending, accept_cancel, accept_goal, finish, refuse, succeed
from embodied_ros.kit.parameters import declare_parameters
from embodied_ros.kit.qos import AUDIO, LATCHED, STATE
from embodied_ros.kit.spin import Component, run_standalone
from embodied_ros.speech_conversions import audio_from_msg, goal_audio, time_to_ns, transcript_msg


class AsrNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("asr", **node_options)
        self._recognizer: SpeechRecognizer | None = None
        self._stream: LiveStream | None = None
        self._unavailable = ""
        config = AsrNodeConfig()
        try:
            config = declare_parameters(self, AsrNodeConfig)
            started = time.monotonic()
            self._recognizer = SpeechRecognizer(config.asr())
            self._stream = LiveStream(UtteranceSegmenter(config.vad()), lambda: self.get_clock().now().nanoseconds,
                                      config.end_of_stream_s)
            self.get_logger().info(
                f"ready: Whisper {self._recognizer.model_dir} ({config.compute_type}, "
                f"beam {config.beam_size}) loaded in {time.monotonic() - started:.1f} s")
        except (SpeechError, ValueError) as exc:
            self._recognizer, self._unavailable = None, f"speech recognition is unavailable: {exc}"
            self.get_logger().error(self._unavailable)
        self._utterances: queue.Queue[StreamUtterance | None] = queue.Queue()

        stream_group = MutuallyExclusiveCallbackGroup()
        self._transcripts = self.create_publisher(Transcript, "transcript", STATE)
        self.create_subscription(AudioData, "audio", self._on_audio, AUDIO, callback_group=stream_group)
        self.create_subscription(Bool, "speaking", self._on_speaking, LATCHED, callback_group=stream_group)
        self.create_timer(0.25, self._close_stalled_stream, callback_group=stream_group)
        self._action = ActionServer(self, Transcribe, "transcribe", self._execute_transcribe,
                                    callback_group=ReentrantCallbackGroup(), goal_callback=accept_goal,
                                    cancel_callback=accept_cancel)
        self._worker = threading.Thread(target=self._transcribe_utterances, name="asr_worker", daemon=True)
        self._worker.start()
        self._microphone = self._open_microphone(config.microphone)

    # -- the live stream ----------------------------------------------------------------
    def _open_microphone(self, device: str) -> Microphone | None:
        stream = self._stream
        if not device or stream is None:
            return None
        try:
            # A capture stream is continuous by construction: no stamps to check for gaps.
            microphone = Microphone(lambda audio: self._queue(stream.feed(audio, None, "microphone")),
                                    parse_device(device), sample_rate=VAD_SAMPLE_RATE)
            microphone.start()
        except SpeechError as exc:
            self.get_logger().error(f"no microphone; listening to the audio topic only: {exc}")
            return None
        self.get_logger().info(f"listening to microphone {device!r}")
        return microphone

    def _on_audio(self, msg: AudioData) -> None:
        if self._stream is None:
            self.get_logger().warning(self._unavailable, throttle_duration_sec=10.0)
            return
        try:
            audio = audio_from_msg(msg)
        except AudioFormatError as exc:
            self.get_logger().warning(f"audio message ignored: {exc}", throttle_duration_sec=5.0)
            return
        # An unstamped message (stamp 0) continues the stream it arrives in.
        self._queue(self._stream.feed(audio, time_to_ns(msg.header.stamp) or None, msg.header.frame_id))

    def _close_stalled_stream(self) -> None:
        if self._stream is not None:
            self._queue(self._stream.close_if_stalled())

    def _on_speaking(self, msg: Bool) -> None:
        if self._stream is not None:
            self._stream.set_speaking(bool(msg.data))

    def _queue(self, utterances: list[StreamUtterance]) -> None:
        for utterance in utterances:
            self._utterances.put(utterance)

    def _transcribe_utterances(self) -> None:
        while (item := self._utterances.get()) is not None and self.context.ok():
            assert self._recognizer is not None  # utterances come only from a stream, which needs it
            utterance, decode_started = item.utterance, time.monotonic()
            try:
                result = self._recognizer.transcribe(utterance.audio, vad_filter=False)
            except SpeechError as exc:
                self.get_logger().error(f"utterance at {utterance.start_s:.1f} s not transcribed: {exc}")
                continue
            if result.is_empty:
                continue  # the VAD heard speech, Whisper found no words in it (a cough, a door)
            segment = Segment(result.text, utterance.start_s, utterance.end_s, result.confidence)
            self._transcripts.publish(transcript_msg(segment, result.normalized_text, result.language,
                                                     item.origin_ns, self.get_clock().now().to_msg(), item.frame_id))
            self.get_logger().info(f"heard '{result.text}' ({result.confidence:.2f}; waited "
                                   f"{(decode_started - item.closed_at) * 1e3:.0f} ms, decoded in "
                                   f"{(time.monotonic() - decode_started) * 1e3:.0f} ms)")

    # -- transcribe action --------------------------------------------------------------
    def _execute_transcribe(self, goal_handle: ServerGoalHandle) -> Transcribe.Result:
        result = Transcribe.Result()
        try:
            if self._recognizer is None:
                raise SpeechError(self._unavailable)

            def on_segment(segment: Segment, progress: float) -> None:
                goal_handle.publish_feedback(Transcribe.Feedback(text=segment.text, progress=float(progress)))

            transcription = self._recognizer.transcribe(
                goal_audio(goal_handle.request), language=goal_handle.request.language or None,
                on_segment=on_segment, should_stop=lambda: goal_handle.is_cancel_requested)
        except SpeechError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        result.text, result.normalized_text = transcription.text, transcription.normalized_text
        result.language, result.confidence = transcription.language, float(transcription.confidence)
        result.duration_s = float(transcription.duration_s)
        stamp = self.get_clock().now().to_msg()
        result.segments = [transcript_msg(s, normalize_command_text(s.text), transcription.language, 0, stamp)
                           for s in transcription.segments]
        if goal_handle.is_cancel_requested:
            return finish(goal_handle, result, Ending.CANCELED, message="canceled; the text is what was decoded before")
        return succeed(goal_handle, result, "no speech in the recording" if transcription.is_empty else "")

    def shutdown(self) -> None:
        if self._microphone is not None:
            self._microphone.stop()
        self._utterances.put(None)
        self._worker.join(timeout=5.0)
        self._action.destroy()


def component(**node_options: Any) -> Component:
    node = AsrNode(**node_options)
    return Component(node, threads=3, stop=node.shutdown)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
