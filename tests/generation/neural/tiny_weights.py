"""Tiny, randomly initialised weights folders of the real diffusers/transformers classes.

``build_tiny_models(root)`` writes, with ``save_pretrained``, the folders the neural engines
look for under ``CINEFUSE_MODELS_DIR``, named as their publishers name them, plus LoRAs:

    Wan2.2-TI2V-5B-Diffusers            WanPipeline (expand_timesteps), Wan 2.2 VAE (z 48, 16x)
    Wan2.1-FLF2V-14B-720P-diffusers     WanImageToVideoPipeline + CLIPVisionModel + CLIPImageProcessor
    Wan2.1-VACE-1.3B-diffusers          WanVACEPipeline (WanVACETransformer3DModel)
    LTX-Video-0.9.7-distilled           LTXConditionPipeline (0.9.7 VAE, timestep-conditioned decoder)
    loras/inflate/                      a LoRA for the tiny Wan transformers + lora.json (trigger words)

The structure mirrors the published configs; only widths and depths shrink (the VAEs' decoders
are as narrow as their classes allow: decoding every frame at full size is what costs time on
a CPU). Every module is ``.eval()``; everything is seeded, so builds are identical. The
tokenizer is a ``tokenizers`` WordLevel model with a fixed vocabulary, saved under the names
published folders use (``PreTrainedTokenizerFast``, ``CLIPImageProcessor``); transformers 5
would write ``TokenizersBackend`` / ``CLIPImageProcessorPil``, which load too.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

# --------------------------------------------------------------------------------------------------------------------
# Tiny vocabulary / tokenizer
# --------------------------------------------------------------------------------------------------------------------

WORDS = [
    "a",
    "an",
    "the",
    "red",
    "blue",
    "green",
    "yellow",
    "black",
    "white",
    "fox",
    "cat",
    "dog",
    "bird",
    "man",
    "woman",
    "car",
    "boat",
    "runs",
    "walks",
    "jumps",
    "flies",
    "over",
    "under",
    "at",
    "night",
    "day",
    "city",
    "forest",
    "river",
    "sea",
    "mountain",
    "camera",
    "pans",
    "zooms",
    "slowly",
    "fast",
    "in",
    "on",
    "of",
    "and",
    "with",
    "video",
    "cinematic",
    "style",
    "anime",
    "watercolor",
    "portrait",
    "landscape",
    "sunset",
    "snow",
    "rain",
    "neon",
]
SPECIALS = ["<pad>", "</s>", "<unk>"]  # T5 layout: pad=0, eos=1, unk=2
TEXT_VOCAB_SIZE = 64  # >= len(SPECIALS) + len(WORDS) (+1 for the unigram "▁" piece)

# Names for the tokenizer class written into model_index.json / tokenizer_config.json.
#  - "wordlevel" (default): a tokenizers WordLevel model. transformers 5's T5Tokenizer/T5TokenizerFast CANNOT load a
#    WordLevel tokenizer.json (TypeError: 'dict' object is not an instance of 'Sequence' - T5Tokenizer.__init__
#    builds a Unigram from tokenizer.json's `vocab`, which must be a list of (piece, score)), so these folders name
#    PreTrainedTokenizerFast (= transformers 5 TokenizersBackend), which loads any tokenizer.json.
#  - "t5-unigram": a Unigram vocabulary through transformers.T5Tokenizer; the folders then carry the class names the
#    real Hub folders carry (Wan: model_index "T5TokenizerFast", LTX: "T5Tokenizer", tokenizer_config "T5Tokenizer").
TOKENIZER_KINDS = ("wordlevel", "t5-unigram")


def build_tokenizer(kind: str = "wordlevel", model_max_length: int = 512):
    if kind == "wordlevel":
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
        from transformers import PreTrainedTokenizerFast

        vocab = {tok: i for i, tok in enumerate(SPECIALS)}
        for w in WORDS:
            vocab.setdefault(w, len(vocab))
        assert len(vocab) <= TEXT_VOCAB_SIZE
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        # T5 appends </s> to every sequence
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok,
            pad_token="<pad>",
            eos_token="</s>",
            unk_token="<unk>",
            model_max_length=model_max_length,
        )
    if kind == "t5-unigram":
        from transformers import T5Tokenizer

        pieces = [(s, 0.0) for s in SPECIALS] + [("\u2581", -2.0)] + [("\u2581" + w, -1.0) for w in WORDS]
        assert len(pieces) <= TEXT_VOCAB_SIZE
        return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)
    raise ValueError(f"tokenizer kind must be one of {TOKENIZER_KINDS}")


# --------------------------------------------------------------------------------------------------------------------
# Tiny component factories (real classes, tiny configs mirroring the published structure)
# --------------------------------------------------------------------------------------------------------------------

TEXT_DIM = 32  # d_model of the tiny T5/UMT5 == transformer text_dim / caption_channels


def tiny_umt5():
    from transformers import UMT5Config, UMT5EncoderModel

    cfg = UMT5Config(
        vocab_size=TEXT_VOCAB_SIZE,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        tie_word_embeddings=False,
    )
    return UMT5EncoderModel(cfg).eval()


def tiny_t5():
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(
        vocab_size=TEXT_VOCAB_SIZE,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(cfg).eval()


# Published Wan2.2 VAE statistics (scripts/convert_wan_to_diffusers.py: vae22_diffusers_config)
WAN22_LATENTS_MEAN = [
    -0.2289,
    -0.0052,
    -0.1323,
    -0.2339,
    -0.2799,
    0.0174,
    0.1838,
    0.1557,
    -0.1382,
    0.0542,
    0.2813,
    0.0891,
    0.157,
    -0.0098,
    0.0375,
    -0.1825,
    -0.2246,
    -0.1207,
    -0.0698,
    0.5109,
    0.2665,
    -0.2108,
    -0.2158,
    0.2502,
    -0.2055,
    -0.0322,
    0.1109,
    0.1567,
    -0.0729,
    0.0899,
    -0.2799,
    -0.123,
    -0.0313,
    -0.1649,
    0.0117,
    0.0723,
    -0.2839,
    -0.2083,
    -0.052,
    0.3748,
    0.0152,
    0.1957,
    0.1433,
    -0.2944,
    0.3573,
    -0.0548,
    -0.1681,
    -0.0667,
]
WAN22_LATENTS_STD = [
    0.4765,
    1.0364,
    0.4514,
    1.1677,
    0.5313,
    0.499,
    0.4818,
    0.5013,
    0.8158,
    1.0344,
    0.5894,
    1.0901,
    0.6885,
    0.6165,
    0.8454,
    0.4978,
    0.5759,
    0.3523,
    0.7135,
    0.6804,
    0.5833,
    1.4146,
    0.8986,
    0.5659,
    0.7069,
    0.5338,
    0.4889,
    0.4917,
    0.4069,
    0.4999,
    0.6866,
    0.4093,
    0.5709,
    0.6065,
    0.6415,
    0.4944,
    0.5726,
    1.2042,
    0.5458,
    1.6887,
    0.3971,
    1.06,
    0.3943,
    0.5537,
    0.5444,
    0.4089,
    0.7468,
    0.7744,
]


def tiny_wan21_vae():
    """AutoencoderKLWan with the Wan2.1 structure (z_dim 16, 8x spatial, 4x temporal); only widths shrunk.
    Published: base_dim 96, dim_mult [1,2,4,4], num_res_blocks 2; latents_mean/std: the class defaults."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=2,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=0,
        attn_scales=[],
        temperal_downsample=[False, True, True],
    ).eval()


def tiny_wan22_vae():
    """AutoencoderKLWan with the Wan2.2 (TI2V-5B) structure: z_dim 48, is_residual, in/out 12 (=3*2*2 patchified),
    patch_size 2, scale_factor_spatial 16, decoder_base_dim != base_dim. Published: base 160 / decoder 256."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=2,
        decoder_base_dim=4,
        z_dim=48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=0,
        attn_scales=[],
        temperal_downsample=[False, True, True],
        is_residual=True,
        in_channels=12,
        out_channels=12,
        patch_size=2,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        latents_mean=WAN22_LATENTS_MEAN,
        latents_std=WAN22_LATENTS_STD,
    ).eval()


WAN_TINY = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    text_dim=TEXT_DIM,
    freq_dim=32,
    ffn_dim=48,
    num_layers=2,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=64,
)


def tiny_wan_transformer(in_channels: int, out_channels: int, **extra):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(in_channels=in_channels, out_channels=out_channels, **{**WAN_TINY, **extra}).eval()


CLIP_IMAGE = 32
CLIP_PATCH = 8
CLIP_TOKENS = (CLIP_IMAGE // CLIP_PATCH) ** 2 + 1  # 17 (published ViT-H/14 @224: 257)


def tiny_clip():
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    cfg = CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=CLIP_IMAGE,
        patch_size=CLIP_PATCH,
        projection_dim=16,
        hidden_act="gelu",
    )
    enc = CLIPVisionModel(cfg).eval()
    proc = CLIPImageProcessor(
        size={"shortest_edge": CLIP_IMAGE},
        crop_size={"height": CLIP_IMAGE, "width": CLIP_IMAGE},
        do_center_crop=True,
        do_resize=True,
        do_normalize=True,
        do_rescale=True,
        do_convert_rgb=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        resample=3,
    )
    return enc, proc


def tiny_ltx_vae():
    """AutoencoderKLLTXVideo with the 0.9.5/0.9.7 structure (scripts/convert_ltx_to_diffusers.py get_vae_config
    "0.9.7"): LTXVideo095DownBlock3D, downsample (spatial, temporal, spatiotemporal, spatiotemporal), patch 4,
    32x spatial / 8x temporal, timestep-conditioned decoder with residual 2x upsamplers. Widths /32, layers 1."""
    from diffusers import AutoencoderKLLTXVideo

    return AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=16,
        block_out_channels=(4, 8, 16, 32, 64),
        down_block_types=("LTXVideo095DownBlock3D",) * 4,
        decoder_block_out_channels=(8, 16, 32),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, True),
        decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
        upsample_residual=(True, True, True),
        upsample_factor=(2, 2, 2),
        timestep_conditioning=True,
        patch_size=4,
        patch_size_t=1,
        resnet_norm_eps=1e-6,
        scaling_factor=1.0,
        encoder_causal=True,
        decoder_causal=False,
        spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    ).eval()


def tiny_ltx_transformer():
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(
        in_channels=16,
        out_channels=16,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=2,
        activation_fn="gelu-approximate",
        qk_norm="rms_norm_across_heads",
        norm_elementwise_affine=False,
        norm_eps=1e-6,
        caption_channels=TEXT_DIM,
        attention_bias=True,
        attention_out_bias=True,
    ).eval()


# --------------------------------------------------------------------------------------------------------------------
# Folder writing helpers
# --------------------------------------------------------------------------------------------------------------------


def _rewrite_json(path: Path, update: dict) -> None:
    data = json.loads(path.read_text())
    data.update(update)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _publish_names(folder: Path, tokenizer_kind: str, t5_name: str, has_image_processor: bool = False) -> None:
    """transformers 5 saves the tokenizer as `TokenizersBackend` (or `T5Tokenizer`) and, without torchvision, the
    image processor as `CLIPImageProcessorPil`; diffusers copies `type(obj).__name__` into model_index.json.
    Rewrite to the names the published folders carry."""
    tok_name = "PreTrainedTokenizerFast" if tokenizer_kind == "wordlevel" else t5_name
    upd = {"tokenizer": ["transformers", tok_name]}
    if has_image_processor:
        upd["image_processor"] = ["transformers", "CLIPImageProcessor"]
    _rewrite_json(folder / "model_index.json", upd)
    _rewrite_json(
        folder / "tokenizer" / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast" if tokenizer_kind == "wordlevel" else "T5Tokenizer"},
    )
    if has_image_processor:
        _rewrite_json(
            folder / "image_processor" / "preprocessor_config.json", {"image_processor_type": "CLIPImageProcessor"}
        )


def _save(pipe, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)


# --------------------------------------------------------------------------------------------------------------------
# Builders, one per published folder
# --------------------------------------------------------------------------------------------------------------------


def build_wan22_ti2v(
    root: Path, tokenizer_kind: str = "wordlevel", seed: int = 0, transformer_extra: dict | None = None
) -> Path:
    from diffusers import UniPCMultistepScheduler, WanPipeline

    torch.manual_seed(seed)
    vae = tiny_wan22_vae()
    torch.manual_seed(seed)
    transformer = tiny_wan_transformer(48, 48, **(transformer_extra or {}))
    torch.manual_seed(seed)
    text_encoder = tiny_umt5()
    # published: UniPC, flow_prediction, use_flow_sigmas, flow_shift 5.0 (convert_wan_to_diffusers.py)
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=5.0
    )
    pipe = WanPipeline(
        tokenizer=build_tokenizer(tokenizer_kind),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
        transformer_2=None,
        boundary_ratio=None,
        expand_timesteps=True,
    )
    folder = root / "Wan2.2-TI2V-5B-Diffusers"
    _save(pipe, folder)
    _publish_names(folder, tokenizer_kind, "T5TokenizerFast")
    return folder


def build_wan21_flf2v(root: Path, tokenizer_kind: str = "wordlevel", seed: int = 0) -> Path:
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline

    torch.manual_seed(seed)
    vae = tiny_wan21_vae()
    torch.manual_seed(seed)
    image_encoder, image_processor = tiny_clip()
    torch.manual_seed(seed)
    inner = WAN_TINY["num_attention_heads"] * WAN_TINY["attention_head_dim"]
    # published FLF2V: in 36 (16 noise + 4 mask + 16 cond), image_dim 1280, added_kv_proj_dim 5120 (= inner dim),
    # pos_embed_seq_len 2*257 (first+last CLIP token sequences are concatenated)
    transformer = tiny_wan_transformer(
        36, 16, image_dim=image_encoder.config.hidden_size, added_kv_proj_dim=inner, pos_embed_seq_len=2 * CLIP_TOKENS
    )
    torch.manual_seed(seed)
    text_encoder = tiny_umt5()
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=16.0
    )
    pipe = WanImageToVideoPipeline(
        tokenizer=build_tokenizer(tokenizer_kind),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=transformer,
    )
    folder = root / "Wan2.1-FLF2V-14B-720P-diffusers"
    _save(pipe, folder)
    _publish_names(folder, tokenizer_kind, "T5TokenizerFast", has_image_processor=True)
    return folder


#: Wan 2.2 A14B's boundaries between the experts (model_index.json ``boundary_ratio``; Wan2.2's configs:
#: ``boundary`` 0.875 for t2v-A14B, 0.900 for i2v-A14B).
A14B_TEXT_BOUNDARY = 0.875
A14B_IMAGE_BOUNDARY = 0.9


def build_wan22_a14b(root: Path, image: bool = False, tokenizer_kind: str = "wordlevel", seed: int = 0) -> Path:
    """Wan2.2-T2V-A14B-Diffusers (``image``: Wan2.2-I2V-A14B-Diffusers): two experts, ``transformer`` (high noise)
    and ``transformer_2`` (low noise), of the same shape and different weights; the Wan 2.1 VAE (z 16); the I2V
    experts take 36 channels (16 noise + 4 mask + 16 first-frame latents) and no CLIP image encoder."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline, WanPipeline

    torch.manual_seed(seed)
    vae = tiny_wan21_vae()
    channels = 36 if image else 16
    torch.manual_seed(seed)
    high = tiny_wan_transformer(channels, 16)
    torch.manual_seed(seed + 1)
    low = tiny_wan_transformer(channels, 16)
    torch.manual_seed(seed)
    text_encoder = tiny_umt5()
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
    )
    common = {
        "tokenizer": build_tokenizer(tokenizer_kind), "text_encoder": text_encoder, "vae": vae, "scheduler": scheduler,
        "transformer": high, "transformer_2": low,
    }  # fmt: skip
    if image:
        pipe = WanImageToVideoPipeline(
            **common, image_processor=None, image_encoder=None, boundary_ratio=A14B_IMAGE_BOUNDARY
        )
        folder = root / "Wan2.2-I2V-A14B-Diffusers"
    else:
        pipe = WanPipeline(**common, boundary_ratio=A14B_TEXT_BOUNDARY)
        folder = root / "Wan2.2-T2V-A14B-Diffusers"
    _save(pipe, folder)
    _publish_names(folder, tokenizer_kind, "T5TokenizerFast")
    return folder


def build_wan21_vace(root: Path, tokenizer_kind: str = "wordlevel", seed: int = 0) -> Path:
    from diffusers import UniPCMultistepScheduler, WanVACEPipeline, WanVACETransformer3DModel

    torch.manual_seed(seed)
    vae = tiny_wan21_vae()
    torch.manual_seed(seed)
    # published 1.3B: 30 layers, vace_layers = even layers 0..28, vace_in_channels 96 = 2*z_dim(16) + 8*8 mask
    transformer = WanVACETransformer3DModel(
        in_channels=16, out_channels=16, vace_layers=[0, 2], vace_in_channels=96, **{**WAN_TINY, "num_layers": 3}
    ).eval()
    torch.manual_seed(seed)
    text_encoder = tiny_umt5()
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
    )
    pipe = WanVACEPipeline(
        tokenizer=build_tokenizer(tokenizer_kind),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
    )
    folder = root / "Wan2.1-VACE-1.3B-diffusers"
    _save(pipe, folder)
    _publish_names(folder, tokenizer_kind, "T5TokenizerFast")
    return folder


def build_ltx097_distilled(root: Path, tokenizer_kind: str = "wordlevel", seed: int = 0) -> Path:
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline

    torch.manual_seed(seed)
    vae = tiny_ltx_vae()
    torch.manual_seed(seed)
    transformer = tiny_ltx_transformer()
    torch.manual_seed(seed)
    text_encoder = tiny_t5()
    # scripts/convert_ltx_to_diffusers.py writes FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False) for
    # 0.9.5/0.9.7. That is REQUIRED by LTXConditionPipeline, which always passes explicit `timesteps` to
    # scheduler.set_timesteps without `mu` (see FINDINGS.md).
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False)
    pipe = LTXConditionPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_tokenizer(tokenizer_kind, model_max_length=128),
        transformer=transformer,
    )
    folder = root / "LTX-Video-0.9.7-distilled"
    _save(pipe, folder)
    _publish_names(folder, tokenizer_kind, "T5Tokenizer")
    return folder


def build_ltx_upsampler(root: Path, seed: int = 0) -> Path:
    """``ltxv-spatial-upscaler-0.9.7``: LTXLatentUpsamplePipeline (the tiny LTX VAE and a
    LTXLatentUpsamplerModel on its 16 latent channels; published: 128 channels, mid 512, 4
    blocks per stage)."""
    from diffusers import LTXLatentUpsamplePipeline
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    torch.manual_seed(seed)
    vae = tiny_ltx_vae()
    torch.manual_seed(seed)
    upsampler = LTXLatentUpsamplerModel(in_channels=16, mid_channels=32, num_blocks_per_stage=1).eval()
    pipe = LTXLatentUpsamplePipeline(vae=vae, latent_upsampler=upsampler)
    folder = root / "ltxv-spatial-upscaler-0.9.7"
    _save(pipe, folder)
    return folder


#: The LoRA is named like the Wan effect LoRA ``balloon belly`` maps to (EFFECT_LORAS).
LORA_NAME = "inflate"
LORA_TRIGGERS = ["watercolor", "style"]


def build_tiny_lora(root: Path, name: str = LORA_NAME, seed: int = 1, rank: int = 4) -> Path:
    """LoRA on the attention projections of the tiny Wan transformer (same inner dim for all tiny Wan folders, so it
    loads into the TI2V, FLF2V and VACE tiny transformers). Saved via WanPipeline.save_lora_weights ->
    <dir>/pytorch_lora_weights.safetensors with keys 'transformer.blocks.N.attn1.to_q.lora_A.weight' etc."""
    from diffusers import WanPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    transformer = tiny_wan_transformer(48, 48)
    # init_lora_weights=False: random A *and* B. peft's default (B = 0) would make the LoRA a no-op, so an
    # "is the adapter active?" check comparing outputs would fail.
    cfg = LoraConfig(
        r=rank,
        lora_alpha=rank,
        init_lora_weights=False,
        target_modules=["to_q", "to_k", "to_v", "to_out.0"],
    )
    transformer.add_adapter(cfg)
    state = get_peft_model_state_dict(transformer)
    folder = root / "loras" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    WanPipeline.save_lora_weights(folder, transformer_lora_layers=state, safe_serialization=True)
    (folder / "lora.json").write_text(
        json.dumps(
            {
                "trigger_words": LORA_TRIGGERS,
                "weight_name": "pytorch_lora_weights.safetensors",
                "scale": 1.0,
                "roles": ["text", "first_frame", "first_last", "references"],
            },
            indent=2,
        )
        + "\n"
    )
    return folder


def build_tiny_models(root: Path, tokenizer_kind: str = "wordlevel") -> dict[str, Path]:
    """Write every tiny folder under ``root``; returns name -> path. Seeded: identical builds."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    builders = {
        "Wan2.2-TI2V-5B-Diffusers": build_wan22_ti2v,
        "Wan2.1-FLF2V-14B-720P-diffusers": build_wan21_flf2v,
        "Wan2.1-VACE-1.3B-diffusers": build_wan21_vace,
        "LTX-Video-0.9.7-distilled": build_ltx097_distilled,
    }
    out = {name: build(root, tokenizer_kind=tokenizer_kind) for name, build in builders.items()}
    out["lora"] = build_tiny_lora(root)
    return out


# --------------------------------------------------------------------------------------------------------------------
# GGUF: a folder's transformer as the published GGUF conversions ship it
# --------------------------------------------------------------------------------------------------------------------

#: A Wan transformer whose Linear layers are all GGUF-quantizable: Q8_0 blocks hold 32 values, so every input
#: width must divide by 32 (the published 5B: 3072, 14336; the usual tiny one has 24-wide attention).
WAN_GGUF_TINY = {"attention_head_dim": 16, "ffn_dim": 64}

#: diffusers name -> the original Wan name (the inverse of diffusers' ``convert_wan_transformer_to_diffusers``).
_WAN_ORIGINAL_NAMES = (
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn1", "self_attn"),
    ("attn2", "cross_attn"),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
)


def wan_original_name(name: str) -> str:
    """A Wan transformer tensor's name in the original checkpoints (and the published GGUF files)."""
    import re

    for diffusers_name, original in _WAN_ORIGINAL_NAMES:
        name = name.replace(diffusers_name, original)
    if name == "scale_shift_table":
        return "head.modulation"
    name = re.sub(r"^proj_out\.", "head.head.", name)
    name = name.replace(".scale_shift_table", ".modulation")
    # diffusers' norm2 is the original norm3 and the other way round
    return name.replace(".norm2.", ".norm_swap.").replace(".norm3.", ".norm2.").replace(".norm_swap.", ".norm3.")


def write_wan_gguf(folder: Path, path: Path) -> int:
    """``folder``'s transformer as a GGUF file in the original Wan names, as QuantStack's and city96's conversions
    are: 2-D weights whose rows divide into Q8_0 blocks quantized, the rest float32. Returns how many tensors were
    quantized."""
    import gguf
    import numpy as np
    from diffusers import WanTransformer3DModel

    transformer = WanTransformer3DModel.from_pretrained(folder / "transformer")
    writer = gguf.GGUFWriter(str(path), "wan")
    quantized = 0
    for name, tensor in transformer.state_dict().items():
        array = tensor.detach().float().numpy()
        original = wan_original_name(name)
        if array.ndim == 2 and array.shape[-1] % 32 == 0:
            blocks = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(original, blocks, raw_shape=blocks.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            quantized += 1
        else:
            writer.add_tensor(original, array.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return quantized


def build_wan22_ti2v_with_gguf(root: Path) -> tuple[Path, Path]:
    """A TI2V-5B folder whose transformer is GGUF-quantizable, and its GGUF conversion where the catalogue puts it
    (``Wan2.2-TI2V-5B-GGUF/Wan2.2-TI2V-5B-Q8_0.gguf``). Returns (folder, gguf file)."""
    folder = build_wan22_ti2v(root, transformer_extra=WAN_GGUF_TINY)
    gguf_dir = root / "Wan2.2-TI2V-5B-GGUF"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    path = gguf_dir / "Wan2.2-TI2V-5B-Q8_0.gguf"
    write_wan_gguf(folder, path)
    return folder, path
