"""Speed and memory options, applied as diffusers hooks from settings (STYLE: wrappers, not
flags in model code): once per loaded model (``prepare_model``: attention backend, context
parallelism, VAE tiling, group offloading, ``torch.compile``) and per run (``run_cache``: the
cache hook, configured for that run's steps, model and guidance).

Why per run: a cache hook's state depends on the run. MagCache interpolates its ratios to
the run's step count and its ratios are calibrated per model; pyramid attention broadcast
keeps one state per attention module, shared by the conditional and unconditional passes
of a separately guided run (so it only runs where guidance is one pass); and every cache's
state is reset when the run ends, however it ends (an out-of-memory error mid-loop left a
first-block cache's residuals behind, and the next run at another size failed on them).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cinefuse.generation.neural.parallel import current_group
from cinefuse.settings import Role, Settings

if TYPE_CHECKING:
    import torch

    from cinefuse.generation.neural.budget import Residency
    from cinefuse.generation.neural.loaded import LoadedModel

log = logging.getLogger(__name__)

#: Graphs torch.compile may build per code object before it falls back to eager. Each new
#: combination of LoRA adapters builds one (sizes do not: shapes are dynamic after the first
#: recompile); diffusers' default of 8 is reached by a busy studio.
RECOMPILE_LIMIT = 64


def transformers_of(loaded: LoadedModel) -> list[Any]:
    """The model's denoising transformers (none for the latent upsampler)."""
    components = loaded.pipe.components
    return [t for t in (components.get("transformer"), components.get("transformer_2")) if t is not None]


def fullgraph_allowed(settings: Settings) -> bool:
    """``torch.compile(fullgraph=True)`` fails on the first forward when any cache hook or
    group offloading is on (their hooks call ``torch.compiler.disable``d functions), and
    context parallelism's hooks run collectives between blocks: only a bare transformer
    compiles as one graph."""
    hooked = settings.cache != "none" or settings.offload in ("group", "group_disk", "as_needed")
    return not hooked and settings.context_parallel == 1


def prepare_model(
    settings: Settings, loaded: LoadedModel, device: torch.device, residency: Residency, stream: bool = False
) -> None:
    """Apply the per-model options to a freshly loaded model. Order matters: the attention
    backend and the context-parallel plan before anything wraps the blocks, compiling last.
    ``stream``: its transformers go through the GPU block by block (group offload; the
    cache decides per folder under ``offload=as_needed``)."""
    pipe = loaded.pipe
    for transformer in transformers_of(loaded):
        if settings.attention_backend:
            transformer.set_attention_backend(settings.attention_backend)
    group = current_group()
    if group is not None and transformers_of(loaded):
        # Both experts of a two-expert model (Wan 2.2 A14B) shard the same way: the loop
        # hands the sharded sequence to whichever runs the step.
        loaded.parallel = all([group.apply(transformer) for transformer in transformers_of(loaded)])
    if settings.vae_tiling and getattr(pipe, "vae", None) is not None:
        pipe.vae.enable_tiling()
    if stream:
        for index, transformer in enumerate(transformers_of(loaded)):
            disk = settings.data_dir / "offload" / loaded.folder.name / f"transformer{index or ''}"
            transformer.enable_group_offload(
                onload_device=device,
                offload_type="block_level",
                num_blocks_per_group=1,
                use_stream=device.type == "cuda",  # prefetching the next group needs CUDA streams
                offload_to_disk_path=str(disk) if settings.offload == "group_disk" else None,
            )
            residency.hooked(transformer)
    if settings.compile != "none":
        compile_transformers(settings, loaded)


def compile_transformers(settings: Settings, loaded: LoadedModel) -> None:
    import torch._dynamo
    import torch._logging

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    torch._dynamo.config.accumulated_recompile_limit = max(
        torch._dynamo.config.accumulated_recompile_limit, 4 * RECOMPILE_LIMIT
    )
    # A recompile costs seconds on a GPU; say so in the log rather than silently.
    torch._logging.set_logs(recompiles=True)  # type: ignore[attr-defined]
    fullgraph = fullgraph_allowed(settings)
    for transformer in transformers_of(loaded):
        # dynamic=None: the first graph is specialised, and a size that differs recompiles once
        # with dynamic shapes, which serve every later size (PixVerse has about 40).
        if settings.compile == "blocks":
            transformer.compile_repeated_blocks(fullgraph=fullgraph, backend=settings.compile_backend)
        else:
            transformer.compile(fullgraph=fullgraph, backend=settings.compile_backend)
    log.info("compiled %s (%s, fullgraph=%s, %s)", loaded.folder.name, settings.compile, fullgraph,
             settings.compile_backend)  # fmt: skip


def cache_config(
    settings: Settings, loaded: LoadedModel, role: Role, steps: int, separate_guidance: bool
) -> tuple[Any | None, str | None]:
    """The cache hook config for one run, or None with the reason it is off for this run."""
    import diffusers

    kind = settings.cache
    if kind == "none":
        return None, None
    if loaded.pipe.components.get("transformer_2") is not None:
        return None, (
            f"cache={kind} is off for two-expert models (Wan 2.2 A14B): a cache hook watches one transformer's"
            " steps, and the experts split them at the boundary, each starting on the other's latents"
        )
    if type(loaded.transformer).__name__ == "LTX2VideoTransformer3DModel":
        return None, (
            f"cache={kind} is off for LTX-2: its blocks carry the video and the audio stream together, which the"
            " cache hooks of diffusers 0.42.1 are not verified on"
        )
    if kind == "first_block":
        return diffusers.FirstBlockCacheConfig(threshold=settings.cache_threshold), None
    if kind == "mag":
        ratios = settings.mag_ratios_for(loaded.folder.name, role)
        if ratios is None:
            return None, f"no MagCache ratios for {loaded.folder.name} or role {role} (CINEFUSE_CACHE_MAG_RATIOS)"
        return diffusers.MagCacheConfig(
            mag_ratios=ratios, num_inference_steps=steps, threshold=settings.cache_threshold
        ), None
    if kind == "taylorseer":
        # Lite mode: the blocks are skipped on predicted steps and only the transformer's
        # output (proj_out) keeps Taylor factors. Caching every block's attention and FFN
        # outputs (90 modules in the 5B, both guidance passes) held about 63 GB at 720p.
        return diffusers.TaylorSeerCacheConfig(
            cache_interval=3, disable_cache_before_step=2, max_order=1, use_lite_mode=True,
            taylor_factors_dtype=loaded.transformer.dtype,
        ), None  # fmt: skip
    if separate_guidance:
        return None, (
            "pyramid attention broadcast is off for separately guided runs: its state is one per attention module,"
            " so the unconditional pass would reuse the conditional one"
        )
    return diffusers.PyramidAttentionBroadcastConfig(
        spatial_attention_block_skip_range=2,
        spatial_attention_timestep_skip_range=(100, 950),
        current_timestep_callback=loaded.running_timestep,
    ), None


@contextlib.contextmanager
def run_cache(
    settings: Settings, loaded: LoadedModel, pipe: Any, role: Role, steps: int, separate_guidance: bool
) -> Iterator[str | None]:
    """The cache hook set up for this run around the pipeline call; yields why it is off
    (None when on, or not configured). Its state is reset when the call ends, however."""
    config, off = cache_config(settings, loaded, role, steps, separate_guidance)
    wanted = None if config is None else (type(config).__name__, steps)
    transformer = loaded.transformer
    if wanted != loaded.cache:
        if loaded.cache is not None:
            transformer.disable_cache()
        if config is not None:
            transformer.enable_cache(config)
        loaded.cache = wanted
    loaded.running = pipe
    try:
        yield off
    finally:
        loaded.running = None
        if loaded.cache is not None:
            transformer._reset_stateful_cache()
