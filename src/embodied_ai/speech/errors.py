"""Errors of the speech stack. They carry the Robot API's codes, as every error of the runtime does."""

from __future__ import annotations

from embodied_ai.errors import EmbodiedError, ErrorCode


class SpeechError(EmbodiedError):
    """Speech could not be recognised or synthesised (Robot API code 3000 INFERENCE_FAILED)."""

    code = ErrorCode.INFERENCE_FAILED


class AudioFormatError(SpeechError):
    """Audio that cannot be decoded or used: empty, corrupt, an unknown encoding, NaN samples."""


class TextError(SpeechError):
    """Text that cannot be spoken: nothing speakable in it, or longer than the configured limit."""


class SpeechUnavailable(SpeechError):
    """An engine that is not installed here (piper-tts is an optional GPL extra) or a missing model."""
