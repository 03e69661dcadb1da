"""The Wan and LTX engines on tiny real pipelines (CPU): every role, exact output geometry,
seeds, LoRAs, the stop seam, and each speed option wired.

Every run goes through the production loading code (``from_pretrained`` on the tiny folders
written by ``tiny_weights.py``) and diffusers' own denoising loops, with two denoising steps,
at small sizes (the API's 360p sizes run end to end in tests/integration/test_neural_e2e.py).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cinefuse.generation.base import GenerationInterrupted, GenerationRequest
from cinefuse.generation.neural.ltx import LtxEngine
from cinefuse.generation.neural.wan import WanEngine, wan_role
from cinefuse.settings import Settings

TWO_STEPS = {"text": 2, "first_frame": 2, "first_last": 2, "references": 2, "fast": 2}


def settings_for(models: Path, **changes: Any) -> Settings:
    return Settings.model_validate({"models_dir": models, "steps": TWO_STEPS, **changes})


def picture(seed: int, width: int = 480, height: int = 320) -> np.ndarray:
    """A smooth, seeded picture (a colour gradient with a bright disc)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, 3).astype(np.float32)
    image = base + 40 * np.stack([xs / width, ys / height, (xs + ys) / (width + height)], -1)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    image[(xs - cx) ** 2 + (ys - cy) ** 2 < (0.15 * height) ** 2] = 240
    return np.clip(image, 0, 255).astype(np.uint8)


def request(**changes: Any) -> GenerationRequest:
    base = GenerationRequest(prompt="a red fox runs in a forest", width=120, height=90, fps=16, num_frames=16, seed=7)
    return replace(base, **changes)


class Steps:
    """An ``on_step`` that records the calls and can stop the engine at a given step."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.stop_at = stop_at

    def __call__(self, step: int, total: int) -> None:
        self.calls.append((step, total))
        if self.stop_at is not None and step >= self.stop_at:
            raise GenerationInterrupted("cancelled")


@pytest.fixture(scope="module")
def wan(tiny_models_dir: Path) -> WanEngine:
    return WanEngine(settings_for(tiny_models_dir))


@pytest.fixture(scope="module")
def ltx(tiny_models_dir: Path) -> LtxEngine:
    return LtxEngine(settings_for(tiny_models_dir))


def run(engine: Any, req: GenerationRequest, steps: Steps | None = None) -> list[np.ndarray]:
    return list(engine.generate(req, steps or Steps()))


CASES = {
    "text": {},
    "first_frame": {"first_frame": picture(1)},
    "first_last": {"first_frame": picture(1), "last_frame": picture(2)},
    "references": {"reference_images": (picture(3), picture(4))},
}


@pytest.mark.parametrize("role", list(CASES))
def test_each_wan_role_gives_exactly_the_requested_clip(wan: WanEngine, role: str) -> None:
    req = request(width=200, height=150, num_frames=16, **CASES[role])
    assert wan_role(req) == role
    steps = Steps()
    frames = run(wan, req, steps)
    assert len(frames) == 16
    assert all(f.shape == (150, 200, 3) and f.dtype == np.uint8 and f.flags.c_contiguous for f in frames)
    assert wan.last_run["role"] == role
    # Progress moves through the two denoising steps, then the decode.
    assert [s for s, _ in steps.calls[:2]] == [1, 2] and steps.calls[-1][0] > 2
    assert len({total for _, total in steps.calls}) == 1


def test_a_last_frame_alone_is_generated_from_it_and_played_backwards(wan: WanEngine) -> None:
    req = request(last_frame=picture(5))
    frames = run(wan, req)
    forward = run(wan, replace(req, first_frame=picture(5), last_frame=None))
    assert len(frames) == 16
    assert np.array_equal(frames[-1], forward[0])  # the clip ends where the forward one starts


def test_ltx_keyframes_first_and_last(ltx: LtxEngine) -> None:
    frames = run(ltx, request(width=160, height=90, first_frame=picture(1), last_frame=picture(2)))
    assert len(frames) == 16 and frames[0].shape == (90, 160, 3)
    with pytest.raises(Exception, match="reference images"):
        run(ltx, request(reference_images=(picture(3),)))


def test_the_same_seed_gives_the_same_clip_and_the_next_seed_another(wan: WanEngine) -> None:
    first = run(wan, request(seed=11))
    assert all(np.array_equal(a, b) for a, b in zip(first, run(wan, request(seed=11)), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, run(wan, request(seed=12)), strict=True))


def test_an_effect_with_its_lora_present_runs_with_the_adapter_and_trigger_words(wan: WanEngine) -> None:
    plain = run(wan, request())
    inflated = run(wan, request(effect="balloon belly"))
    assert wan.last_run["loras"] == ["inflate"]
    assert wan.last_run["adapters"] == [["inflate"]]  # active while denoising
    assert "watercolor" in wan.last_run["prompt"] and "belly inflates" in wan.last_run["prompt"]
    assert not all(np.array_equal(a, b) for a, b in zip(plain, inflated, strict=True))
    # The next job without the effect runs without the adapter: exactly as before it.
    again = run(wan, request())
    assert wan.last_run["loras"] == [] and wan.last_run["adapters"] == [[]]
    assert all(np.array_equal(a, b) for a, b in zip(plain, again, strict=True))


def test_a_stop_during_denoising_ends_within_that_step_and_never_decodes(wan: WanEngine) -> None:
    steps = Steps(stop_at=1)
    with pytest.raises(GenerationInterrupted):
        run(wan, replace(request(), prompt="a boat at sea"), steps)
    # One step reported (the one that raised); the second step and the decode never ran.
    assert [s for s, _ in steps.calls] == [1]


def test_a_stop_during_decoding_ends_the_stream(wan: WanEngine) -> None:
    steps = Steps(stop_at=3)  # step 3 is the first decoded chunk
    frames: list[np.ndarray] = []
    with pytest.raises(GenerationInterrupted):
        for frame in wan.generate(request(), steps):
            frames.append(frame)
    assert len(frames) < 16 and [s for s, _ in steps.calls] == [1, 2, 3]


def test_a_camera_move_on_a_first_frame_is_guided_by_the_preview_render(wan: WanEngine) -> None:
    frames = run(wan, request(first_frame=picture(1), camera_movement="zoom_in"))
    assert len(frames) == 16
    assert "zooms in" in wan.last_run["prompt"]
    assert wan.last_run["role"] == "first_frame"


def test_pipelines_stay_loaded_across_jobs(wan: WanEngine) -> None:
    run(wan, request())
    loaded = {model.folder: model.pipe for model in wan.cache.loaded()}
    run(wan, request(seed=99))
    assert {model.folder: model.pipe for model in wan.cache.loaded()} == loaded


def test_missing_transformer_weights_name_the_file_and_the_next_good_job_runs(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for entry in tiny_models_dir.iterdir():
        (models / entry.name).symlink_to(entry)
    broken = models / "Wan2.1-FLF2V-14B-720P-diffusers"
    broken.unlink()
    broken.mkdir()
    for entry in (tiny_models_dir / broken.name).iterdir():
        if entry.name != "transformer":
            (broken / entry.name).symlink_to(entry)
    (broken / "transformer").mkdir()
    (broken / "transformer" / "config.json").symlink_to(tiny_models_dir / broken.name / "transformer" / "config.json")
    engine = WanEngine(settings_for(models))
    with pytest.raises(Exception, match=r"transformer") as caught:
        run(engine, request(first_frame=picture(1), last_frame=picture(2)))
    assert "no weights file" in str(caught.value) and str(broken / "transformer") in str(caught.value)
    assert len(run(engine, request())) == 16


def test_a_folder_recording_another_pipeline_is_refused_by_name(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "Wan2.2-TI2V-5B-Diffusers").symlink_to(tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers")
    (models / "Wan2.1-VACE-1.3B-diffusers").symlink_to(tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers")  # a WanPipeline
    engine = WanEngine(settings_for(models))
    with pytest.raises(Exception, match="records pipeline class 'WanPipeline'") as caught:
        run(engine, request(reference_images=(picture(3),)))
    assert "Wan2.1-VACE-1.3B-diffusers" in str(caught.value)


# ------------------------------------------------------------------------------ speed options


def hooked_modules(transformer: Any) -> int:
    """Modules of ``transformer`` carrying a diffusers hook (caches, offloading)."""
    return sum(1 for module in transformer.modules() if getattr(module, "_diffusers_hook", None) is not None)


@pytest.mark.parametrize(
    "options",
    [
        {"precision": "bfloat16"},
        {"attention_backend": "_native_math"},
        {"cache": "first_block", "cache_threshold": 0.2},
        {"cache": "mag", "cache_mag_ratios": {"text": [1.0, 1.0, 0.9, 0.8]}},
        {"cache": "taylorseer"},
        {"cache": "pab"},
        {"vae_tiling": True},
        {"offload": "group"},
    ],
    ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items() if k != "cache_mag_ratios"),
)
def test_each_speed_option_is_applied_and_the_clip_still_comes_out(
    tiny_models_dir: Path, options: dict[str, Any]
) -> None:
    engine = WanEngine(settings_for(tiny_models_dir, **options))
    frames = run(engine, request())
    assert len(frames) == 16 and frames[0].shape == (90, 120, 3)
    (loaded,) = engine.cache.loaded()
    pipe = loaded.pipe
    if "precision" in options:  # bf16 weights, with the modules diffusers keeps in fp32 kept so
        dtypes = {str(p.dtype) for p in pipe.transformer.parameters()}
        assert "torch.bfloat16" in dtypes
    if ("cache" in options and options["cache"] != "pab") or "offload" in options:  # pab: off with two-pass guidance
        assert hooked_modules(pipe.transformer) > 0
    if "vae_tiling" in options:
        assert pipe.vae.use_tiling


def test_a_distillation_lora_runs_its_steps_at_guidance_one(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    for entry in tiny_models_dir.iterdir():
        if entry.name != "loras":
            (models / entry.name).symlink_to(entry)
    distill = models / "loras" / "distill-4step"
    distill.mkdir()
    source = tiny_models_dir / "loras" / "inflate"
    (distill / "pytorch_lora_weights.safetensors").symlink_to(source / "pytorch_lora_weights.safetensors")
    (distill / "lora.json").write_text('{"steps": 3, "guidance": 1.0, "shift": 5.0}')
    engine = WanEngine(settings_for(models, distill_lora="distill-4step"))
    calls: list[int] = []
    loaded = engine.cache.load(engine.weights("text"))
    forward = loaded.pipe.transformer.forward
    lock = threading.Lock()

    def counting(*args: Any, **kwargs: Any) -> Any:
        with lock:
            calls.append(1)
        return forward(*args, **kwargs)

    loaded.pipe.transformer.forward = counting
    steps = Steps()
    run(engine, request(), steps)
    denoising = [s for s, total in steps.calls if s <= 3]
    assert denoising == [1, 2, 3]
    assert len(calls) == 3  # guidance 1.0: one transformer pass per step, no unconditional one
    assert "distill" in engine.last_run["adapters"][0]


@pytest.mark.slow
def test_torch_compile_of_the_repeated_blocks(tiny_models_dir: Path) -> None:
    engine = WanEngine(settings_for(tiny_models_dir, compile="blocks"))
    frames = run(engine, request(width=64, height=64, num_frames=5, fps=16))
    assert len(frames) == 5
    (loaded,) = engine.cache.loaded()
    assert any(
        type(block).__name__ == "OptimizedModule"
        or hasattr(block, "_orig_mod")
        or "compiled" in repr(type(block)).lower()
        or getattr(block, "_compiled_call_impl", None) is not None
        for block in loaded.pipe.transformer.blocks
    )


# ------------------------------------------------------------------------------ full-size review


def calls_of(
    monkeypatch: pytest.MonkeyPatch, pipeline_class: type[Any], method: str = "__call__"
) -> list[dict[str, Any]]:
    """Record the keyword arguments of every call of ``pipeline_class.<method>``."""
    seen: list[dict[str, Any]] = []
    original = getattr(pipeline_class, method)

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, method, recording)
    return seen


@pytest.mark.parametrize("role", ["first_last", "references"])
def test_the_wan_2_1_models_run_at_their_reference_flow_shift(wan: WanEngine, role: str) -> None:
    """The review's finding 8: the Wan 2.1 folders ship UniPC with flow_shift 3.0 (diffusers'
    480p default); Wan's own generate.py samples FLF2V and VACE with 16."""
    run(wan, request(**CASES[role]))
    assert wan.last_run["shift"] == 16.0


def test_the_wan_2_2_model_keeps_its_folder_s_shift(wan: WanEngine) -> None:
    run(wan, request())
    assert wan.last_run["shift"] == 5.0


def test_vace_gets_whole_reference_images_and_keeps_the_first_frame_at_full_strength(
    wan: WanEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's finding 14: references were cover-cropped to the clip (a portrait lost its
    head in a landscape clip; VACE pads them onto a white canvas itself), and the conditioning
    scale of 0.6 loosened the kept first frame along with the camera guide."""
    from diffusers import WanVACEPipeline

    seen = calls_of(monkeypatch, WanVACEPipeline)
    portrait = picture(3, width=90, height=160)
    run(wan, request(first_frame=picture(1), reference_images=(portrait,)))
    (kwargs,) = seen
    assert [ref.size for ref in kwargs["reference_images"]] == [(90, 160)]
    assert kwargs["conditioning_scale"] == 1.0


def test_wan_runs_with_its_published_negative_prompt(wan: WanEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's finding 18: seven English words replaced Wan's published negative prompt."""
    from diffusers import WanPipeline

    from cinefuse.generation.neural.prompting import WAN_NEGATIVE

    calls = calls_of(monkeypatch, WanPipeline, "encode_prompt")
    run(wan, request())
    run(wan, request(negative_prompt="rain"))
    ours = [call for call in calls if call.get("prompt") is not None]  # the pipeline passes embeddings through too
    assert [call["negative_prompt"] for call in ours] == [WAN_NEGATIVE, "rain"] and "倒着走" in WAN_NEGATIVE


def test_a_request_above_the_model_s_cap_runs_at_the_cap_and_comes_out_exact(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's finding 7, through the engine: the request goes to the pipeline at the
    cap (here a cap of 64 x 64 px and 9 frames in place of the 5B's 720p and 121) and the clip
    is scaled and stretched to exactly what was asked."""
    from diffusers import WanPipeline

    from cinefuse.generation.neural import grid

    small = replace(grid.WAN22_GRID, max_size=(64, 64), max_frames=9)
    monkeypatch.setattr("cinefuse.generation.neural.wan.native_rule", lambda folder: small)
    seen = calls_of(monkeypatch, WanPipeline)
    engine = WanEngine(settings_for(tiny_models_dir))
    frames = run(engine, request(width=160, height=96, num_frames=32))
    assert (seen[0]["width"], seen[0]["height"], seen[0]["num_frames"]) == (64, 32, 9)
    assert len(frames) == 32 and all(frame.shape == (96, 160, 3) for frame in frames)
    assert engine.last_run["plan"].capped


def test_ltx_runs_the_two_stage_recipe_when_its_upsampler_is_present(
    tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's finding 13: one 8-step pass at full size, where the distilled models'
    published recipe generates at half the size, upsamples the latents 2x and refines."""
    from diffusers import LTXConditionPipeline, LTXLatentUpsamplePipeline
    from tests.generation.neural.tiny_weights import build_ltx_upsampler

    models = tmp_path / "models"
    models.mkdir()
    for entry in tiny_models_dir.iterdir():
        (models / entry.name).symlink_to(entry)
    build_ltx_upsampler(models)
    passes = calls_of(monkeypatch, LTXConditionPipeline)
    upsampled = calls_of(monkeypatch, LTXLatentUpsamplePipeline)
    engine = LtxEngine(settings_for(models, steps={"fast": 8}))
    steps = Steps()
    frames = run(engine, request(width=192, height=96, first_frame=picture(1)), steps)
    assert len(frames) == 16 and frames[0].shape == (96, 192, 3)
    first, refine = passes
    assert (first["width"], first["height"], first["timesteps"]) == (
        128,
        64,
        [1000, 993, 987, 981, 975, 909, 725, 0.03],
    )
    assert (refine["width"], refine["height"], refine["timesteps"]) == (256, 128, [1000, 909, 725, 421, 0])
    assert refine["denoise_strength"] == 0.999 and refine["latents"] is not None
    assert len(upsampled) == 1 and upsampled[0]["adain_factor"] == 1.0
    denoising = [s for s, _ in steps.calls][:12]
    assert denoising == list(range(1, 13))  # 8 + 4 steps, progress only forwards
    # The upsampler runs on the LTX model's own VAE.
    up_model = next(m for m in engine.cache.loaded() if m.folder.name.startswith("ltxv-spatial"))
    fast = next(m for m in engine.cache.loaded() if m.folder.name.startswith("LTX-Video"))
    assert up_model.pipe.vae is fast.pipe.vae


def test_after_a_failed_job_the_engine_frees_what_the_failure_held(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's finding 20: the cache was emptied inside the ``except``, while the
    traceback still held the failed forward's tensors. ``after_job`` runs once the job's
    exception is gone and collects them (then empties the GPU cache)."""
    import gc
    import weakref

    engine = WanEngine(settings_for(tiny_models_dir))
    transformer = engine.cache.load(engine.weights("text")).transformer
    forward = transformer.forward
    held: list[weakref.ref[torch.Tensor]] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        activations = torch.ones(256, 256)  # what a real forward holds when it runs out of memory
        held.append(weakref.ref(activations))
        cycle: dict[str, Any] = {"activations": activations}
        cycle["self"] = cycle  # a reference cycle, as tracebacks and frames make
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(transformer, "forward", failing)
    gc.disable()
    try:
        with pytest.raises(Exception, match="Out of GPU memory"):
            run(engine, request())
        engine.after_job()
        assert held and held[0]() is None
    finally:
        gc.enable()
        monkeypatch.setattr(transformer, "forward", forward)
