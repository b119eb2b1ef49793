"""ASR node: speech on the audio topic (or a microphone) to transcripts; a transcribe action.

All logic is in embodied_ai.speech: ``UtteranceSegmenter`` (Silero VAD) cuts the live
stream into utterances, ``SpeechRecognizer`` (faster-whisper) decodes each one on a worker
thread, so a long decode never holds up the audio callback.

Endpoints (relative names):
  subscribes audio (embodied_interfaces/AudioData, any rate and channel count; a microphone
             node or a client publishes it), speaking (std_msgs/Bool from the tts node: while
             the robot talks it does not listen to itself)
  publishes  transcript (embodied_interfaces/Transcript, one per utterance)
  actions    transcribe (Transcribe: a file's bytes, raw PCM or a path -> text)
Parameters: model_dir ("" = the bundled Whisper tiny.en), device, compute_type, cpu_threads,
beam_size, language, temperature, VAD thresholds and durations, microphone ("" = none; a
sounddevice name or index), max_audio_s.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import rclpy
from embodied_interfaces.action import Transcribe
from embodied_interfaces.msg import AudioData, Transcript
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool

from embodied_ai.speech.asr import AsrConfig, Segment, SpeechRecognizer
from embodied_ai.speech.audio import Audio, StreamResampler, decode_audio
from embodied_ai.speech.devices import Microphone, parse_device
from embodied_ai.speech.errors import AudioFormatError, SpeechError
from embodied_ai.speech.normalize import normalize_command_text
from embodied_ai.speech.vad import VAD_SAMPLE_RATE, UtteranceSegmenter, Utterance, VadConfig
from embodied_ros.kit.qos import AUDIO, LATCHED, STATE
from embodied_ros.speech_conversions import audio_from_msg, time_to_ns, transcript_msg
from embodied_ros.kit.spin import spin_until_shutdown

# After the robot stops talking its voice still rings in the room for a moment.
UNMUTE_DELAY_S = 0.3
# Stamps further than this from where the stream should be mean a new stream (a restart, a gap).
STREAM_GAP_S = 1.0


class AsrNode(Node):
    def __init__(self) -> None:
        super().__init__("asr")
        asr_defaults, vad_defaults = AsrConfig(), VadConfig()
        for name, default in (*vars(asr_defaults).items(), *vars(vad_defaults).items()):
            self.declare_parameter(name, default)
        self.declare_parameter("microphone", "")
        self.declare_parameter("end_of_stream_s", 1.0)
        self._recognizer: SpeechRecognizer | None = None
        self._unavailable = ""
        try:
            self._asr_config = AsrConfig(**{k: self.get_parameter(k).value for k in vars(asr_defaults)})
            vad_config = VadConfig(**{k: self.get_parameter(k).value for k in vars(vad_defaults)})
            self._segmenter = UtteranceSegmenter(vad_config)
            started = time.monotonic()
            self._recognizer = SpeechRecognizer(self._asr_config)
            self.get_logger().info(
                f"ready: Whisper {self._recognizer.model_dir} ({self._asr_config.compute_type}, "
                f"beam {self._asr_config.beam_size}) loaded in {time.monotonic() - started:.1f} s")
        except (SpeechError, ValueError) as exc:
            # Stay up and say why on every request, rather than crash-loop under the launcher.
            self._unavailable = f"speech recognition is unavailable: {exc}"
            self.get_logger().error(self._unavailable)
        self._end_of_stream_s = float(self.get_parameter("end_of_stream_s").value)
        self._resampler = StreamResampler(VAD_SAMPLE_RATE)
        self._stream_lock = threading.Lock()   # the segmenter is fed from ROS and the microphone
        self._origin_ns: int | None = None      # ROS time of stream time 0
        self._fed_samples = 0                   # 16 kHz samples since the origin
        self._last_audio = 0.0
        self._frame_id = ""
        self._muted_until = 0.0
        self._speaking = False
        self._utterances: queue.Queue[tuple[Utterance, int, str, float] | None] = queue.Queue()

        stream_group = MutuallyExclusiveCallbackGroup()
        self._transcripts = self.create_publisher(Transcript, "transcript", STATE)
        self.create_subscription(AudioData, "audio", self._on_audio, AUDIO, callback_group=stream_group)
        self.create_subscription(Bool, "speaking", self._on_speaking, LATCHED, callback_group=stream_group)
        self.create_timer(0.25, self._close_stalled_stream, callback_group=stream_group)
        self._action = ActionServer(
            self, Transcribe, "transcribe", self._execute_transcribe, callback_group=ReentrantCallbackGroup(),
            goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _goal: CancelResponse.ACCEPT)
        self._worker = threading.Thread(target=self._transcribe_utterances, name="asr_worker", daemon=True)
        self._worker.start()
        self._microphone = self._open_microphone(str(self.get_parameter("microphone").value))

    # -- the live stream ----------------------------------------------------------------
    def _open_microphone(self, device: str) -> Microphone | None:
        if not device or self._recognizer is None:
            return None
        try:
            # A capture stream is continuous by construction: no stamps to check for gaps.
            microphone = Microphone(lambda audio: self._feed(audio, None, "microphone"),
                                    parse_device(device), sample_rate=VAD_SAMPLE_RATE)
            microphone.start()
        except SpeechError as exc:
            self.get_logger().error(f"no microphone; listening to the audio topic only: {exc}")
            return None
        self.get_logger().info(f"listening to microphone {device!r}")
        return microphone

    def _on_audio(self, msg: AudioData) -> None:
        if self._recognizer is None:
            self.get_logger().warning(self._unavailable, throttle_duration_sec=10.0)
            return
        try:
            audio = audio_from_msg(msg)
        except AudioFormatError as exc:
            self.get_logger().warning(f"audio message ignored: {exc}", throttle_duration_sec=5.0)
            return
        # An unstamped message (stamp 0) continues the stream it arrives in.
        self._feed(audio, time_to_ns(msg.header.stamp) or None, msg.header.frame_id)

    def _feed(self, audio: Audio, stamp_ns: int | None, frame_id: str) -> None:
        """Add a chunk to the stream; ``stamp_ns`` (its first sample's time, if known) detects gaps."""
        with self._stream_lock:
            self._last_audio = time.monotonic()
            if self._speaking or time.monotonic() < self._muted_until:
                return
            if self._origin_ns is None:
                self._restart_stream(stamp_ns or self.get_clock().now().nanoseconds, frame_id)
            elif stamp_ns is not None:
                expected_ns = self._origin_ns + round(self._fed_samples * 1e9 / VAD_SAMPLE_RATE)
                if abs(stamp_ns - expected_ns) > STREAM_GAP_S * 1e9:
                    self._restart_stream(stamp_ns, frame_id)
            samples = self._resampler.process(audio)
            self._fed_samples += len(samples)
            for utterance in self._segmenter.feed(samples):
                self._utterances.put((utterance, self._origin_ns, self._frame_id, time.monotonic()))

    def _restart_stream(self, origin_ns: int, frame_id: str) -> None:
        """A new stream: finish what the old one was saying, then count time from ``origin_ns``."""
        if self._origin_ns is not None:
            for utterance in self._segmenter.flush():
                self._utterances.put((utterance, self._origin_ns, self._frame_id, time.monotonic()))
        self._segmenter.reset()
        self._resampler = StreamResampler(VAD_SAMPLE_RATE)
        self._origin_ns, self._fed_samples, self._frame_id = origin_ns, 0, frame_id

    def _close_stalled_stream(self) -> None:
        """Audio stopped in the middle of speech (the publisher went away): transcribe what came."""
        with self._stream_lock:
            if self._segmenter.in_speech and time.monotonic() - self._last_audio > self._end_of_stream_s:
                for utterance in self._segmenter.flush():
                    self._utterances.put((utterance, self._origin_ns, self._frame_id, time.monotonic()))
                self._origin_ns = None

    def _on_speaking(self, msg: Bool) -> None:
        with self._stream_lock:
            self._speaking = bool(msg.data)
            if self._speaking:
                self._segmenter.reset()  # half an utterance cut by our own voice is noise
                self._origin_ns = None
            else:
                self._muted_until = time.monotonic() + UNMUTE_DELAY_S

    def _transcribe_utterances(self) -> None:
        while True:
            item = self._utterances.get()
            if item is None or not self.context.ok():
                return
            utterance, origin_ns, frame_id, closed_at = item
            decode_started = time.monotonic()
            try:
                result = self._recognizer.transcribe(utterance.audio, vad_filter=False)
            except SpeechError as exc:
                self.get_logger().error(f"utterance at {utterance.start_s:.1f} s not transcribed: {exc}")
                continue
            if result.is_empty:
                continue  # the VAD heard speech, Whisper found no words in it (a cough, a door)
            segment = Segment(result.text, utterance.start_s, utterance.end_s, result.confidence)
            self._transcripts.publish(transcript_msg(segment, result.normalized_text, result.language, origin_ns,
                                                     self.get_clock().now().to_msg(), frame_id))
            done = time.monotonic()
            self.get_logger().info(f"heard '{result.text}' ({result.confidence:.2f}; waited "
                                   f"{(decode_started - closed_at) * 1e3:.0f} ms, decoded in "
                                   f"{(done - decode_started) * 1e3:.0f} ms)")

    # -- transcribe action --------------------------------------------------------------
    def _execute_transcribe(self, goal_handle: ServerGoalHandle) -> Transcribe.Result:
        result = Transcribe.Result()
        try:
            if self._recognizer is None:
                raise SpeechError(self._unavailable)
            audio = self._goal_audio(goal_handle.request)

            def on_segment(segment: Segment, progress: float) -> None:
                goal_handle.publish_feedback(Transcribe.Feedback(text=segment.text, progress=float(progress)))

            transcription = self._recognizer.transcribe(
                audio, language=goal_handle.request.language or None, on_segment=on_segment,
                should_stop=lambda: goal_handle.is_cancel_requested)
        except SpeechError as exc:
            result.error_code, result.message = int(exc.code), str(exc)
            goal_handle.abort()
            return result
        result.success = True
        result.text, result.normalized_text = transcription.text, transcription.normalized_text
        result.language, result.confidence = transcription.language, float(transcription.confidence)
        result.duration_s = float(transcription.duration_s)
        stamp = self.get_clock().now().to_msg()
        result.segments = [transcript_msg(s, normalize_command_text(s.text), transcription.language, 0, stamp)
                           for s in transcription.segments]
        result.message = "no speech in the recording" if transcription.is_empty else ""
        if goal_handle.is_cancel_requested:
            result.success, result.message = False, "canceled; the text is what was decoded before"
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        return result

    @staticmethod
    def _goal_audio(request: Any) -> Audio:
        given = [name for name, present in (("encoded_audio", len(request.encoded_audio) > 0),
                                            ("audio", len(request.audio.data) > 0),
                                            ("file_path", bool(request.file_path))) if present]
        if len(given) != 1:
            raise AudioFormatError(
                f"give exactly one of encoded_audio, audio, file_path (got {', '.join(given) or 'none'})")
        if given == ["encoded_audio"]:
            return decode_audio(bytes(request.encoded_audio))
        if given == ["audio"]:
            return audio_from_msg(request.audio)
        return decode_audio(request.file_path)

    def shutdown(self) -> None:
        if self._microphone is not None:
            self._microphone.stop()
        self._utterances.put(None)
        self._worker.join(timeout=5.0)
        self._action.destroy()


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = AsrNode()
    spin_until_shutdown(node, threads=3, before_destroy=node.shutdown)


if __name__ == "__main__":
    main()
