"""``cinefuse generate``'s progress bar reaches 100% exactly when the file is written, with the
preview engine (which counts frames) and a neural one (which counts denoising steps, then
decoded chunks: an older bar counted those against the number of frames and ended at 29-38%).

The bar is recorded as the command drives it: each update's percentage, and whether the file
was written (``encode_frames`` returned) at that moment.
"""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress, TaskID
from typer.testing import CliRunner

import cinefuse.media.video
from cinefuse.cli import app
from cinefuse.engine.runner import progress_percent
from cinefuse.media.probe import probe

runner = CliRunner()


class RecordedBar:
    """What the command showed: (percentage, file written) per update of its bar."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written = False
        self.updates: list[tuple[float, bool]] = []
        real_encode = cinefuse.media.video.encode_frames

        def encode_frames(*args: Any, **kwargs: Any) -> Any:
            result = real_encode(*args, **kwargs)
            self.written = True
            return result

        recorder = self

        class Recording(Progress):
            def update(self, task_id: TaskID, **fields: Any) -> None:
                super().update(task_id, **fields)
                task = next(t for t in self.tasks if t.id == task_id)
                recorder.updates.append((task.percentage, recorder.written))

        monkeypatch.setattr(cinefuse.media.video, "encode_frames", encode_frames)
        command = importlib.import_module("cinefuse.cli.generate")  # the package names the function so
        monkeypatch.setattr(command, "progress_display", lambda: Recording(console=Console(file=io.StringIO())))

    def check_reaches_100_when_written(self) -> None:
        assert self.updates, "the bar was never updated"
        *before, last = self.updates
        assert last == (100.0, True), self.updates[-3:]
        assert all(percent < 100 and not written for percent, written in before), self.updates
        percents = [percent for percent, _ in self.updates]
        assert percents == sorted(percents), "the bar went backwards"
        assert any(0 < percent < 100 for percent in percents), "the bar only jumped to the end"


def test_progress_percent_keeps_100_for_the_written_file() -> None:
    assert [progress_percent(step, 9) for step in (0, 1, 8, 9)] == [0, 11, 88, 99]
    assert progress_percent(80, 80) == 99 and progress_percent(0, 0) == 0


def test_preview_bar_reaches_100_when_the_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bar = RecordedBar(monkeypatch)
    out = tmp_path / "clip.mp4"
    result = runner.invoke(app, ["generate", "a lighthouse at dusk", "-r", "360p", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert probe(out).frame_count == 80
    bar.check_reaches_100_when_written()


def test_neural_bar_reaches_100_when_the_file_is_written(
    tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CINEFUSE_MODELS_DIR": str(tiny_models_dir),
        "CINEFUSE_ENGINE": "auto",
        "CINEFUSE_STEPS": json.dumps({"text": 2}),
        "CINEFUSE_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    bar = RecordedBar(monkeypatch)
    out = tmp_path / "clip.mp4"
    args = ["generate", "a cat", "--model", "cinefuse:wan@1", "-r", "360p", "--duration", "1", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert probe(out).frame_count == 24
    bar.check_reaches_100_when_written()
