"""A clip's sound: what an engine hands over (``Soundtrack``) and how it is encoded next to
the video (``AudioWriter``), streamed with it.

An engine that makes sound with its video (LTX-2) puts the waveform into the request's
``Soundtrack`` before it yields its first frame; the encoder looks at the soundtrack when the
first frame arrives (before anything is written to the container, so the audio stream can
still be added) and from then on encodes the audio a frame's duration at a time, after
each video frame: the container interleaves the two as they come, and neither is held
whole in the encoder. At the end the track is cut or padded with silence to exactly the
video's duration (frames / fps).

=======  =======  ========================================
format   codec    samples
=======  =======  ========================================
MP4      AAC      48 kHz stereo, planar float, 192 kb/s
MOV      AAC      48 kHz stereo, planar float, 192 kb/s
WEBM     Opus     48 kHz stereo, float, 128 kb/s
=======  =======  ========================================
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
import numpy.typing as npt

#: Every track is encoded at this rate (Opus' own; the models' 16-24 kHz is resampled).
OUTPUT_RATE = 48_000
#: (codec, sample format, bit rate) per container.
AUDIO_CODECS: dict[str, tuple[str, str, int]] = {
    "mp4": ("aac", "fltp", 192_000),
    "mov": ("aac", "fltp", 192_000),
    "webm": ("libopus", "flt", 128_000),
}


@dataclass(frozen=True)
class Audio:
    """A waveform: ``samples`` float32 ``(channels, n)`` in [-1, 1] at ``rate`` Hz."""

    samples: npt.NDArray[np.float32]
    rate: int

    @property
    def duration(self) -> float:
        return float(self.samples.shape[1]) / self.rate


class Soundtrack:
    """Where an engine puts the sound it made for one result: ``put`` before the first
    frame is yielded. Empty when the engine makes no sound (the clip is then silent, without
    an audio stream). Thread-safe: set by the engine, read by the encoder."""

    def __init__(self) -> None:
        self._audio: Audio | None = None
        self._lock = threading.Lock()

    def put(self, samples: npt.ArrayLike, rate: int) -> None:
        """``samples``: ``(channels, n)`` (or ``(n,)`` for mono), any float dtype."""
        array = np.asarray(samples, dtype=np.float32)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[0] not in (1, 2) or rate <= 0:
            raise ValueError(f"a soundtrack is (channels 1 or 2, samples) at a positive rate, not {array.shape}")
        with self._lock:
            self._audio = Audio(np.ascontiguousarray(np.clip(array, -1.0, 1.0)), int(rate))

    @property
    def audio(self) -> Audio | None:
        with self._lock:
            return self._audio


class AudioWriter:
    """Encodes one ``Audio`` into ``container`` next to a video of ``fps``: ``advance(n)``
    after the n-th video frame writes the audio up to n / fps seconds; ``finish(n)`` the
    rest, cut or padded to exactly n / fps, and flushes."""

    def __init__(self, container: Any, container_name: str, audio: Audio, fps: int) -> None:
        codec, sample_format, bit_rate = AUDIO_CODECS[container_name]
        self._container = container
        self._audio = audio
        self._fps = fps
        self._channels = audio.samples.shape[0]
        stream = container.add_stream(codec, rate=OUTPUT_RATE)
        stream.layout = "stereo"
        stream.format = sample_format
        stream.bit_rate = bit_rate
        self._stream = stream
        frame_size = stream.codec_context.frame_size or 1024
        self._resampler = av.AudioResampler(
            format=sample_format, layout="stereo", rate=OUTPUT_RATE, frame_size=frame_size
        )
        self._written = 0  # input samples handed to the resampler

    def advance(self, frames: int) -> None:
        self._feed(round(frames * self._audio.rate / self._fps))

    def finish(self, frames: int) -> None:
        self._feed(round(frames * self._audio.rate / self._fps))
        self._encode(self._resampler.resample(None))
        for packet in self._stream.encode(None):
            self._container.mux(packet)

    def _feed(self, until: int) -> None:
        """Hand the input samples ``[written, until)`` to the encoder (silence past the end)."""
        if until <= self._written:
            return
        chunk = self._audio.samples[:, self._written : until]
        missing = until - self._written - chunk.shape[1]
        if missing > 0:
            chunk = np.concatenate([chunk, np.zeros((self._channels, missing), np.float32)], axis=1)
        if self._channels == 1:
            chunk = np.repeat(chunk, 2, axis=0)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate = self._audio.rate
        frame.pts = self._written
        frame.time_base = Fraction(1, self._audio.rate)
        self._written = until
        self._encode(self._resampler.resample(frame))

    def _encode(self, frames: list[Any]) -> None:
        for frame in frames:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
