"""GPU benchmark of the neural engines at full size, with random weights.

Each engine's model is built once from its published configs (``bench/model_configs.py``:
nothing is downloaded) with parameters created on the meta device and materialised on the
GPU in the production dtypes (transformers and text encoders in bfloat16; the Wan VAEs and
CLIP in float32; LTX's VAE in bfloat16), its real buffers (RoPE tables) kept. The text
encoder is built and stays resident, as in production, so peak memory counts it; its time
encoding one 512-token prompt is measured. Then diffusers' real denoising loop runs at the
production grid, followed by the engines' own streaming decode:

    ti2v   Wan 2.2 TI2V-5B, 1280x704 x 121 (5 s at 24 fps), guidance 5 (two passes a step)
    flf2v  Wan 2.1 FLF2V-14B, 1280x720 x 81 (5 s at 16 fps), first and last frame, CLIP encoder
    vace   Wan 2.1 VACE-14B, 1280x720 x 81, a control video and mask
    ltx    LTX-Video 0.9.8 13B distilled, 1280x736 x 121, guidance 1, its VAE in bfloat16
    a14b   Wan 2.2 A14B (two 14B experts), 1280x720 x 81, guidance 4
    hunyuan HunyuanVideo 1.5 720p text to video, 1280x720 x 121 (5 s at 24 fps), guidance 6, both text
           encoders (Qwen2.5-VL 7B on a 1000-token prompt, the ByT5 glyph encoder), its causal VAE in bfloat16
    ltx2   LTX-2 (19B, video and audio latents together), 1280x736 x 121 in one pass at the full size, its
           full guidance (classifier-free 3, spatio-temporal, modality: several transformer passes a step),
           30 steps, Gemma 3 12B on a 1024-token prompt; the video decode only (the sound's decode is small)
    ltx2-distilled  the distilled LTX-2: its 8 sigmas at guidance 1, one pass a step

LTX-2's production recipe runs stage 1 at half the size (a quarter of the tokens) and 3 steps at the
full size where the folder has its latent upsampler: the one-pass figures are its upper bound. Its
Gemma encoder moves to the host after encoding (``Case.encoder_to_host``): transformer and encoder
together are 64 GiB in bfloat16, more than the budget leaves for denoising on an 80 GB card, and the
budget evicts the encoder there too.

Options (one row each; the model is reused, cache hooks are removed between rows, compiling
runs last): ``baseline``, ``attention`` (cuDNN attention), ``first_block``, ``mag``,
``taylorseer``, ``pab``, ``distill`` (a random rank-64 LoRA on the attention projections,
4 steps at guidance 1: Wan only), ``vae_tiling`` (the decode), ``compile`` (repeated blocks).
Cache rows run the production per-run cache setup (``speed.run_cache``) over ``--cache-steps``
steps and report the mean step; with random weights the data-dependent caches (first block,
MagCache) skip on arbitrary evidence, so those rows say "random weights": they show the hook's
cost and its skipping mechanics, not the speed-up real weights give.

    python bench/gpu_bench.py --engines ti2v                     # about 6 min on one H100
    python bench/gpu_bench.py --engines flf2v,vace --options baseline
    python bench/gpu_bench.py --engines ltx
    python bench/gpu_bench.py --tiny                             # the same code, tiny, on a CPU

Reported per engine and option: seconds per denoising step (median, the first step excluded),
the projected 5 s 720p clip time (encode + published steps x step + decode), peak GPU memory
allocated and reserved (text encoder included), GPU-seconds per clip, and (``--host-ram``) host
RAM over the loaded VAE while a 1080p 5 s clip streams through the decoder into the real
encoder. Prints a table, writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from model_configs import FOLDERS  # noqa: E402

from cinefuse.generation.neural import speed  # noqa: E402
from cinefuse.generation.neural.decode import (  # noqa: E402
    iter_decode_hunyuan,
    iter_decode_ltx,
    iter_decode_wan,
    ltx_prepare_decode,
    prepare_ltx_decode,
    to_frames,
    wan_denormalize,
)
from cinefuse.generation.neural.hunyuan import Recipe, register_block_metadata, run_settings  # noqa: E402
from cinefuse.generation.neural.loaded import LoadedModel  # noqa: E402
from cinefuse.generation.neural.ltx2 import DISTILLED_SIGMAS, SINGLE_PASS, STG_BLOCK  # noqa: E402
from cinefuse.settings import Settings  # noqa: E402

OPTIONS = ("baseline", "attention", "first_block", "mag", "taylorseer", "pab", "distill", "vae_tiling", "compile")
CACHES = ("first_block", "mag", "taylorseer", "pab")
DISTILL_STEPS = 4
LTX_TIMESTEPS = [1000, 993, 987, 981, 975, 909, 725, 0.03]


@dataclass(frozen=True)
class Case:
    """One engine's model at its production grid."""

    folder: str
    pipeline: str
    width: int
    height: int
    frames: int
    steps: int  # the published recipe
    guidance: float
    text_tokens: int
    tiny: dict[str, dict[str, Any]] = field(default_factory=dict)  # config overrides for --tiny
    #: After encoding, the text encoder moves to the host (the budget's eviction, where both do not fit).
    encoder_to_host: bool = False


_WAN_TINY_TRANSFORMER = {
    "num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32, "freq_dim": 32, "ffn_dim": 48,
    "num_layers": 2, "rope_max_seq_len": 64,
}  # fmt: skip
_UMT5_TINY = {"vocab_size": 64, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4,
              "relative_attention_num_buckets": 8, "relative_attention_max_distance": 16}  # fmt: skip
_WAN21_VAE_TINY = {"base_dim": 2, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 0}
CASES: dict[str, Case] = {
    "ti2v": Case(
        "Wan2.2-TI2V-5B-Diffusers", "WanPipeline", 1280, 704, 121, 50, 5.0, 512,
        tiny={"transformer": _WAN_TINY_TRANSFORMER, "text_encoder": _UMT5_TINY,
              "vae": {"base_dim": 2, "decoder_base_dim": 4, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 0}},
    ),
    "flf2v": Case(
        "Wan2.1-FLF2V-14B-720P-diffusers", "WanImageToVideoPipeline", 1280, 720, 81, 50, 5.0, 512,
        tiny={"transformer": {**_WAN_TINY_TRANSFORMER, "image_dim": 16, "added_kv_proj_dim": 24},
              "text_encoder": _UMT5_TINY, "vae": _WAN21_VAE_TINY,
              "image_encoder": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
                                "num_attention_heads": 2, "projection_dim": 16}},
    ),
    "vace": Case(
        "Wan2.1-VACE-14B-diffusers", "WanVACEPipeline", 1280, 720, 81, 50, 5.0, 512,
        tiny={"transformer": {**_WAN_TINY_TRANSFORMER, "num_layers": 3, "vace_layers": [0, 2]},
              "text_encoder": _UMT5_TINY, "vae": _WAN21_VAE_TINY},
    ),
    "ltx": Case(
        "LTX-Video-0.9.8-13B-distilled", "LTXConditionPipeline", 1280, 736, 121, 8, 1.0, 256,
        tiny={"transformer": {"in_channels": 16, "out_channels": 16, "num_attention_heads": 2, "attention_head_dim": 8,
                              "cross_attention_dim": 16, "num_layers": 2, "caption_channels": 32},
              "text_encoder": {**_UMT5_TINY, "d_model": 32},
              "vae": {"latent_channels": 16, "block_out_channels": [4, 8, 16, 32, 64],
                      "decoder_block_out_channels": [8, 16, 32], "layers_per_block": [1, 1, 1, 1, 1],
                      "decoder_layers_per_block": [1, 1, 1, 1]}},
    ),
    # Wan 2.2 A14B: two 14B experts, the high-noise one to the boundary (0.875), the low-noise one after it; the
    # step time is one expert's (the same shape), the peak holds both (as on an 80 GiB card).
    "a14b": Case(
        "Wan2.2-T2V-A14B-Diffusers", "WanPipeline", 1280, 720, 81, 40, 4.0, 512,
        tiny={"transformer": _WAN_TINY_TRANSFORMER, "transformer_2": _WAN_TINY_TRANSFORMER,
              "text_encoder": _UMT5_TINY, "vae": _WAN21_VAE_TINY},
    ),
    # HunyuanVideo 1.5 720p: 50 steps at guidance 6 (two passes a step), shift 9 (the folder's scheduler).
    "hunyuan": Case(
        "HunyuanVideo-1.5-Diffusers-720p_t2v", "HunyuanVideo15Pipeline", 1280, 720, 121, 50, 6.0, 1000,
        tiny={"transformer": {"in_channels": 9, "out_channels": 4, "num_attention_heads": 2, "attention_head_dim": 8,
                              "num_layers": 2, "num_refiner_layers": 1, "mlp_ratio": 2.0, "text_embed_dim": 16,
                              "text_embed_2_dim": 16, "image_embed_dim": 16, "rope_axes_dim": [2, 2, 4]},
              "vae": {"latent_channels": 4, "block_out_channels": [2, 4, 8, 8, 8], "layers_per_block": 0},
              "text_encoder": {"vocab_size": 300, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 3,
                               "num_attention_heads": 2, "num_key_value_heads": 1,
                               "rope_scaling": {"type": "mrope", "rope_type": "default", "mrope_section": [1, 1, 2]}},
              "text_encoder_2": {"vocab_size": 384, "d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 2,
                                 "num_heads": 2}},
    ),
}  # fmt: skip
_LTX2_TINY: dict[str, dict[str, Any]] = {
    "transformer": {"in_channels": 8, "out_channels": 8, "num_attention_heads": 2, "attention_head_dim": 8,
                    "cross_attention_dim": 16, "audio_in_channels": 4, "audio_out_channels": 4,
                    "audio_num_attention_heads": 2, "audio_attention_head_dim": 4, "audio_cross_attention_dim": 8,
                    "num_layers": 2, "caption_channels": 16},
    "connectors": {"caption_channels": 16, "text_proj_in_factor": 3, "video_connector_num_attention_heads": 4,
                   "video_connector_attention_head_dim": 4, "video_connector_num_layers": 1,
                   "video_connector_num_learnable_registers": None, "audio_connector_num_attention_heads": 4,
                   "audio_connector_attention_head_dim": 4, "audio_connector_num_layers": 1,
                   "audio_connector_num_learnable_registers": None, "connector_rope_base_seq_len": 32},
    "vae": {"latent_channels": 8, "block_out_channels": [4, 8, 16, 32], "decoder_block_out_channels": [8, 16, 32],
            "layers_per_block": [1, 1, 1, 1, 1], "decoder_layers_per_block": [1, 1, 1, 1]},
    "audio_vae": {"base_channels": 4, "ch_mult": [1], "num_res_blocks": 1, "resolution": 32, "latent_channels": 2,
                  "sample_rate": 1600, "mel_hop_length": 16, "mel_bins": 8},
    "vocoder": {"in_channels": 16, "hidden_channels": 32, "upsample_kernel_sizes": [8, 8], "upsample_factors": [4, 4],
                "resnet_kernel_sizes": [3], "resnet_dilations": [[1, 3, 5]], "output_sampling_rate": 1600},
    "text_encoder": {"text_config": {"vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
                                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                                     "head_dim": 8, "max_position_embeddings": 2048, "sliding_window": 64},
                     "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                       "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
                     "mm_tokens_per_image": 4, "image_token_index": 63, "boi_token_index": 62, "eoi_token_index": 61},
}  # fmt: skip
CASES.update({
    # LTX-2: one pass at the full size (the module docstring), its full guidance, 30 steps.
    "ltx2": Case("LTX-2", "LTX2Pipeline", 1280, 736, 121, 30, 3.0, 1024, tiny=_LTX2_TINY, encoder_to_host=True),
    # The distilled LTX-2: its 8 published sigmas at guidance 1.
    "ltx2-distilled": Case(
        "LTX-2-19b-distilled", "LTX2Pipeline", 1280, 736, 121, 8, 1.0, 1024, tiny=_LTX2_TINY, encoder_to_host=True
    ),
})  # fmt: skip
TINY_GRID = {
    "ti2v": (128, 96, 17), "flf2v": (64, 48, 9), "vace": (64, 48, 9), "ltx": (128, 96, 17), "a14b": (64, 48, 9),
    "hunyuan": (64, 48, 9), "ltx2": (64, 64, 9), "ltx2-distilled": (64, 64, 9),
}  # fmt: skip
#: HunyuanVideo 1.5's prompt: the pipeline pads Qwen2.5-VL's to 1000 tokens after a 108-token system
#: prompt it crops off, and ByT5's to 256.
HUNYUAN_TEXT_CROP, HUNYUAN_TEXT_2_TOKENS = 108, 256


@dataclass
class Row:
    engine: str
    option: str
    width: int
    height: int
    frames: int
    steps_run: int
    step_seconds: float
    encode_seconds: float
    decode_seconds: float
    projected_clip_seconds: float
    peak_gpu_gib: float
    peak_reserved_gib: float
    gpu_seconds_per_clip: float
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ build


def device_and_dtype(tiny: bool) -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available() and not tiny:
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def materialise(model: torch.nn.Module, device: torch.device, dtype: torch.dtype, fp32: tuple[str, ...] = ()) -> Any:
    """Parameters created on the meta device, made real on ``device``: random normal(0, 0.02)
    matrices, unit norm weights, zero biases; ``fp32`` modules (the class's
    ``_keep_in_fp32_modules``) in float32. Buffers were built for real (RoPE tables) and move."""
    for module_name, module in model.named_modules():
        keep = any(part in module_name.split(".") for part in fp32)
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            tensor = torch.empty(param.shape, device=device, dtype=torch.float32 if keep else dtype)
            if tensor.ndim >= 2:
                tensor.normal_(0.0, 0.02)
            elif name == "weight":
                tensor.fill_(1.0)
            else:
                tensor.zero_()
            module._parameters[name] = torch.nn.Parameter(tensor, requires_grad=False)
        for name, buffer in list(module._buffers.items()):
            if buffer is not None:
                module._buffers[name] = buffer.to(device)
    return model.eval()


def build_component(kind: str, config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    """A component of class ``kind`` from its published config, materialised (``materialise``)."""
    import diffusers
    import transformers
    from accelerate import init_empty_weights

    if kind == "LTXLatentUpsamplerModel":
        from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel as cls
    elif kind == "LTX2TextConnectors":
        from diffusers.pipelines.ltx2 import LTX2TextConnectors as cls
    elif kind == "LTX2Vocoder":
        from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder as cls
    else:
        cls = getattr(diffusers, kind, None) or getattr(transformers, kind)
    with init_empty_weights(include_buffers=False):
        if issubclass(cls, transformers.PreTrainedModel):
            model = cls(cls.config_class(**config))
        else:
            model = cls.from_config(config)
    model = materialise(model, device, dtype, tuple(getattr(cls, "_keep_in_fp32_modules", None) or ()))
    if kind.startswith("Gemma3"):
        model.tie_weights()  # the published Gemma ties its head to the embeddings: one copy, as loaded
    return model


def build_pipeline(case: Case, tiny: bool, device: torch.device, dtype: torch.dtype) -> Any:
    """The engine's pipeline with every component the production one holds (text encoder,
    image encoder) resident on ``device``, in the production dtypes."""
    import diffusers
    import transformers

    from cinefuse.generation.neural.pipelines import load_dtypes

    folder = FOLDERS[case.folder]
    dtypes = load_dtypes(case.pipeline, dtype)
    parts: dict[str, Any] = {}
    for name, entry in folder.components.items():
        if entry is None:
            parts[name] = None
            continue
        _, kind = entry
        config = {**folder.configs.get(name, {}), **(case.tiny.get(name, {}) if tiny else {})}
        if name in ("scheduler", "guider"):
            parts[name] = getattr(diffusers, kind).from_config(config)
        elif name == "image_processor":
            parts[name] = transformers.CLIPImageProcessor(**config)
        elif name.startswith("tokenizer"):
            parts[name] = None  # the bench feeds the pipeline embeddings, never text
        else:
            parts[name] = build_component(kind, config, device, dtypes.get(name, dtypes["default"]))
    if case.pipeline == "LTXConditionPipeline":  # as the engine: explicit timesteps need an unshifted schedule
        parts["scheduler"] = type(parts["scheduler"]).from_config(
            parts["scheduler"].config, use_dynamic_shifting=False, shift=1.0, shift_terminal=None
        )
    if case.pipeline.startswith("HunyuanVideo15"):
        register_block_metadata()  # as the engine: the cache hooks find its blocks' outputs
    cls = getattr(diffusers, case.pipeline)
    pipe = cls(**{k: v for k, v in parts.items() if k in cls._get_signature_keys(cls)[0]}, **folder.pipeline_config)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ------------------------------------------------------------------------------------------ run


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def encode(case: Case, pipe: Any, device: torch.device) -> tuple[dict[str, Any], float]:
    """The production encode stage on random token ids of the prompt length (a prompt and a
    negative prompt): (embeddings for the pipeline call, seconds)."""
    if case.pipeline.startswith("HunyuanVideo15"):
        return encode_hunyuan(case, pipe, device)
    if case.pipeline.startswith("LTX2"):
        return encode_ltx2(case, pipe, device)
    encoder = pipe.text_encoder
    vocab = encoder.config.vocab_size
    ids = torch.randint(3, vocab, (2, case.text_tokens), device=device)  # prompt and negative prompt
    mask = torch.ones_like(ids)
    synchronize(device)
    started = time.perf_counter()
    with torch.inference_mode():
        hidden = encoder(ids, attention_mask=mask).last_hidden_state.to(pipe.transformer.dtype)
    synchronize(device)
    seconds = time.perf_counter() - started
    if case.pipeline.startswith("Wan"):
        return {"prompt_embeds": hidden[:1], "negative_prompt_embeds": hidden[1:]}, seconds
    return {"prompt_embeds": hidden[:1], "prompt_attention_mask": mask[:1]}, seconds


def encode_hunyuan(case: Case, pipe: Any, device: torch.device) -> tuple[dict[str, Any], float]:
    """HunyuanVideo 1.5's encode stage on random ids of its prompt lengths (a prompt and a negative
    prompt): Qwen2.5-VL's third hidden state from the end past the system prompt, and ByT5's (as
    for a prompt with quoted text, the glyph encoder's worst case)."""
    tokens = HUNYUAN_TEXT_CROP + case.text_tokens
    ids = torch.randint(3, pipe.text_encoder.config.vocab_size, (2, tokens), device=device)
    ids_2 = torch.randint(3, pipe.text_encoder_2.config.vocab_size, (2, HUNYUAN_TEXT_2_TOKENS), device=device)
    mask, mask_2 = torch.ones_like(ids), torch.ones_like(ids_2)
    synchronize(device)
    started = time.perf_counter()
    with torch.inference_mode():
        states = pipe.text_encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        hidden = states[-3][:, HUNYUAN_TEXT_CROP:].to(pipe.transformer.dtype)
        hidden_2 = pipe.text_encoder_2(input_ids=ids_2, attention_mask=mask_2.float())[0].to(pipe.transformer.dtype)
    synchronize(device)
    seconds = time.perf_counter() - started
    mask = mask[:, HUNYUAN_TEXT_CROP:]
    embeds = {"prompt_embeds": hidden[:1], "prompt_embeds_mask": mask[:1],
              "prompt_embeds_2": hidden_2[:1], "prompt_embeds_mask_2": mask_2[:1],
              "negative_prompt_embeds": hidden[1:], "negative_prompt_embeds_mask": mask[1:],
              "negative_prompt_embeds_2": hidden_2[1:], "negative_prompt_embeds_mask_2": mask_2[1:]}  # fmt: skip
    return embeds, seconds


def encode_ltx2(case: Case, pipe: Any, device: torch.device) -> tuple[dict[str, Any], float]:
    """LTX-2's encode stage on random ids of the pipeline's prompt length (a prompt and a negative
    prompt): every Gemma hidden state, stacked and packed as ``encode_prompt`` packs them (the
    connectors run inside the pipeline call, as in production)."""
    ids = torch.randint(3, pipe.text_encoder.config.text_config.vocab_size - 8, (2, case.text_tokens), device=device)
    mask = torch.ones_like(ids)
    synchronize(device)
    started = time.perf_counter()
    with torch.inference_mode():
        states = pipe.text_encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        packed = torch.stack(states, dim=-1).flatten(2, 3).to(pipe.transformer.dtype)
    synchronize(device)
    seconds = time.perf_counter() - started
    embeds = {"prompt_embeds": packed[:1], "prompt_attention_mask": mask[:1]}
    if case.guidance > 1.0:
        embeds.update(negative_prompt_embeds=packed[1:], negative_prompt_attention_mask=mask[1:])
    return embeds, seconds


def inputs(case: Case, width: int, height: int, frames: int, device: torch.device) -> dict[str, Any]:
    """The role's conditioning: first and last frame images (FLF2V), a control video and mask
    (VACE)."""
    from PIL import Image

    if case.pipeline == "WanImageToVideoPipeline":
        return {"image": Image.new("RGB", (width, height), (90, 120, 150)),
                "last_image": Image.new("RGB", (width, height), (150, 120, 90))}  # fmt: skip
    if case.pipeline == "WanVACEPipeline":
        gray = Image.new("RGB", (width, height), (127, 127, 127))
        keep, free = Image.new("L", (width, height), 0), Image.new("L", (width, height), 255)
        return {"video": [gray] * frames, "mask": [keep] + [free] * (frames - 1), "conditioning_scale": 1.0}
    return {}


def denoise(
    case: Case, pipe: Any, embeds: dict[str, Any], steps: int, guidance: float, grid: tuple[int, int, int],
    device: torch.device,
) -> tuple[Any, list[float]]:  # fmt: skip
    """The pipeline call for ``steps`` steps: (latents, per-step seconds)."""
    marks: list[float] = []

    def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        synchronize(device)
        marks.append(time.perf_counter())
        return {}

    width, height, frames = grid
    if case.pipeline.startswith("HunyuanVideo15"):  # no step callback nor guidance argument: the engine's seam
        recipe = Recipe(steps, guidance, float(pipe.scheduler.config.shift), "bench")
        started = time.perf_counter()
        with run_settings(pipe, recipe, on_step, None):
            output = pipe(
                height=height, width=width, num_frames=frames, num_inference_steps=steps,
                generator=torch.Generator(device=device).manual_seed(0), output_type="latent", **embeds,
            )  # fmt: skip
        gaps = [b - a for a, b in zip([started, *marks], marks, strict=False)]
        return output.frames, gaps
    schedule: dict[str, Any] = {"num_inference_steps": steps}
    if case.pipeline == "LTXConditionPipeline":
        schedule = {"timesteps": LTX_TIMESTEPS[:steps]} if steps <= len(LTX_TIMESTEPS) else schedule
        schedule["frame_rate"] = 24
    if case.pipeline.startswith("LTX2"):  # the engine's recipes (generation/neural/ltx2.py)
        schedule["frame_rate"] = 24.0
        if guidance > 1.0:
            schedule["spatio_temporal_guidance_blocks"] = [min(STG_BLOCK, pipe.transformer.config.num_layers - 1)]
        else:
            schedule.update({k: v for k, v in SINGLE_PASS.items() if k != "guidance_scale"})
            if steps == len(DISTILLED_SIGMAS):
                schedule["sigmas"] = DISTILLED_SIGMAS
    started = time.perf_counter()
    output = pipe(
        height=height, width=width, num_frames=frames, guidance_scale=guidance,
        generator=torch.Generator(device=device).manual_seed(0), output_type="latent",
        callback_on_step_end=on_step, **embeds, **schedule, **inputs(case, width, height, frames, device),
    )  # fmt: skip
    gaps = [b - a for a, b in zip([started, *marks], marks, strict=False)]
    return output.frames, gaps


def decode(case: Case, pipe: Any, latents: Any, device: torch.device) -> tuple[int, float]:
    """The engines' streaming decode, into uint8 frames: (frames, seconds)."""
    vae = pipe.vae
    synchronize(device)
    started = time.perf_counter()
    count = 0
    with torch.inference_mode():
        if case.pipeline.startswith("Wan"):
            for chunk in iter_decode_wan(vae, wan_denormalize(vae, latents.to(vae.dtype))):
                count += sum(1 for _ in to_frames(chunk))
        elif case.pipeline.startswith("HunyuanVideo15"):
            for chunk in iter_decode_hunyuan(vae, latents.to(vae.dtype) / vae.config.scaling_factor):
                count += sum(1 for _ in to_frames(chunk))
        elif case.pipeline.startswith("LTX2"):  # denormalized by the pipeline; no timestep conditioning
            prepare_ltx_decode(vae)
            for chunk in iter_decode_ltx(vae, latents.to(vae.dtype), None):
                count += sum(1 for _ in to_frames(chunk))
        else:
            prepare_ltx_decode(vae)
            z, temb = ltx_prepare_decode(vae, latents, 0.05, 0.025, torch.Generator(device=device).manual_seed(0))
            for chunk in iter_decode_ltx(vae, z, temb):
                count += sum(1 for _ in to_frames(chunk))
    synchronize(device)
    return count, time.perf_counter() - started


def add_random_lora(pipe: Any, rank: int) -> None:
    """A step-distillation LoRA's cost: a random rank-``rank`` adapter on the attention
    projections of every block (peft), active."""
    from peft import LoraConfig

    pipe.transformer.add_adapter(
        LoraConfig(
            r=rank, lora_alpha=rank, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"]
        )
    )
    pipe.transformer.to(pipe.transformer.device)


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, float]]:
    stats: dict[str, float] = {"allocated": 0.0, "reserved": 0.0}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    yield stats
    if device.type == "cuda":
        stats["allocated"] = torch.cuda.max_memory_allocated() / 1024**3
        stats["reserved"] = torch.cuda.max_memory_reserved() / 1024**3


def run_engine(name: str, options: list[str], args: argparse.Namespace) -> list[Row]:
    """Every option on one build of engine ``name``; a failing option is a row saying why."""
    case = CASES[name]
    device, dtype = device_and_dtype(args.tiny)
    grid = TINY_GRID[name] if args.tiny else (case.width, case.height, case.frames)
    started = time.perf_counter()
    pipe = build_pipeline(case, args.tiny, device, dtype)
    built = time.perf_counter() - started
    role = {
        "WanPipeline": "text", "WanImageToVideoPipeline": "first_last", "WanVACEPipeline": "references",
        "HunyuanVideo15Pipeline": "hunyuan_text",
        "LTX2Pipeline": "ltx2" if case.guidance > 1.0 else "ltx2_distilled",
    }.get(case.pipeline, "fast")  # fmt: skip
    loaded = LoadedModel(Path(case.folder), pipe)
    embeds, encode_seconds = encode(case, pipe, device)
    if case.encoder_to_host:
        pipe.text_encoder.to("cpu")
        if device.type == "cuda":
            torch.cuda.empty_cache()
    rows: list[Row] = []
    baseline: dict[str, Any] = {}
    ordered = [o for o in OPTIONS if o in options and o != "compile"] + (["compile"] if "compile" in options else [])
    for option in ordered:
        try:
            rows.append(run_option(case, name, option, pipe, loaded, role, embeds, encode_seconds, grid, device, args,
                                   baseline or None, baseline))  # fmt: skip
        except Exception as exc:  # an option this device cannot run: report it, keep going
            rows.append(Row(name, option, *grid, 0, 0.0, encode_seconds, 0.0, 0.0, 0.0, 0.0, 0.0,
                            [f"failed: {type(exc).__name__}: {str(exc)[:300]}"]))  # fmt: skip
        finally:
            if loaded.cache is not None:
                pipe.transformer.disable_cache()
                loaded.cache = None
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    for row in rows:
        row.notes.append(f"model built in {built:.0f} s")
    del pipe, loaded, embeds, baseline
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def run_option(
    case: Case, name: str, option: str, pipe: Any, loaded: LoadedModel, role: Any, embeds: dict[str, Any],
    encode_seconds: float, grid: tuple[int, int, int], device: torch.device, args: argparse.Namespace,
    baseline: dict[str, Any] | None, baseline_out: dict[str, Any],
) -> Row:  # fmt: skip
    """One row: ``baseline`` holds the baseline row's latents, step gaps and decode (None
    until it ran); the baseline row fills ``baseline_out``."""
    notes: list[str] = []
    steps, guidance, published = args.steps, case.guidance, case.steps
    settings = Settings(cache=option if option in CACHES else "none", compile_backend=args.compile_backend,
                        cache_mag_ratios={case.folder: [1.0] * 8} if option == "mag" else None)  # fmt: skip
    if option in CACHES:
        steps = args.cache_steps
        notes.append(f"mean over {steps - 1} steps of a run of {steps}")
        if option in ("first_block", "mag"):
            notes.append("random weights: skips decided on arbitrary evidence")
    if option == "attention":
        backend = "_native_cudnn" if device.type == "cuda" else "_native_math"
        for transformer in speed.transformers_of(loaded):
            transformer.set_attention_backend(backend)
        notes.append(f"attention backend {backend}")
    if option in ("distill", "pab") and not case.pipeline.startswith("LTX"):
        guidance = 1.0  # a distilled recipe (and PAB runs only where guidance is one pass)
        if option == "distill":
            add_random_lora(pipe, 64)
            steps = published = DISTILL_STEPS
            notes.append("random rank-64 LoRA, 4 steps at guidance 1")
        else:
            notes.append("guidance 1 (PAB is off for separately guided runs)")
    if option == "distill" and case.pipeline.startswith("LTX"):
        raise ValueError("LTX runs its own distilled recipes (LTX-Video distilled, the distilled LTX-2 folder)")
    if option == "vae_tiling":
        pipe.vae.enable_tiling()
    if option == "compile":
        speed.compile_transformers(Settings(compile="blocks", compile_backend=args.compile_backend), loaded)
        notes.append(f"compiled ({args.compile_backend}); first step excluded")
    with peak_memory(device) as peak:
        if option == "vae_tiling" and baseline is not None:  # the baseline's latents, decoded tiled
            latents, gaps = baseline["latents"], baseline["gaps"]
            notes.append("steps: the baseline's")
        else:
            with speed.run_cache(settings, loaded, pipe, role, steps, separate_guidance=guidance > 1) as off:
                if off:
                    notes.append(off)
                latents, gaps = denoise(case, pipe, embeds, steps, guidance, grid, device)
        if option in ("baseline", "vae_tiling") or baseline is None:
            frames, decode_seconds = decode(case, pipe, latents, device)
        else:
            frames, decode_seconds = baseline["frames"], baseline["decode_seconds"]
            notes.append("decode: the baseline's")
    if option == "baseline":
        baseline_out.update(latents=latents, gaps=gaps, frames=frames, decode_seconds=decode_seconds)
    if option == "attention":
        for transformer in speed.transformers_of(loaded):
            transformer.set_attention_backend("native")
    if option == "vae_tiling":
        pipe.vae.disable_tiling()
    if option == "distill":
        pipe.transformer.delete_adapters(pipe.transformer.active_adapters())
    measured = gaps[1:] if len(gaps) > 1 else gaps
    step_seconds = (statistics.mean if option in CACHES else statistics.median)(measured) if measured else 0.0
    projected = encode_seconds + published * step_seconds + decode_seconds
    notes.insert(0, f"decoded {frames} frames")
    notes.append(f"guidance {guidance:g}, {published} steps projected")
    return Row(name, option, *grid, len(gaps), step_seconds, encode_seconds, decode_seconds, projected,
               peak["allocated"], peak["reserved"], projected, notes)  # fmt: skip


# ------------------------------------------------------------------------------------------ host RAM


def host_ram_while_decoding(args: argparse.Namespace) -> dict[str, float]:
    """Host RAM (RSS) over the loaded VAE while a 1080p 5 s Wan 2.2 clip (121 frames at 24
    fps) streams through the decoder into the real MP4 encoder."""
    from cinefuse.media.video import encode_frames

    device, _ = device_and_dtype(args.tiny)
    case = CASES["ti2v"]
    config = {**FOLDERS[case.folder].configs["vae"], **(case.tiny["vae"] if args.tiny else {})}
    width, height, frames = (256, 144, 17) if args.tiny else (1920, 1088, 121)
    vae = build_component("AutoencoderKLWan", config, device, torch.float32)
    latents = torch.randn(1, 48, (frames - 1) // 4 + 1, height // 16, width // 16, device=device)
    gc.collect()
    baseline = rss_mib()
    peak = baseline

    def frames_out() -> Any:
        nonlocal peak
        with torch.inference_mode():
            for chunk in iter_decode_wan(vae, wan_denormalize(vae, latents)):
                for frame in to_frames(chunk):
                    peak = max(peak, rss_mib())
                    yield frame[:height, :width]

    with tempfile.TemporaryDirectory() as tmp:
        encode_frames(frames_out(), Path(tmp) / "clip.mp4", fmt="MP4", width=width, height=height, fps=24, quality=80)
    return {"baseline_rss_mib": baseline, "peak_rss_mib": peak, "over_weights_mib": peak - baseline}


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU (the test suite runs this)")
    parser.add_argument("--engines", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--options", default=",".join(o for o in OPTIONS if o != "compile"),
                        help=f"comma-separated, from {', '.join(OPTIONS)}")  # fmt: skip
    parser.add_argument("--steps", type=int, default=None, help="steps of a baseline row (default 4; tiny 2)")
    parser.add_argument("--cache-steps", type=int, default=None, help="steps of a cache row (default 8; tiny 4)")
    parser.add_argument("--compile-backend", default="inductor")
    parser.add_argument("--host-ram", action="store_true", help="also measure host RAM while decoding 1080p")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "gpu_bench.json")
    args = parser.parse_args(argv)
    args.steps = args.steps or (2 if args.tiny else 4)
    args.cache_steps = args.cache_steps or (4 if args.tiny else 8)
    device, dtype = device_and_dtype(args.tiny)
    options = args.options.split(",")
    rows: list[Row] = []
    for name in args.engines.split(","):
        ltx, ltx2 = CASES[name].pipeline.startswith("LTX"), CASES[name].pipeline.startswith("LTX2")
        # LTX runs its own distilled recipes; the step caches are off for LTX-2 (docs/engines.md).
        wanted = [o for o in options if not (o == "distill" and ltx) and not (o in CACHES and ltx2)]
        rows.extend(run_engine(name, wanted, args))
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "dtype": str(dtype),
        "tiny": args.tiny,
        "random_weights": True,
        "rows": [asdict(row) for row in rows],
    }
    if args.host_ram:
        report["host_ram_1080p_decode"] = host_ram_while_decoding(args)
    print(f"device {report['device']} ({report['dtype']}){' TINY configs' if args.tiny else ''}; random weights")
    header = (f"{'engine':14} {'option':12} {'size':>15} {'s/step':>8} {'encode s':>8} {'decode s':>9} {'clip s':>8}"
              f" {'peak GiB':>9} {'resv GiB':>9}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for row in rows:
        size = f"{row.width}x{row.height}x{row.frames}"
        print(f"{row.engine:14} {row.option:12} {size:>15} {row.step_seconds:8.3f} {row.encode_seconds:8.2f} "
              f"{row.decode_seconds:9.2f} {row.projected_clip_seconds:8.2f} {row.peak_gpu_gib:9.2f} "
              f"{row.peak_reserved_gib:9.2f}  {'; '.join(row.notes)}")  # fmt: skip
    if "host_ram_1080p_decode" in report:
        ram = report["host_ram_1080p_decode"]
        print(f"host RAM while decoding 1080p: {ram['over_weights_mib']:.0f} MiB over the loaded VAE")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(not row.notes or not row.notes[0].startswith("failed") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
