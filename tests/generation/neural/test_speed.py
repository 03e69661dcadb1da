"""Speed options on the tiny real pipelines (``speed.py``): compiling with each cache hook,
cache hooks configured per run (MagCache's steps, pyramid attention broadcast only where
guidance is one pass), cache state reset after a failed run, TaylorSeer's bounded state."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from tests.generation.neural.test_engines import picture, request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.neural.ltx import LtxEngine
from cinefuse.generation.neural.speed import RECOMPILE_LIMIT, fullgraph_allowed
from cinefuse.generation.neural.wan import WanEngine

#: Dynamo's tracing (where fullgraph fails) does not depend on the backend; ``eager`` skips
#: inductor's code generation, which takes minutes on two CPU cores.
EAGER = {"compile_backend": "eager"}


def hooked(module: Any, hook: str) -> list[str]:
    """Names of the submodules of ``module`` carrying the diffusers hook ``hook``."""
    names = []
    for name, sub in module.named_modules():
        registry = getattr(sub, "_diffusers_hook", None)
        if registry is not None and registry.get_hook(hook) is not None:
            names.append(name)
    return names


@pytest.mark.parametrize(
    "cache",
    [
        {"cache": "first_block", "cache_threshold": 0.2},
        {"cache": "mag", "cache_mag_ratios": {"text": [1.0, 0.95, 0.9]}},
        {"cache": "taylorseer"},
        {"cache": "pab", "distill_lora": None},
    ],
    ids=lambda c: c["cache"],
)
def test_compiling_the_blocks_works_with_each_cache_hook(tiny_models_dir: Path, cache: dict[str, Any]) -> None:
    """The review's finding 3: with fullgraph=True every cache hook's torch.compiler.disable
    functions failed the first forward (``Unsupported: Skip calling torch.compiler.disable()d``)."""
    torch._dynamo.reset()
    settings = settings_for(tiny_models_dir, compile="blocks", **EAGER, **cache)
    assert not fullgraph_allowed(settings)
    engine = WanEngine(settings)
    frames = run(engine, request(width=64, height=64, num_frames=5))
    assert len(frames) == 5 and frames[0].shape == (64, 64, 3)


def test_a_bare_transformer_still_compiles_as_one_graph(tiny_models_dir: Path) -> None:
    torch._dynamo.reset()
    settings = settings_for(tiny_models_dir, compile="blocks", **EAGER)
    assert fullgraph_allowed(settings)
    frames = run(WanEngine(settings), request(width=64, height=64, num_frames=5))
    assert len(frames) == 5


def test_compiled_blocks_serve_new_sizes_without_falling_back_to_eager(tiny_models_dir: Path) -> None:
    """The review's finding 16: ``dynamic=False`` compiled every size anew and, past 8 graphs,
    silently ran eager. Sizes now share a dynamic graph after the first recompile."""
    torch._dynamo.reset()
    from torch._dynamo.utils import counters

    counters.clear()
    engine = WanEngine(settings_for(tiny_models_dir, compile="blocks", **EAGER))
    for width, height in ((64, 64), (96, 64), (128, 96), (160, 96), (64, 128)):
        assert len(run(engine, request(width=width, height=height, num_frames=5))) == 5
    assert torch._dynamo.config.recompile_limit >= RECOMPILE_LIMIT
    assert counters["stats"]["unique_graphs"] <= 4  # a static graph, then one dynamic one (per block code)
    assert not any("recompile_limit" in key for key in counters["unimplemented"])


def test_magcache_is_configured_for_the_run_s_steps_and_its_model_s_ratios(tiny_models_dir: Path) -> None:
    """The review's finding 10: the config defaulted to 28 steps, so a 50-step run reused the
    high-noise ratios for its last 22 steps, and one ratio list served every model."""
    ratios = {"Wan2.2-TI2V-5B-Diffusers": [1.0, 0.99, 0.97, 0.95, 0.9]}
    engine = WanEngine(settings_for(tiny_models_dir, cache="mag", cache_mag_ratios=ratios))
    run(engine, request())
    model = next(m for m in engine.cache.loaded() if m.folder.name == "Wan2.2-TI2V-5B-Diffusers")
    config = model.transformer._cache_config
    assert config.num_inference_steps == 2 and len(config.mag_ratios) == 2
    engine.settings.steps["text"] = 3  # the next run with another step count reconfigures
    try:
        run(engine, request(seed=8))
    finally:
        engine.settings.steps["text"] = 2
    assert model.transformer._cache_config.num_inference_steps == 3
    # A model without ratios of its own runs without MagCache, and says why.
    run(engine, request(reference_images=(picture(3),)))
    assert "no MagCache ratios for Wan2.1-VACE-1.3B-diffusers" in engine.last_run["cache_off"]


def test_pyramid_attention_broadcast_runs_only_where_guidance_is_one_pass(tiny_models_dir: Path) -> None:
    """The review's finding 11: PAB keeps one state per attention module, so with separate
    conditional and unconditional passes the second reused the first's attention."""
    engine = WanEngine(settings_for(tiny_models_dir, cache="pab"))
    run(engine, request())  # Wan at guidance 5: two passes a step
    model = engine.cache.loaded()[0]
    assert "separately guided" in engine.last_run["cache_off"]
    assert hooked(model.transformer, "pyramid_attention_broadcast") == []
    ltx = LtxEngine(settings_for(tiny_models_dir, cache="pab"))
    run(ltx, request(width=160, height=90))  # LTX distilled: guidance 1, one pass
    fast = next(m for m in ltx.cache.loaded() if m.folder.name.startswith("LTX"))
    assert hooked(fast.transformer, "pyramid_attention_broadcast")


def test_a_failed_run_leaves_no_cache_state_for_the_next(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's finding 12: state was only reset at the end of a successful call; after
    an out-of-memory error mid-loop the next run at another size failed on the stale
    residual's shape."""
    engine = WanEngine(settings_for(tiny_models_dir, cache="first_block", cache_threshold=0.5))
    model = engine.cache.load(engine.weights("text"))
    transformer = model.transformer
    forward = transformer.forward
    calls = {"n": 0}

    def failing_on_the_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return forward(*args, **kwargs)

    monkeypatch.setattr(transformer, "forward", failing_on_the_third)
    with pytest.raises(InferenceError, match="Out of GPU memory while generating"):
        run(engine, request(width=120, height=90))
    monkeypatch.setattr(transformer, "forward", forward)
    frames = run(engine, request(width=64, height=64, num_frames=5))  # another size: a stale residual would not fit
    assert len(frames) == 5


def test_taylorseer_keeps_factors_for_the_transformer_output_only(tiny_models_dir: Path) -> None:
    """The review's findings 4 and 19: factors for every block's attention and FFN outputs
    (both guidance passes) held about 63 GB at 720p on the 5B, and LTX's blocks were not
    matched at all. Lite mode: blocks are skipped on predicted steps, only ``proj_out``
    keeps factors, on Wan and LTX alike."""
    for engine, req in (
        (WanEngine(settings_for(tiny_models_dir, cache="taylorseer")), request()),
        (LtxEngine(settings_for(tiny_models_dir, cache="taylorseer")), replace(request(), width=160, height=90)),
    ):
        run(engine, req)
        model = engine.cache.loaded()[-1]
        names = hooked(model.transformer, "taylorseer_cache")
        blocks = [n for n in names if n != "proj_out"]
        assert "proj_out" in names and blocks and all(n.count(".") == 1 for n in blocks), names
