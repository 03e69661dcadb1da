"""Read back what an encoded file really contains (tests, doctor, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class VideoProbe:
    container: str  # FFmpeg demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
    codec: str  # "h264", "vp9", ...
    pix_fmt: str
    width: int
    height: int
    fps: float
    frame_count: int  # packets actually present, not the header's claim
    duration: float  # seconds, frame_count / fps


def probe(path: Path | str) -> VideoProbe:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoProbe(
            container=container.format.name,
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            frame_count=frames,
            duration=frames / fps if fps else 0.0,
        )


@dataclass(frozen=True)
class AudioProbe:
    codec: str  # "aac", "opus"
    sample_rate: int
    channels: int
    duration: float  # seconds: the samples actually decoded / sample_rate
    peak: float  # the largest absolute sample (0.0: silence)


def probe_audio(path: Path | str) -> AudioProbe | None:
    """The file's first audio stream, decoded; None when it has none."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples, peak = 0, 0.0
        for frame in container.decode(stream):
            samples += frame.samples
            peak = max(peak, float(np.abs(frame.to_ndarray()).max(initial=0.0)))
        rate = stream.codec_context.sample_rate
        return AudioProbe(stream.codec_context.name, rate, stream.codec_context.channels, samples / rate, peak)


def read_frames(path: Path | str) -> list[npt.NDArray[np.uint8]]:
    """Decode every frame to RGB (tests only: holds the whole clip)."""
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8) for f in container.decode(video=0)]
