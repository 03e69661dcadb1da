"""The HunyuanVideo 1.5 engine on tiny real-class folders (``tiny_hunyuan.py``), loaded through
the production code: text, a first frame, a last frame alone and a LoRA effect each give exactly
the requested clip at the folder's published recipe; progress reaches its total; a cancel at
the first step stops within it and never decodes; a folder missing a component's weights
answers ``inferenceError`` naming the file; what the checkpoints cannot condition on is refused
naming the parameter; a LoRA for another base is never given to the transformer; and the
streaming decode equals the VAE's own."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from tests.generation.neural.test_engines import Steps, picture, request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationInterrupted
from cinefuse.generation.neural.grid import HUNYUAN15_720P_GRID, native_rule
from cinefuse.generation.neural.hunyuan import SPEC, STEP_DISTILLED_STEPS, HunyuanEngine, Recipe
from cinefuse.generation.neural.loras import LoraBase

STEPS = 2
SIZE = {"width": 160, "height": 96, "num_frames": 9}  # 13 native frames at 24 fps: 4 latent frames


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.generation.neural.tiny_hunyuan import build_hunyuan, build_hunyuan_lora, build_wan_lora

    root = tmp_path_factory.mktemp("hunyuan-models")
    build_hunyuan(root)
    build_hunyuan(root, image=True)
    build_hunyuan_lora(root)  # "inflate-it": balloon belly's third candidate, for this transformer
    build_wan_lora(root)  # "inflate": balloon belly's first candidate, for a Wan transformer
    return root


@pytest.fixture(scope="module")
def engine(models: Path) -> HunyuanEngine:
    steps = {"hunyuan_text": STEPS, "hunyuan_image": STEPS}
    return HunyuanEngine(settings_for(models, data_dir="/tmp/cinefuse-hunyuan", steps=steps))


class Calls:
    """Counts the forward calls of the transformers and of the VAE decoder's output layer (one
    per decoded latent frame) of the loaded folders (which share their VAE: the same file)."""

    def __init__(self, engine: HunyuanEngine) -> None:
        self.denoise = 0
        self.decode = 0
        pipes = [model.pipe for model in engine.cache.loaded()]
        transformers = {id(pipe.transformer): pipe.transformer for pipe in pipes}
        outputs = {id(pipe.vae.decoder.conv_out.conv): pipe.vae.decoder.conv_out.conv for pipe in pipes}
        self._handles = [module.register_forward_pre_hook(self._denoised) for module in transformers.values()]
        self._handles += [module.register_forward_pre_hook(self._decoded) for module in outputs.values()]

    def _denoised(self, *_: Any) -> None:
        self.denoise += 1

    def _decoded(self, *_: Any) -> None:
        self.decode += 1

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.fixture
def calls(engine: HunyuanEngine) -> Iterator[Calls]:
    for role in ("text", "first_frame"):
        engine.cache.load(engine.weights(role))  # type: ignore[arg-type]
    counter = Calls(engine)
    yield counter
    counter.close()


@pytest.mark.parametrize(
    ("role", "extra", "folder", "shift"),
    [
        ("text", {}, "HunyuanVideo-1.5-Diffusers-720p_t2v", 9.0),
        ("first_frame", {"first_frame": picture(2)}, "HunyuanVideo-1.5-Diffusers-720p_i2v", 7.0),
    ],
)
def test_each_role_gives_exactly_the_requested_clip_at_the_published_recipe(
    engine: HunyuanEngine, calls: Calls, role: str, extra: dict[str, Any], folder: str, shift: float
) -> None:
    steps = Steps()
    frames = run(engine, request(width=150, height=100, num_frames=12, **extra), steps)
    assert len(frames) == 12
    assert all(f.shape == (100, 150, 3) and f.dtype == np.uint8 and f.flags.c_contiguous for f in frames)
    last = engine.last_run
    assert (last["role"], last["folder"], last["model"]) == (role, folder, HUNYUAN15_720P_GRID.name)
    # The folder's recipe: its scheduler's shift, its guider's guidance (two passes a step).
    assert (last["steps"], last["guidance"], last["shift"]) == (STEPS, 6.0, shift)
    assert calls.denoise == 2 * STEPS
    latent_frames = (last["plan"].frames - 1) // 4 + 1
    assert calls.decode == latent_frames  # one latent frame at a time
    # Progress: the denoising steps, then one per decoded latent frame, up to the total.
    assert steps.calls == [(step, STEPS + latent_frames) for step in range(1, STEPS + latent_frames + 1)]


def test_image_to_video_buckets_at_the_smallest_target_covering_the_request(engine: HunyuanEngine) -> None:
    frames = run(engine, request(width=240, height=180, num_frames=5, first_frame=picture(3)))
    plan = engine.last_run["plan"]
    # On the grid 240x192, 215 px squared: target 224 (within 720p's 960), whose bucket nearest
    # 4:3 the pipeline takes (16 x 12 patches of 16 px); the frames are then fitted to 240x180.
    assert engine.last_run["target_size"] == 224 and (plan.width, plan.height, plan.fit) == (256, 192, "cover")
    assert len(frames) == 5 and frames[0].shape == (180, 240, 3)


def test_a_last_frame_alone_is_generated_from_it_and_played_backwards(engine: HunyuanEngine) -> None:
    req = request(**SIZE, last_frame=picture(5))
    frames = run(engine, req)
    forward = run(engine, replace(req, first_frame=picture(5), last_frame=None))
    assert len(frames) == len(forward) == 9 and engine.last_run["role"] == "first_frame"
    assert np.array_equal(frames[-1], forward[0])  # the clip ends where the forward one starts
    assert all(np.array_equal(a, b) for a, b in zip(frames, reversed(forward), strict=True))


def test_an_effect_runs_the_lora_for_this_transformer_never_the_wan_one(engine: HunyuanEngine) -> None:
    plain = run(engine, request(**SIZE))
    inflated = run(engine, request(**SIZE, effect="balloon belly"))
    assert len(inflated) == 9 and inflated[0].shape == (96, 160, 3)
    # "inflate" (a Wan LoRA) comes first among balloon belly's candidates: it does not fit.
    loras = engine.cache.loras
    assert loras["inflate-it"].base == LoraBase("hunyuan", 16) and loras["inflate"].base == LoraBase("wan", 24)
    assert engine.last_run["loras"] == ["inflate-it"] and engine.last_run["adapters"] == [["inflate-it"]]
    assert "inflate it" in engine.last_run["prompt"] and "belly inflates" in engine.last_run["prompt"]
    assert not all(np.array_equal(a, b) for a, b in zip(plain, inflated, strict=True))
    # The next job without the effect runs without the adapter: exactly as before it.
    again = run(engine, request(**SIZE))
    assert engine.last_run["loras"] == [] and engine.last_run["adapters"] == [[]]
    assert all(np.array_equal(a, b) for a, b in zip(plain, again, strict=True))


def test_a_cancel_at_the_first_step_stops_within_it_and_never_decodes(engine: HunyuanEngine, calls: Calls) -> None:
    steps = Steps(stop_at=1)
    with pytest.raises(GenerationInterrupted):
        run(engine, request(**SIZE, prompt="a boat at sea"), steps)
    assert [step for step, _ in steps.calls] == [1]
    assert calls.denoise == 2  # the first step's two guidance passes, then the loop stopped
    assert calls.decode == 0


def test_motion_fast_and_the_client_override_the_folder_s_recipe(engine: HunyuanEngine) -> None:
    loaded = engine.cache.load(engine.weights("text"))
    pipe = loaded.pipe
    fast = engine._recipe(loaded, pipe, "hunyuan_text", request(motion_mode="fast"))
    assert (fast.steps, fast.guidance, fast.shift) == (STEPS, 7.0, 9.0 * 1.5)  # the Wan engines' change
    client = engine._recipe(loaded, pipe, "hunyuan_text", request(motion_mode="fast", steps=3, guidance=1.0))
    assert (client.steps, client.guidance, client.shift) == (3, 1.0, 9.0 * 1.5)


def test_a_step_distilled_folder_runs_its_steps_at_guidance_one(engine: HunyuanEngine) -> None:
    loaded = SimpleNamespace(
        transformer=SimpleNamespace(config={"use_meanflow": True}),
        folder=Path("HunyuanVideo-1.5-Diffusers-480p_i2v_step_distilled"),
        distill=None,
        base=None,
    )
    pipe = SimpleNamespace(
        guider=SimpleNamespace(config={"guidance_scale": 1.0}), scheduler=SimpleNamespace(config={"shift": 7.0})
    )
    this = SimpleNamespace(settings=engine.settings.model_copy(update={"steps": {}}))
    recipe = HunyuanEngine._recipe(this, loaded, pipe, "hunyuan_image", request())  # type: ignore[arg-type]
    name = "HunyuanVideo-1.5-Diffusers-480p_i2v_step_distilled"
    assert recipe == Recipe(STEP_DISTILLED_STEPS, 1.0, 7.0, f"{name}'s recipe")
    fast = HunyuanEngine._recipe(this, loaded, pipe, "hunyuan_image", request(motion_mode="fast"))  # type: ignore[arg-type]
    assert (fast.guidance, fast.shift) == (1.0, 7.0 * 1.5)  # a distilled model does not guide


@pytest.mark.parametrize(
    ("extra", "parameter"),
    [
        ({"first_frame": picture(1), "last_frame": picture(2)}, "inputs.frameImages"),
        ({"reference_images": (picture(3),)}, "inputs.referenceImages"),
        ({"control_video": (picture(4),), "control_required": True}, "video"),
    ],
)
def test_what_the_checkpoints_cannot_condition_on_is_refused_naming_the_parameter(
    engine: HunyuanEngine, extra: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InferenceError) as refused:
        engine.generate(request(**extra))
    assert refused.value.parameter == parameter
    assert "cinefuse:wan@1" in str(refused.value)


def test_a_missing_weights_file_is_named_and_the_next_good_job_runs(models: Path, tmp_path: Path) -> None:
    broken = tmp_path / "models"
    broken.mkdir()
    shutil.copytree(models / "HunyuanVideo-1.5-Diffusers-720p_t2v", broken / "HunyuanVideo-1.5-Diffusers-720p_t2v")
    (broken / "HunyuanVideo-1.5-Diffusers-720p_i2v").symlink_to(models / "HunyuanVideo-1.5-Diffusers-720p_i2v")
    for weights in (broken / "HunyuanVideo-1.5-Diffusers-720p_t2v" / "text_encoder_2").glob("*.safetensors"):
        weights.unlink()
    engine = HunyuanEngine(settings_for(broken, data_dir=str(tmp_path / "data"), steps={"hunyuan_image": STEPS}))
    with pytest.raises(InferenceError, match=r"HunyuanVideo-1\.5-Diffusers-720p_t2v/text_encoder_2"):
        run(engine, request(**SIZE))
    assert len(run(engine, request(**SIZE, first_frame=picture(1)))) == 9
    check = SPEC.check(engine.settings)
    assert not check.ok and "text_encoder_2" in check.detail


def test_the_doctor_reports_the_folders_and_that_a_group_leaves_clips_to_its_leader(models: Path) -> None:
    check = SPEC.check(settings_for(models))
    assert check.ok and "HunyuanVideo-1.5-Diffusers-720p_t2v" in check.detail and "720p_i2v" in check.detail
    assert "leader" not in check.detail
    grouped = SPEC.check(settings_for(models, context_parallel=2))
    assert grouped.ok and "leader alone" in grouped.detail
    assert native_rule(models / "HunyuanVideo-1.5-Diffusers-720p_t2v") == HUNYUAN15_720P_GRID


@pytest.mark.parametrize("tiled", [False, True])
def test_the_streaming_decode_equals_the_vae_s_own(tiled: bool) -> None:
    from tests.generation.neural.tiny_hunyuan import tiny_vae

    from cinefuse.generation.neural.decode import iter_decode_hunyuan

    torch.manual_seed(0)
    vae = tiny_vae()
    with torch.no_grad():  # norm scales off one, so a wrong order of operations shows
        for parameter in vae.parameters():
            if parameter.ndim == 1:
                parameter.add_(0.1 * torch.randn_like(parameter))
    if tiled:
        vae.enable_tiling(64, 64, 4, 4)  # tiles of 64 px (4 latent), blended over 16 px
    # In float64: float32 sums a few frames' convolution in another order than the whole
    # clip's, which this tiny random VAE amplifies to 1e-4; the computation is the same.
    vae = vae.double()
    z = torch.randn(1, 4, 3, 5, 6, dtype=torch.float64)
    with torch.inference_mode():
        whole = vae.decode(z).sample
    chunks = list(iter_decode_hunyuan(vae, z))
    assert [chunk.shape[2] for chunk in chunks] == [1, 4, 4]
    streamed = torch.cat(chunks, dim=2)
    assert streamed.shape == whole.shape == (1, 3, 9, 80, 96)
    assert torch.allclose(streamed, whole, rtol=0, atol=1e-10)
