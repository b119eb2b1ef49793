"""Speech: audio I/O, voice activity detection, a live stream's clock (``stream``), recognition
(faster-whisper), synthesis (piper), command normalisation and the commander's activation
logic, and the speech nodes' parameters (``config``). ROS-free; the asr, tts and commander
nodes are thin adapters over it.

Model packages are imported only when a recogniser or synthesiser is built, so importing this
package needs neither faster-whisper nor piper.
"""

from embodied_ai.speech.errors import AudioFormatError, SpeechError, SpeechUnavailable, TextError

__all__ = ["AudioFormatError", "SpeechError", "SpeechUnavailable", "TextError"]
