"""Video encoding through PyAV (FFmpeg), streamed frame by frame.

``VideoEncoder`` is fed RGB frames one at a time and never holds more than the
codec's own look-ahead, so a clip of any length costs constant memory.
Formats (docs/api.md ``outputFormat``):

=======  ==========  =========  =============================================
format   container   codec      notes
=======  ==========  =========  =============================================
MP4      mp4         libx264    yuv420p, ``movflags=faststart`` (moov first)
WEBM     webm        libvpx-vp9 yuv420p, constant-quality mode (``b:v 0``)
MOV      mov         libx264    yuv420p, QuickTime container
=======  ==========  =========  =============================================

``outputQuality`` (20..99) maps monotonically onto the codec's CRF: higher quality
means a lower CRF, hence a larger file. With a ``Soundtrack`` that holds audio when the
first frame arrives, the file gets an audio stream too, encoded along with the frames
(``media/audio.py``: AAC in MP4 and MOV, Opus in WEBM).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np
import numpy.typing as npt

from cinefuse.media.audio import AudioWriter, Soundtrack
from cinefuse.models.capabilities import OutputFormat

QUALITY_MIN = 20
QUALITY_MAX = 99

#: (container, codec, content type, file extension) per wire format.
FORMATS: dict[str, tuple[str, str, str, str]] = {
    "MP4": ("mp4", "libx264", "video/mp4", "mp4"),
    "WEBM": ("webm", "libvpx-vp9", "video/webm", "webm"),
    "MOV": ("mov", "libx264", "video/quicktime", "mov"),
}

#: CRF at the best (99) and worst (20) outputQuality, per codec.
_CRF_RANGE: dict[str, tuple[int, int]] = {"libx264": (16, 40), "libvpx-vp9": (20, 50)}

#: x264 speed preset: the server favours throughput; quality is held by CRF.
DEFAULT_X264_PRESET = "veryfast"


def content_type(fmt: OutputFormat) -> str:
    return FORMATS[fmt][2]


def extension(fmt: OutputFormat) -> str:
    return FORMATS[fmt][3]


def crf_for_quality(codec: str, quality: int) -> int:
    """Map outputQuality 20..99 to a CRF; monotone non-increasing in ``quality``."""
    if not QUALITY_MIN <= quality <= QUALITY_MAX:
        raise ValueError(f"quality must be in {QUALITY_MIN}..{QUALITY_MAX}, got {quality}")
    best, worst = _CRF_RANGE[codec]
    fraction = (QUALITY_MAX - quality) / (QUALITY_MAX - QUALITY_MIN)
    return round(best + fraction * (worst - best))


@dataclass(frozen=True)
class EncodedVideo:
    path: Path
    content_type: str
    size_bytes: int
    frames: int


class VideoEncoder:
    """Streaming encoder: ``with VideoEncoder(...) as enc: enc.write(frame)``.

    Frames must be ``(height, width, 3)`` uint8 RGB. Width and height must be even
    (every size in docs/api.md is). The file is complete only after ``close()``.
    """

    def __init__(
        self,
        path: Path,
        *,
        fmt: OutputFormat,
        width: int,
        height: int,
        fps: int,
        quality: int = 95,
        x264_preset: str = DEFAULT_X264_PRESET,
        threads: int = 0,
        soundtrack: Soundtrack | None = None,
    ) -> None:
        container_name, codec, self.content_type, _ = FORMATS[fmt]
        self.path = Path(path)
        self.width, self.height = width, height
        self.frames = 0
        self._container_name = container_name
        self._fps = fps
        self._soundtrack = soundtrack
        self._audio: AudioWriter | None = None
        options = {"movflags": "faststart"} if fmt == "MP4" else {}
        self._container = av.open(str(self.path), mode="w", format=container_name, options=options)
        stream = self._container.add_stream(codec, rate=Fraction(fps, 1))
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        crf = str(crf_for_quality(codec, quality))
        if codec == "libx264":
            stream.options = {"crf": crf, "preset": x264_preset}
        else:
            # cpu-used 8 + realtime deadline: VP9 at a usable speed on CPUs.
            stream.options = {"crf": crf, "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        stream.codec_context.thread_count = threads
        self._stream = stream

    def write(self, frame: npt.NDArray[np.uint8]) -> None:
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(f"frame shape {frame.shape} != {(self.height, self.width, 3)}")
        # OpenCV's RGB->I420 is several times faster than swscale's path from rgb24.
        yuv = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), dtype=np.uint8)
        video_frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        video_frame.pts = self.frames
        if self.frames == 0 and self._soundtrack is not None and (audio := self._soundtrack.audio) is not None:
            # Before the first packet: the container's streams are fixed when it writes its header.
            self._audio = AudioWriter(self._container, self._container_name, audio, self._fps)
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames += 1
        if self._audio is not None:
            self._audio.advance(self.frames)

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    def close(self) -> EncodedVideo:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.finish(self.frames)
        self._container.close()
        return EncodedVideo(self.path, self.content_type, self.path.stat().st_size, self.frames)

    def abort(self) -> None:
        """Close without flushing and remove the partial file."""
        try:
            self._container.close()
        finally:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()


def encode_frames(
    frames: Iterable[npt.NDArray[np.uint8]],
    path: Path,
    *,
    fmt: OutputFormat,
    width: int,
    height: int,
    fps: int,
    quality: int = 95,
    x264_preset: str = DEFAULT_X264_PRESET,
    soundtrack: Soundtrack | None = None,
) -> EncodedVideo:
    """Encode an iterable of frames (consumed lazily) to ``path``, with the audio that
    ``soundtrack`` holds by the first frame."""
    encoder = VideoEncoder(
        path, fmt=fmt, width=width, height=height, fps=fps, quality=quality, x264_preset=x264_preset,
        soundtrack=soundtrack,
    )  # fmt: skip
    with encoder:
        for frame in frames:
            encoder.write(frame)
    return encoder.close()
