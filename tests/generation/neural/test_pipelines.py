"""The process's pipelines (``pipelines.PipelineCache``) on the tiny real folders: one load
per folder and per shared component, one budget for every engine, stages placed in order,
and a refusal before loading when a stage cannot fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from tests.generation.neural.test_engines import picture, request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.ltx import LtxEngine
from cinefuse.generation.neural.pipelines import PipelineCache, load_dtypes
from cinefuse.generation.neural.wan import WanEngine


def fresh(models: Path, **changes: Any) -> Any:
    """Settings no other test shares (the cache is per settings, per process)."""
    return settings_for(models, data_dir=f"/tmp/cinefuse-test-{id(changes)}-{sorted(changes)}", **changes)


def test_text_and_image_to_video_share_one_load_of_the_ti2v_folder(tiny_models_dir: Path) -> None:
    """The review's finding 2: the 5B was loaded twice (about 48 GB for one 24 GB model)."""
    engine = WanEngine(fresh(tiny_models_dir))
    run(engine, request())
    run(engine, request(first_frame=picture(1)))
    (model,) = engine.cache.loaded()
    assert model.folder.name == "Wan2.2-TI2V-5B-Diffusers"
    assert set(model.views) == {"WanPipeline", "WanImageToVideoPipeline"}
    text, image = model.views["WanPipeline"], model.views["WanImageToVideoPipeline"]
    assert text.transformer is image.transformer and text.vae is image.vae and text.text_encoder is image.text_encoder
    assert image.config.expand_timesteps  # the TI2V first-frame path, from the folder's settings


def test_wan_folders_with_the_same_text_encoder_load_it_once(tiny_models_dir: Path) -> None:
    """Every Wan folder ships the same UMT5-XXL (11 GB in bf16): one copy per process."""
    engine = WanEngine(fresh(tiny_models_dir))
    run(engine, request())
    run(engine, request(first_frame=picture(1), last_frame=picture(2)))
    run(engine, request(reference_images=(picture(3),)))
    models = {model.folder.name: model.pipe for model in engine.cache.loaded()}
    ti2v = models["Wan2.2-TI2V-5B-Diffusers"]
    flf2v = models["Wan2.1-FLF2V-14B-720P-diffusers"]
    vace = models["Wan2.1-VACE-1.3B-diffusers"]
    assert ti2v.text_encoder is flf2v.text_encoder is vace.text_encoder
    assert flf2v.vae is vace.vae  # the Wan 2.1 VAE, shared too
    assert ti2v.vae is not flf2v.vae  # the 2.2 VAE is another model
    assert ti2v.transformer is not flf2v.transformer


def test_every_neural_engine_of_a_process_uses_one_cache_and_one_budget(tiny_models_dir: Path) -> None:
    # 2.75 MB: LTX-Video's denoising stage (2.72 MB, most of it its VAE) fits, not with Wan's too.
    settings = fresh(tiny_models_dir, gpu_memory_budget=2.75e6 / 1024**3)
    wan, ltx = WanEngine(settings), LtxEngine(settings)
    assert wan.cache is ltx.cache
    run(wan, request())
    wan_parts = [name for name in wan.cache.residency.on_device() if name.startswith("Wan2.2")]
    assert wan_parts, "the Wan model's components were placed"
    run(ltx, request(width=160, height=90))
    resident = wan.cache.residency.on_device()
    assert resident and all(name.startswith("LTX-Video") for name in resident)  # Wan's made room for LTX's
    assert wan.cache.residency.bytes_on_device() <= wan.cache.residency.limit


def test_stages_run_in_order_and_the_decode_puts_the_vae_on_the_device(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CINEFUSE_OFFLOAD=model: the text encoder, then the transformer with the VAE, then the
    VAE alone for the decode; nothing else stays (strict)."""
    settings = fresh(tiny_models_dir, offload="model")
    engine = WanEngine(settings)
    assert engine.cache.residency.strict
    stages: list[tuple[str, list[str]]] = []
    original = engine.cache.residency.use

    def recording(components: Any, what: str) -> None:
        components = list(components)
        stages.append((what.split()[0], [name.split("/")[1] for name, _ in components]))
        original(components, what)

    monkeypatch.setattr(engine.cache.residency, "use", recording)
    frames = run(engine, request(first_frame=picture(1)))
    assert len(frames) == 16
    assert stages == [("encode", ["text_encoder"]), ("denoise", ["transformer", "vae"]), ("decode", ["vae"])]
    assert engine.cache.residency.on_device() == ["Wan2.2-TI2V-5B-Diffusers/vae"]


def test_a_folder_whose_stage_cannot_fit_is_refused_before_it_loads(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh(tiny_models_dir, gpu_memory_budget=1e-6)  # about 1 KB
    engine = WanEngine(settings)
    loads: list[str] = []
    monkeypatch.setattr(
        "diffusers.WanPipeline.from_pretrained", classmethod(lambda cls, *a, **k: loads.append("loaded"))
    )
    with pytest.raises(InferenceError, match=r"The (encode|denoise|decode) stage of Wan2.2-TI2V-5B-Diffusers needs"):
        run(engine, request())
    assert loads == [] and engine.cache.loaded() == []


def test_component_sizes_come_from_the_headers_at_the_load_dtype(tiny_models_dir: Path) -> None:
    cache = PipelineCache(fresh(tiny_models_dir))
    folder = tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers"
    sizes = cache.component_bytes(folder)
    assert set(sizes) == {"text_encoder", "transformer", "vae"}
    engine = WanEngine(fresh(tiny_models_dir))
    run(engine, request())
    (model,) = engine.cache.loaded()
    for name, size in sizes.items():
        parameters = sum(p.numel() * p.element_size() for p in getattr(model.pipe, name).parameters())
        assert size == pytest.approx(parameters, rel=0.01), name


def test_wan_keeps_its_vae_and_image_encoder_in_float32_and_ltx_runs_its_vae_in_the_model_precision(
    tiny_models_dir: Path,
) -> None:
    """The review's findings 13 and 17."""
    assert load_dtypes("WanImageToVideoPipeline", torch.bfloat16) == {
        "default": torch.bfloat16,
        "vae": torch.float32,
        "image_encoder": torch.float32,
    }
    assert load_dtypes("LTXConditionPipeline", torch.bfloat16) == {"default": torch.bfloat16}
    settings = fresh(tiny_models_dir, precision="bfloat16")
    wan, ltx = WanEngine(settings), LtxEngine(settings)
    flf2v = wan.cache.load(wan.weights("first_last")).pipe
    assert flf2v.image_encoder.dtype == torch.float32 and flf2v.vae.dtype == torch.float32
    assert flf2v.transformer.dtype == torch.bfloat16
    fast = ltx.cache.load(wan.weights("fast")).pipe
    assert fast.vae.dtype == torch.bfloat16


def test_offload_as_needed_streams_only_the_folder_that_does_not_fit(tiny_models_dir: Path) -> None:
    """``offload=as_needed`` (the 16 and 24 GiB profile rows): group offload for the folder
    whose denoising stage exceeds the budget, the other resident and placed by the budget."""
    folders = {
        "first_frame": tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers",
        "first_last": tiny_models_dir / "Wan2.1-FLF2V-14B-720P-diffusers",
    }
    probe = PipelineCache(fresh(tiny_models_dir))

    def denoise_bytes(folder: Path) -> int:
        sizes = probe.component_bytes(folder)
        return sum(sizes.get(name, 0) for name in ("transformer", "image_encoder", "vae"))

    (small_role, small), (large_role, large) = sorted(
        ((role, denoise_bytes(folder)) for role, folder in folders.items()), key=lambda item: item[1]
    )
    assert small < large
    budget = (small + large) / 2 / 1024**3
    engine = WanEngine(fresh(tiny_models_dir, offload="as_needed", gpu_memory_budget=budget))
    assert not engine.cache.streams(folders[small_role]) and engine.cache.streams(folders[large_role])
    for role in (small_role, large_role):
        images = {"first_frame": picture(1)} | ({"last_frame": picture(2)} if role == "first_last" else {})
        assert len(run(engine, request(**images))) == 16
    by_folder = {model.folder: model for model in engine.cache.loaded()}
    hooked = engine.cache.residency._hooked
    assert id(by_folder[folders[large_role]].transformer) in hooked
    assert id(by_folder[folders[small_role]].transformer) not in hooked
    # The streamed transformer takes none of the budget; the resident one all of its size.
    assert "transformer" not in engine.cache.component_bytes(folders[large_role])
    assert "transformer" in engine.cache.component_bytes(folders[small_role])
