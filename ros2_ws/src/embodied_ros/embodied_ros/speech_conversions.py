"""Conversions between the speech library's types and ROS messages (no logic beyond mapping)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from embodied_interfaces.action import Transcribe
from embodied_interfaces.msg import AudioData, Transcript

from embodied_ai.speech.asr import Segment
from embodied_ai.speech.audio import Audio, audio_to_pcm, decode_audio, pcm_to_audio
from embodied_ai.speech.errors import AudioFormatError
from embodied_ai.speech.stream import NS_PER_S

__all__ = ["NS_PER_S", "audio_from_msg", "audio_msg", "ns_to_time", "time_to_ns", "transcript_msg"]


def audio_msg(audio: Audio, stamp: Time, encoding: str = AudioData.ENCODING_S16LE, frame_id: str = "") -> AudioData:
    msg = AudioData(sample_rate=audio.sample_rate, channels=audio.channels, encoding=encoding)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = audio_to_pcm(audio, encoding)
    return msg


def audio_from_msg(msg: AudioData) -> Audio:
    """Raises AudioFormatError for an unusable message (no data, unknown encoding, bad rate)."""
    return pcm_to_audio(msg.data.tobytes() if hasattr(msg.data, "tobytes") else bytes(msg.data),
                        int(msg.sample_rate), int(msg.channels), msg.encoding)


def time_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_time(ns: int) -> Time:
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


def transcript_msg(segment: Segment, normalized_text: str, language: str, origin_ns: int,
                   stamp: Time, frame_id: str = "") -> Transcript:
    """A segment whose times are seconds after ``origin_ns`` (the stream's or file's start)."""
    msg = Transcript(text=segment.text, normalized_text=normalized_text, confidence=float(segment.confidence),
                     language=language)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.start = ns_to_time(origin_ns + round(segment.start_s * NS_PER_S))
    msg.end = ns_to_time(origin_ns + round(segment.end_s * NS_PER_S))
    return msg


def goal_audio(request: Transcribe.Goal) -> Audio:
    """The one audio input a Transcribe goal gives (AudioFormatError for none or several)."""
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
