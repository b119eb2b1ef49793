"""TTS node: the speak action, sentence by sentence, published and (with a device) played.

All logic is in embodied_ai.speech.tts: piper with a bundled voice (piper-tts is an optional
GPL extra), espeak-ng when only that is installed. Without either the node still starts,
says why in its log, and aborts every goal with that reason: it never crash-loops.

Endpoints (relative names):
  publishes  speech_audio (embodied_interfaces/AudioData, s16le mono, one message per
             sentence), speaking (std_msgs/Bool, latched: true while a goal is being spoken;
             the asr node stops listening meanwhile)
  actions    speak (Speak: text -> feedback per sentence, the whole WAV in the result;
             cancel stops before the next sentence and cuts playback)
Parameters: embodied_ai.speech.config.TtsNodeConfig (``ros2 param describe tts <name>``).
Goals are spoken one after another, never over each other.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from embodied_interfaces.action import Speak
from embodied_interfaces.msg import AudioData
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool

from embodied_ai.speech.audio import Audio, concatenate, to_wav_bytes
from embodied_ai.speech.config import TtsNodeConfig
from embodied_ai.speech.devices import Speaker, parse_device
from embodied_ai.speech.errors import SpeechError, SpeechUnavailable
from embodied_ai.speech.tts import SpeechSynthesizer, load_synthesizer
from embodied_ros.kit.goals import Ending, accept_cancel, accept_goal, finish, refuse, succeed
from embodied_ros.kit.parameters import declare_parameters
from embodied_ros.kit.qos import LATCHED, STATE
from embodied_ros.kit.spin import Component, run_standalone
from embodied_ros.speech_conversions import audio_msg

NO_PLAYBACK = "no playback device (parameter playback_device); the audio is on speech_audio"


class TtsNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("tts", **node_options)
        self._synthesizer: SpeechSynthesizer | None = None
        self._unavailable = ""
        config = TtsNodeConfig()
        try:
            config = declare_parameters(self, TtsNodeConfig)
            started = time.monotonic()
            self._synthesizer = load_synthesizer(config.tts())
            self.get_logger().info(
                f"ready: {self._synthesizer.name} voice {self._synthesizer.voice_name} "
                f"({self._synthesizer.sample_rate} Hz) loaded in {time.monotonic() - started:.1f} s")
        except (SpeechError, ValueError) as exc:
            # Stay up and say why on every goal, rather than crash-loop under the launcher.
            self._unavailable = str(exc)
            self.get_logger().error(f"{exc}; speak goals will be aborted with this reason")
        self._speaker = self._open_speaker(config.playback_device)
        self._one_voice = threading.Lock()
        self._audio = self.create_publisher(AudioData, "speech_audio", STATE)
        self._speaking = self.create_publisher(Bool, "speaking", LATCHED)
        self._speaking.publish(Bool(data=False))
        self._action = ActionServer(self, Speak, "speak", self._execute_speak, callback_group=ReentrantCallbackGroup(),
                                    goal_callback=accept_goal, cancel_callback=accept_cancel)

    def _open_speaker(self, device: str) -> Speaker | None:
        if not device:
            return None
        try:
            return Speaker(parse_device(device))
        except SpeechUnavailable as exc:
            self.get_logger().error(f"no playback; speech is published on speech_audio only: {exc}")
            return None

    def _execute_speak(self, goal_handle: ServerGoalHandle) -> Speak.Result:
        with self._one_voice:
            self._speaking.publish(Bool(data=True))
            try:
                return self._speak(goal_handle)
            finally:
                self._speaking.publish(Bool(data=False))

    def _speak(self, goal_handle: ServerGoalHandle) -> Speak.Result:
        request, result = goal_handle.request, Speak.Result()
        spoken: list[Audio] = []
        canceled = goal_handle.is_cancel_requested
        try:
            if self._synthesizer is None:
                raise SpeechUnavailable(self._unavailable)
            for sentence in self._synthesizer.synthesize(request.text, request.speed or None):
                if goal_handle.is_cancel_requested:
                    canceled = True
                    break
                self._audio.publish(audio_msg(sentence.audio, self.get_clock().now().to_msg(), frame_id="tts"))
                goal_handle.publish_feedback(Speak.Feedback(
                    sentence_index=sentence.index, sentence_count=sentence.count, sentence=sentence.text,
                    audio_s=float(sentence.audio.duration_s)))
                spoken.append(sentence.audio)
                if request.play and self._speaker is not None and not self._speaker.play(
                        sentence.audio, should_stop=lambda: goal_handle.is_cancel_requested):
                    canceled = True
                    break
        except SpeechError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        if spoken:
            whole = concatenate(spoken)
            result.wav, result.duration_s = to_wav_bytes(whole), float(whole.duration_s)
        result.sentences_spoken = len(spoken)
        if canceled:
            return finish(goal_handle, result, Ending.CANCELED, message=f"canceled after {len(spoken)} sentence(s)")
        if request.play and self._speaker is None:
            return succeed(goal_handle, result, NO_PLAYBACK)
        return succeed(goal_handle, result)

    def shutdown(self) -> None:
        self._action.destroy()


def component(**node_options: Any) -> Component:
    node = TtsNode(**node_options)
    return Component(node, threads=3, stop=node.shutdown)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
