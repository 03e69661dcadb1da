"""A clip's sound in the encoded file (media/audio.py through media/video.py): AAC in MP4 and
MOV, Opus in WEBM, 48 kHz stereo, of the video's duration; interleaved with the frames as
they are written; no audio stream without a soundtrack, or with an empty one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from cinefuse.media.audio import Soundtrack
from cinefuse.media.probe import probe, probe_audio
from cinefuse.media.video import VideoEncoder, encode_frames

SUFFIX = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm"}


def frames(count: int) -> Iterator[np.ndarray]:
    for index in range(count):
        yield np.full((64, 96, 3), (index * 9) % 255, np.uint8)


def tone(seconds: float, rate: int, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * channels)


@pytest.mark.parametrize(("fmt", "codec"), [("MP4", "aac"), ("MOV", "aac"), ("WEBM", "opus")])
@pytest.mark.parametrize("seconds", [0.9, 1.0, 1.2], ids=["short", "exact", "long"])
def test_the_track_has_the_videos_duration_whatever_the_model_made(
    tmp_path: Path, fmt: str, codec: str, seconds: float
) -> None:
    soundtrack = Soundtrack()
    soundtrack.put(tone(seconds, 16_000), 16_000)  # a model's 16 kHz, cut short, exact or too long
    path = tmp_path / f"clip.{SUFFIX[fmt]}"
    encode_frames(frames(24), path, fmt=fmt, width=96, height=64, fps=24, soundtrack=soundtrack)
    video, audio = probe(path), probe_audio(path)
    assert video.frame_count == 24 and audio is not None
    assert (audio.codec, audio.sample_rate, audio.channels) == (codec, 48_000, 2)
    assert abs(audio.duration - 1.0) <= 1 / 24, audio.duration
    assert audio.peak > 0.3  # the tone, not silence


def test_a_mono_track_plays_on_both_channels(tmp_path: Path) -> None:
    soundtrack = Soundtrack()
    soundtrack.put(tone(1.0, 24_000, channels=1)[0], 24_000)
    path = tmp_path / "mono.mp4"
    encode_frames(frames(24), path, fmt="MP4", width=96, height=64, fps=24, soundtrack=soundtrack)
    with av.open(str(path)) as container:
        planes = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert planes.shape[0] == 2 and np.allclose(planes[0], planes[1], atol=1e-3)


def test_no_soundtrack_or_an_empty_one_no_audio_stream(tmp_path: Path) -> None:
    for name, soundtrack in (("none.mp4", None), ("empty.mp4", Soundtrack())):
        encode_frames(frames(12), tmp_path / name, fmt="MP4", width=96, height=64, fps=24, soundtrack=soundtrack)
        assert probe_audio(tmp_path / name) is None and probe(tmp_path / name).frame_count == 12


def test_audio_is_written_as_the_frames_come(tmp_path: Path) -> None:
    """Half the frames in, about half the second of sound is already encoded: the writer
    never waits for the end of the clip."""
    soundtrack = Soundtrack()
    soundtrack.put(tone(1.0, 16_000), 16_000)
    encoder = VideoEncoder(tmp_path / "stream.webm", fmt="WEBM", width=96, height=64, fps=24, soundtrack=soundtrack)
    for frame in list(frames(24))[:12]:
        encoder.write(frame)
    assert encoder.has_audio and encoder._audio is not None
    assert encoder._audio._written == 8_000  # input samples through 12 / 24 s
    for frame in list(frames(24))[12:]:
        encoder.write(frame)
    encoder.close()
    assert probe_audio(tmp_path / "stream.webm") is not None


def test_a_malformed_waveform_is_refused() -> None:
    with pytest.raises(ValueError, match="channels"):
        Soundtrack().put(np.zeros((5, 100)), 16_000)
    with pytest.raises(ValueError, match="rate"):
        Soundtrack().put(np.zeros((2, 100)), 0)
