"""The speech nodes' parameters (launch/robot.yaml's ``asr``, ``tts`` and ``commander`` sections).

One model per node; the node declares one ROS parameter per field from it
(``embodied_ros.kit.parameters``). Defaults are the engines' own (``AsrConfig``,
``VadConfig``, ``TtsConfig``), which also check how the values fit together; the ranges here
are what ``ros2 param describe`` shows and what ROS refuses up front.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.speech.asr import AsrConfig
from embodied_ai.speech.commander import DEFAULT_WAKE_PHRASES, ActivationMode
from embodied_ai.speech.tts import MAX_SPEED, MIN_SPEED, TtsConfig
from embodied_ai.speech.vad import VadConfig

_ASR, _VAD, _TTS = AsrConfig(), VadConfig(), TtsConfig()


class _NodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AsrNodeConfig(_NodeConfig):
    # -- recognition (AsrConfig) --
    model_dir: str = Field(default=_ASR.model_dir, description=(
        "a CTranslate2 Whisper directory; '' = the bundled tiny.en"))
    device: str = Field(default=_ASR.device, description="where Whisper runs: cpu, cuda or auto")
    compute_type: str = Field(default=_ASR.compute_type, description=(
        "CTranslate2 quantisation: int8, int8_float16, float16 or float32"))
    cpu_threads: int = Field(default=_ASR.cpu_threads, ge=0, description=(
        "decoding threads; 0 = CTranslate2's default (all cores)"))
    beam_size: int = Field(default=_ASR.beam_size, ge=1, description=(
        "beam search width; 1 = greedy (Whisper's own default is 5)"))
    language: str = Field(default=_ASR.language, description=(
        "spoken language code; '' = detect (multilingual models only)"))
    temperature: float = Field(default=_ASR.temperature, ge=0.0, le=1.0, description=(
        "decoding temperature; 0 = deterministic"))
    max_audio_s: float = Field(default=_ASR.max_audio_s, gt=0, description=(
        "longest recording the transcribe action takes, s; longer ones are refused, not cut"))
    # -- cutting the live stream into utterances (VadConfig) --
    threshold: float = Field(default=_VAD.threshold, gt=0, lt=1, description=(
        "speech probability at or above which a 32 ms window starts (or continues) speech"))
    neg_threshold: float = Field(default=_VAD.neg_threshold, gt=0, lt=1, description=(
        "speech probability below which a window counts as silence (hysteresis; <= threshold)"))
    min_silence_ms: int = Field(default=_VAD.min_silence_ms, gt=0, description="silence that ends an utterance, ms")
    min_speech_ms: int = Field(default=_VAD.min_speech_ms, ge=0, description=(
        "utterances with less voiced audio are dropped (coughs, clicks), ms"))
    pre_roll_ms: int = Field(default=_VAD.pre_roll_ms, ge=0, description=(
        "audio kept from before the detected start, ms"))
    post_roll_ms: int = Field(default=_VAD.post_roll_ms, ge=0, description=(
        "audio kept after the last voiced window, ms"))
    max_utterance_s: float = Field(default=_VAD.max_utterance_s, ge=1, le=30, description=(
        "longer speech is cut here (Whisper's window is 30 s), s"))
    # -- the node --
    microphone: str = Field(default="", description=(
        "a sounddevice input to listen to (name or index); '' = the audio topic only"))
    end_of_stream_s: float = Field(default=1.0, gt=0, description=(
        "audio that stops this long in the middle of speech (its sender went away) ends the utterance, s"))

    def asr(self) -> AsrConfig:
        """ValueError when the values do not fit together."""
        return AsrConfig(**{name: getattr(self, name) for name in vars(_ASR)})

    def vad(self) -> VadConfig:
        """ValueError when the values do not fit together (e.g. neg_threshold above threshold)."""
        return VadConfig(**{name: getattr(self, name) for name in vars(_VAD)})


class TtsNodeConfig(_NodeConfig):
    engine: str = Field(default=_TTS.engine, description=(
        "auto (piper if installed, else espeak-ng), piper or espeak"))
    voice_model: str = Field(default=_TTS.voice_model, description=(
        "a piper .onnx voice (its .onnx.json beside it); '' = the bundled en_US-joe-medium"))
    espeak_voice: str = Field(default=_TTS.espeak_voice, description="the espeak-ng voice, when espeak-ng speaks")
    deterministic: bool = Field(default=_TTS.deterministic, description=(
        "piper without sampling noise: the same text gives the same audio"))
    speed: float = Field(default=_TTS.speed, ge=MIN_SPEED, le=MAX_SPEED, description=(
        "speaking rate; 1.0 = the voice's own (a goal's speed overrides it)"))
    max_text_chars: int = Field(default=_TTS.max_text_chars, ge=1, description=(
        "longer text is refused (5000 is about five minutes of speech), characters"))
    max_sentence_chars: int = Field(default=_TTS.max_sentence_chars, ge=20, description=(
        "longer sentences are wrapped at spaces, characters"))
    playback_device: str = Field(default="", description=(
        "a sounddevice output to play speech on; '' = publish it on speech_audio only"))

    def tts(self) -> TtsConfig:
        """ValueError for an unknown engine."""
        return TtsConfig(**{name: getattr(self, name) for name in vars(_TTS)})


class CommanderNodeConfig(_NodeConfig):
    activation: ActivationMode = Field(default=ActivationMode.WAKE_PHRASE, description=(
        "wake_phrase: a transcript that starts with a wake phrase, or follows one said alone; "
        "push_to_talk: an utterance that overlaps a press of the push_to_talk service"))
    wake_phrases: list[str] = Field(default=list(DEFAULT_WAKE_PHRASES), description="phrases that address the robot")
    follow_up_s: float = Field(default=5.0, ge=0, description=(
        "after a wake phrase said alone, how long the next utterance counts as the command, s"))
    handler_action: str = Field(default="handle_command", description=(
        "the HandleCommand action that turns commands into robot actions (the experts node's)"))
    handler_wait_s: float = Field(default=1.0, ge=0, description=(
        "how long a command waits for the handler action server to appear, s"))
    handler_timeout_s: float = Field(default=60.0, gt=0, description=(
        "how long a command waits for the handler's result before cancelling it, s"))
    speak_replies: bool = Field(default=True, description="say each reply with the tts node's speak action")
