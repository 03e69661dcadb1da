"""Quantized weights (``quantize.py``) on the tiny real folders, loaded through the
production ``PipelineCache``: the layers really are the backends' quantized classes, the
clip keeps its size and frame count and stays close to the unquantized one (but is not
the same), the memory budget counts quantized bytes, and what cannot run on this machine
is refused with the reason before anything loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.generation.neural.test_engines import request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.budget import module_bytes, tensor_bytes
from cinefuse.generation.neural.pipelines import PipelineCache
from cinefuse.generation.neural.quantize import kept_in_fp32
from cinefuse.generation.neural.wan import WanEngine

pytest.importorskip("torchao", reason="int8 quantization needs torchao (the 'gpu' extra)")


def fresh(models: Path, tag: str, **changes: Any) -> Any:
    """Settings no other test shares (the pipeline cache is per settings, per process)."""
    return settings_for(models, data_dir=f"/tmp/cinefuse-quantize-{tag}", **changes)


def linear_weights(module: torch.nn.Module) -> list[Any]:
    """The weights of its Linear layers, but those a quantized load keeps in float32 (Wan's
    time embedder; T5's ``wo`` is kept only in float16 loads, and quantizes)."""
    kept = kept_in_fp32(type(module), "int8")
    linears = [(n, m) for n, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
    assert linears
    return [m.weight for n, m in linears if not any(part in n.split(".") for part in kept)]


def clip(engine: WanEngine) -> np.ndarray:
    frames = run(engine, request(width=120, height=90, num_frames=16))
    assert len(frames) == 16 and frames[0].shape == (90, 120, 3)
    return np.stack(frames).astype(np.float32)


@pytest.fixture(scope="module")
def plain_clip(tiny_models_dir: Path) -> np.ndarray:
    return clip(WanEngine(fresh(tiny_models_dir, "plain")))


def test_int8_quantizes_the_transformer_and_the_text_encoder_and_stays_close(
    tiny_models_dir: Path, plain_clip: np.ndarray
) -> None:
    from torchao.quantization import Int8Tensor

    engine = WanEngine(fresh(tiny_models_dir, "int8", quantization="int8", text_encoder_quantization="int8"))
    frames = clip(engine)
    (model,) = engine.cache.loaded()
    pipe = model.pipe
    assert all(isinstance(w, Int8Tensor) for w in linear_weights(pipe.transformer))
    assert all(isinstance(w, Int8Tensor) for w in linear_weights(pipe.text_encoder))
    # The VAE keeps its float32 weights (it decodes every pixel).
    assert all(p.dtype == torch.float32 and type(p) is torch.nn.Parameter for p in pipe.vae.parameters())
    difference = np.abs(frames - plain_clip).mean()
    assert 0 < difference < 8, difference  # quantized (not the same clip), but the same picture


def test_the_budget_counts_int8_weights_at_one_byte(tiny_models_dir: Path) -> None:
    plain = PipelineCache(fresh(tiny_models_dir, "bytes-plain"))
    int8 = PipelineCache(fresh(tiny_models_dir, "bytes-int8", quantization="int8", text_encoder_quantization="int8"))
    folder = tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers"
    predicted_plain, predicted = plain.component_bytes(folder), int8.component_bytes(folder)
    assert predicted["transformer"] < 0.6 * predicted_plain["transformer"]
    assert predicted["text_encoder"] < 0.6 * predicted_plain["text_encoder"]
    assert predicted["vae"] == predicted_plain["vae"]
    engine = WanEngine(fresh(tiny_models_dir, "bytes-int8", quantization="int8", text_encoder_quantization="int8"))
    run(engine, request(width=120, height=90, num_frames=16))
    (model,) = engine.cache.loaded()
    transformer = model.pipe.transformer
    # What loaded is what was predicted from the headers, int8 data, scales and zero points
    # (the RoPE tables are buffers the model builds, in no file).
    assert predicted["transformer"] == sum(tensor_bytes(p) for p in transformer.parameters())
    assert module_bytes(transformer) == predicted["transformer"] + sum(tensor_bytes(b) for b in transformer.buffers())
    assert predicted["text_encoder"] == sum(tensor_bytes(p) for p in model.pipe.text_encoder.parameters())


def test_a_budget_too_small_for_bfloat16_but_enough_for_int8_loads_int8(tiny_models_dir: Path) -> None:
    folder = tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers"
    plain_bytes = PipelineCache(fresh(tiny_models_dir, "budget-probe")).component_bytes(folder)
    needed_plain = plain_bytes["transformer"] + plain_bytes["vae"]
    budget_gib = (needed_plain - 40_000) / 1024**3
    with pytest.raises(InferenceError, match="denoise stage"):
        PipelineCache(fresh(tiny_models_dir, "budget-plain", gpu_memory_budget=budget_gib)).preflight(folder)
    PipelineCache(fresh(tiny_models_dir, "budget-int8", gpu_memory_budget=budget_gib, quantization="int8")).preflight(
        folder
    )


@pytest.fixture(scope="module")
def gguf_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf", reason="GGUF transformers need the gguf package (the 'gpu' extra)")
    from tests.generation.neural.tiny_weights import build_wan22_ti2v_with_gguf

    root = tmp_path_factory.mktemp("gguf-models")
    build_wan22_ti2v_with_gguf(root)
    return root


def test_gguf_loads_the_published_file_as_gguf_layers_and_stays_close(gguf_models: Path) -> None:
    from diffusers.quantizers.gguf.utils import GGUFLinear, GGUFParameter

    plain = clip(WanEngine(fresh(gguf_models, "gguf-plain")))
    engine = WanEngine(fresh(gguf_models, "gguf", quantization="gguf"))
    frames = clip(engine)
    (model,) = engine.cache.loaded()
    blocks = model.pipe.transformer.blocks
    attention = blocks[0].attn1.to_q
    assert isinstance(attention, GGUFLinear) and isinstance(attention.weight, GGUFParameter)
    assert attention.weight.quant_type == 8  # Q8_0, as written
    assert isinstance(blocks[1].ffn.net[2], GGUFLinear)
    difference = np.abs(frames - plain).mean()
    assert 0 < difference < 8, difference


def test_gguf_without_the_file_names_what_to_pull(tiny_models_dir: Path) -> None:
    engine = WanEngine(fresh(tiny_models_dir, "gguf-missing", quantization="gguf"))
    with pytest.raises(InferenceError, match=r"cinefuse models pull Wan2\.2-TI2V-5B-GGUF"):
        run(engine, request(width=120, height=90, num_frames=16))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"quantization": "fp8"}, "compute capability 8.9"),
        ({"text_encoder_quantization": "fp8"}, "compute capability 8.9"),
        ({"quantization": "nf4"}, "nf4 quantization .bitsandbytes. needs a CUDA GPU"),
    ],
)
def test_what_cannot_run_on_the_cpu_is_refused_before_loading(
    tiny_models_dir: Path, changes: dict[str, str], reason: str
) -> None:
    engine = WanEngine(fresh(tiny_models_dir, f"refused-{sorted(changes.items())}", device="cpu", **changes))
    with pytest.raises(InferenceError, match=reason):
        run(engine, request(width=120, height=90, num_frames=16))
    assert engine.cache.loaded() == []


def test_a_named_gpu_profile_quantizes_when_nothing_is_set(tiny_models_dir: Path) -> None:
    from torchao.quantization import Int8Tensor

    engine = WanEngine(fresh(tiny_models_dir, "profile-12", gpu_profile="12"))
    assert (engine.cache.settings.quantization, engine.cache.settings.text_encoder_quantization) == ("int8", "int8")
    run(engine, request(width=120, height=90, num_frames=16))
    (model,) = engine.cache.loaded()
    assert isinstance(model.pipe.transformer.blocks[0].attn1.to_q.weight, Int8Tensor)


def test_an_effect_lora_runs_on_an_int8_transformer(tiny_models_dir: Path) -> None:
    """peft wraps torchao's int8 Linear layers (``TorchaoLoraLinear``): the adapter acts."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    engine = WanEngine(fresh(tiny_models_dir, "int8-lora", quantization="int8"))
    frames = run(engine, request(width=120, height=90, num_frames=16, effect="balloon belly"))
    assert len(frames) == 16 and engine.last_run["loras"] == ["inflate"]
    (model,) = engine.cache.loaded()
    layers = [m for m in model.pipe.transformer.modules() if isinstance(m, BaseTunerLayer)]
    assert layers and type(layers[0]).__name__ == "TorchaoLoraLinear"
    assert engine.last_run["adapters"] == [["inflate"]]


def test_under_gguf_a_folder_without_a_published_conversion_keeps_its_own_transformer(tiny_models_dir: Path) -> None:
    from tests.generation.neural.test_engines import picture

    engine = WanEngine(fresh(tiny_models_dir, "gguf-flf2v", quantization="gguf"))
    frames = run(engine, request(width=120, height=90, num_frames=16, first_frame=picture(1), last_frame=picture(2)))
    assert len(frames) == 16
    (model,) = engine.cache.loaded()
    assert model.folder.name == "Wan2.1-FLF2V-14B-720P-diffusers"
    assert all(type(w) is torch.nn.Parameter for w in linear_weights(model.pipe.transformer))
