"""Sound devices: a microphone to capture from and a speaker to play on (ALSA through PortAudio).

Both go through sounddevice, which needs the PortAudio library at run time (Debian:
``libportaudio2``). Without it, or without a device, they raise ``SpeechUnavailable`` with the
reason; nothing else in the speech stack needs a sound device (audio also comes and goes on
ROS topics and in files).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType

import numpy as np

from embodied_ai.speech.audio import Audio, chunked
from embodied_ai.speech.errors import SpeechUnavailable

DeviceSpec = int | str | None


def _sounddevice() -> ModuleType:
    try:
        import sounddevice
    except ImportError as exc:
        raise SpeechUnavailable("sounddevice is not installed (requirements/runtime.txt)") from exc
    except OSError as exc:  # sounddevice imports, but the PortAudio shared library is missing
        raise SpeechUnavailable(f"PortAudio is missing (Debian: apt-get install libportaudio2): {exc}") from exc
    return sounddevice


def parse_device(text: str) -> DeviceSpec:
    """A device parameter: "" = the system default, digits = an index, else a (partial) name."""
    text = text.strip()
    if not text or text == "default":
        return None
    return int(text) if text.isdigit() else text


class Microphone:
    """Capture mono or multi-channel audio in ``chunk_s`` pieces and hand each to ``on_chunk``.

    ``on_chunk`` runs on PortAudio's thread: it should only queue the audio.
    """

    def __init__(self, on_chunk: Callable[[Audio], None], device: DeviceSpec = None,
                 sample_rate: int = 16_000, channels: int = 1, chunk_s: float = 0.1) -> None:
        sounddevice = _sounddevice()
        self._on_chunk, self.sample_rate = on_chunk, sample_rate
        self.overflows = 0
        try:
            self._stream = sounddevice.InputStream(
                device=device, samplerate=sample_rate, channels=channels, dtype="float32",
                blocksize=max(1, round(sample_rate * chunk_s)), callback=self._callback)
        except (sounddevice.PortAudioError, ValueError) as exc:
            raise SpeechUnavailable(f"cannot open the microphone {device!r}: {exc}") from exc

    def _callback(self, data: np.ndarray, _frames: int, _time: object, status: object) -> None:
        if status:  # input overflow: the consumer was too slow and samples were dropped
            self.overflows += 1
        samples = data[:, 0].copy() if data.shape[1] == 1 else data.copy()
        self._on_chunk(Audio(samples, self.sample_rate))

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()


class Speaker:
    """Blocking playback on an output device, stoppable between 50 ms blocks."""

    BLOCK_S = 0.05

    def __init__(self, device: DeviceSpec = None) -> None:
        self._sounddevice = _sounddevice()
        self.device = device
        self._lock = threading.Lock()  # one sound at a time
        try:
            self._sounddevice.check_output_settings(device=device, channels=1, dtype="float32")
        except (self._sounddevice.PortAudioError, ValueError) as exc:
            raise SpeechUnavailable(f"cannot play on {device!r}: {exc}") from exc

    def play(self, audio: Audio, should_stop: Callable[[], bool] | None = None) -> bool:
        """Play to the end (True) or until ``should_stop()`` (False)."""
        with self._lock, self._sounddevice.OutputStream(
                device=self.device, samplerate=audio.sample_rate, channels=1, dtype="float32") as stream:
            for block in chunked(audio.mono(), self.BLOCK_S):
                if should_stop is not None and should_stop():
                    return False
                stream.write(block.samples.reshape(-1, 1))
        return True
