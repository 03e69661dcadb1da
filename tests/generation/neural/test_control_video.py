"""A control video (a ``/v1/videos`` remix's or edit's source clip) and a client's steps and
guidance on the neural engines, with the tiny real folders: the Wan engine steers with the
clip through VACE (and a different clip gives a different result), refuses an edit without
the VACE weights naming the pull, renders a remix without them from the prompt alone; the
engines without video to video refuse an edit; steps and guidance reach the denoiser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.generation.neural.test_engines import Steps, picture, request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.ltx import LtxEngine
from cinefuse.generation.neural.wan import WanEngine
from cinefuse.generation.preview import PreviewEngine


def clip(seed: int, count: int = 16) -> tuple[np.ndarray, ...]:
    """A moving picture: the seeded picture sliding right a few pixels a frame."""
    base = picture(seed, 160, 120)
    return tuple(np.roll(base, 3 * i, axis=1) for i in range(count))


@pytest.fixture(scope="module")
def wan(tiny_models_dir: Path) -> WanEngine:
    return WanEngine(settings_for(tiny_models_dir, data_dir="/tmp/cinefuse-control-wan"))


def test_a_control_video_steers_the_clip_through_vace(wan: WanEngine) -> None:
    steered = np.stack(run(wan, request(control_video=clip(1)))).astype(np.float32)
    assert steered.shape == (16, 90, 120, 3)
    assert wan.last_run["control_video"] is True and wan.last_run["role"] == "text"
    (vace,) = [m for m in wan.cache.loaded() if m.folder.name == "Wan2.1-VACE-1.3B-diffusers"]
    assert "WanVACEPipeline" in vace.views
    again = np.stack(run(wan, request(control_video=clip(1))))
    other = np.stack(run(wan, request(control_video=clip(2))))
    plain = np.stack(run(wan, request()))
    assert wan.last_run["control_video"] is False
    # Same seed and prompt: the same control gives the same clip, another control another
    # one (the tiny random VACE blocks weigh the hints little, hence the small difference),
    # and no control the text model's clip.
    assert np.array_equal(steered, again)
    assert np.abs(steered - other).mean() > 0.01
    assert np.abs(steered - plain).mean() > 10


def test_a_first_frame_is_kept_under_a_control_video(wan: WanEngine) -> None:
    frames = run(wan, request(first_frame=picture(5), control_video=clip(1)))
    assert len(frames) == 16 and wan.last_run["control_video"] is True and wan.last_run["role"] == "first_frame"


def test_steps_and_guidance_of_the_request_win_over_the_recipe(wan: WanEngine) -> None:
    steps = Steps()
    run(wan, request(steps=3, guidance=2.5), steps)
    assert (wan.last_run["steps"], wan.last_run["guidance"]) == (3, 2.5)
    assert steps.calls[2] == (3, steps.calls[-1][1])  # three denoising steps, then the decode's


@pytest.fixture(scope="module")
def ti2v_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.generation.neural.tiny_weights import build_wan22_ti2v

    root = tmp_path_factory.mktemp("ti2v-only")
    build_wan22_ti2v(root)
    return root


def test_without_vace_an_edit_is_refused_and_a_remix_renders_from_the_prompt(ti2v_only: Path) -> None:
    engine = WanEngine(settings_for(ti2v_only, data_dir="/tmp/cinefuse-control-ti2v"))
    with pytest.raises(InferenceError, match=r"cinefuse models pull Wan2\.1-VACE-1\.3B-diffusers") as refused:
        run(engine, request(control_video=clip(1), control_required=True))
    assert refused.value.parameter == "video"
    frames = run(engine, request(control_video=clip(1)))
    assert len(frames) == 16 and engine.last_run["control_video"] is False


def test_engines_without_video_to_video_refuse_an_edit(tiny_models_dir: Path) -> None:
    for engine in (LtxEngine(settings_for(tiny_models_dir)), PreviewEngine()):
        with pytest.raises(InferenceError, match="cannot edit a video"):
            run(engine, request(control_video=clip(1), control_required=True))
    # A remix's control video is simply not used there.
    assert len(run(PreviewEngine(), request(width=320, height=240, control_video=clip(1)))) == 16


def test_ltx_takes_the_requests_steps_and_runs_guidance_above_one(tiny_models_dir: Path) -> None:
    engine = LtxEngine(settings_for(tiny_models_dir, data_dir="/tmp/cinefuse-control-ltx"))
    frames = run(engine, request(width=192, height=128, steps=3, guidance=3.0))
    assert len(frames) == 16
    assert engine.last_run["guidance"] == 3.0 and engine.last_run["passes"][0][2] == 3
