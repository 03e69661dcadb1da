"""Published architectures of the neural engines' models, as constructor arguments.

Every weights folder the engines load (docs/engines.md), one ``PublishedFolder`` each in
``FOLDERS``: the Hub repository, the ``model_index.json`` pipeline class and component
entries, and every component's constructor config (diffusers ``config.json`` keys, or the
transformers config keys for the text and image encoders), each with where it was checked.

Sources, in the order they were trusted:

* the publisher's own files on the Hugging Face Hub (``config.json``, ``model_index.json``,
  ``scheduler_config.json``), or byte-identical mirrors of them that say so;
* diffusers' conversion scripts (``scripts/convert_wan_to_diffusers.py``,
  ``scripts/convert_ltx_to_diffusers.py``, huggingface/diffusers at 58eb52c0803e), which
  wrote the diffusers folders the publishers uploaded;
* the installed diffusers 0.42.1 class defaults where a conversion script passes none.

What could not be verified against a published file says so where it is used (the
``unverified`` notes of each folder); nothing here is guessed silently. ``FULL`` and
``TINY`` keep the shapes ``bench/gpu_bench.py`` builds from. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DIFFUSERS_SCRIPTS = "https://github.com/huggingface/diffusers/blob/58eb52c0803ea9af3abec60841c2a093bdf1f951/scripts"
CONVERT_WAN = f"{DIFFUSERS_SCRIPTS}/convert_wan_to_diffusers.py"
CONVERT_LTX = f"{DIFFUSERS_SCRIPTS}/convert_ltx_to_diffusers.py"

# ----------------------------------------------------------------------------------------------------------------------
# Wan 2.2 TI2V-5B (Wan-AI/Wan2.2-TI2V-5B-Diffusers)
# ----------------------------------------------------------------------------------------------------------------------

# convert_wan_to_diffusers.py vae22_diffusers_config; the same values in a copy of the published vae/config.json
# whose _name_or_path is Wan-AI/Wan2.2-TI2V-5B-Diffusers: https://huggingface.co/nvidia/Cosmos3-Edge/resolve/main/vae/config.json
WAN22_LATENTS_MEAN = [
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891, 0.157,
    -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502, -0.2055, -0.0322,
    0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.123, -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.052,
    0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
]  # fmt: skip
WAN22_LATENTS_STD = [
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.499, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165,
    0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659, 0.7069, 0.5338, 0.4889, 0.4917,
    0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.06,
    0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
]  # fmt: skip

# convert_wan_to_diffusers.py get_transformer_config("Wan2.2-TI2V-5B"), cross-checked against the original
# https://raw.githubusercontent.com/Wan-Video/Wan2.2/main/wan/configs/wan_ti2v_5B.py (dim 3072 = 24 x 128, ffn 14336,
# 30 layers, patch (1, 2, 2), vae_stride (4, 16, 16)). rope_max_seq_len / pos_embed_seq_len / image_dim: class
# defaults (the script passes none). A third-party copy (inference-sh/Wan2.2-TI2V-5B-Diffusers) carries
# image_dim 1280 / added_kv_proj_dim 5120; that cannot be the published file (a text-only forward would then fail
# in add_k_proj), so it is not followed.
WAN22_TRANSFORMER: dict[str, Any] = {
    "patch_size": [1, 2, 2],
    "num_attention_heads": 24,
    "attention_head_dim": 128,
    "in_channels": 48,
    "out_channels": 48,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 14336,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-06,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
    "pos_embed_seq_len": None,
}
# convert_wan_to_diffusers.py vae22_diffusers_config and the published copy above. That config also carries
# "clip_output": false, a key diffusers 0.42.1's AutoencoderKLWan no longer takes (it is ignored on load), so it is
# left out of the constructor arguments.
WAN22_VAE: dict[str, Any] = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "dropout": 0.0,
    "latents_mean": WAN22_LATENTS_MEAN,
    "latents_std": WAN22_LATENTS_STD,
    "is_residual": True,
    "in_channels": 12,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_temporal": 4,
    "scale_factor_spatial": 16,
}
#: UniPC, as convert_wan_to_diffusers.py writes it for TI2V ("TI2V" -> flow_shift 5.0); the original config's
#: sample_shift is 5.0 too (wan_ti2v_5B.py). The rest of scheduler_config.json: UniPCMultistepScheduler defaults.
WAN22_SCHEDULER: dict[str, Any] = {
    "prediction_type": "flow_prediction",
    "use_flow_sigmas": True,
    "num_train_timesteps": 1000,
    "flow_shift": 5.0,
}
WAN_TEXT_DIM, WAN_TEXT_TOKENS = 4096, 512

# google/umt5-xxl as the Wan diffusers folders ship it (text_encoder/config.json, UMT5EncoderModel): checked against
# https://huggingface.co/Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers/blob/refs%2Fpr%2F4/text_encoder/config.json and a
# mirror of Wan-AI/Wan2.1-VACE-14B-diffusers
# https://huggingface.co/JackIsNotInTheBox/Video_Watermark_Remover_Checkpoints/blob/main/vace-14b/text_encoder/config.json
# (the conversion script loads UMT5EncoderModel.from_pretrained("google/umt5-xxl") for every Wan folder). The
# Wan2.2-TI2V-5B-Diffusers text encoder file itself was not found; the script gives it the same model.
UMT5_XXL: dict[str, Any] = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_decoder_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-06,
    "initializer_factor": 1.0,
    "feed_forward_proj": "gated-gelu",
    "dense_act_fn": "gelu_new",
    "is_gated_act": True,
    "scalable_attention": True,
    "tie_word_embeddings": False,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
    "tokenizer_class": "T5Tokenizer",
}

# ----------------------------------------------------------------------------------------------------------------------
# Wan 2.1: the VAE (z 16, 8x) shared by FLF2V and VACE, FLF2V-14B-720P, VACE-14B / -1.3B
# ----------------------------------------------------------------------------------------------------------------------

# convert_wan_to_diffusers.py convert_vae() builds AutoencoderKLWan() with the class defaults; the same values are in a
# copy of Wan-AI/Wan2.1-I2V-14B-720P-Diffusers vae/config.json
# (https://huggingface.co/grnr9730/Wan2.1-I2V-14B-720P-Diffusers/blob/main/vae/config.json, 0.33.0.dev0: it predates
# the Wan 2.2 keys, which then take these defaults).
WAN21_LATENTS_MEAN = [
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
]  # fmt: skip
WAN21_LATENTS_STD = [
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916,
]  # fmt: skip
WAN21_VAE: dict[str, Any] = {
    "base_dim": 96,
    "decoder_base_dim": None,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "dropout": 0.0,
    "latents_mean": WAN21_LATENTS_MEAN,
    "latents_std": WAN21_LATENTS_STD,
    "is_residual": False,
    "in_channels": 3,
    "out_channels": 3,
    "patch_size": None,
    "scale_factor_temporal": 4,
    "scale_factor_spatial": 8,
}

#: CLIP tokens of one 224x224 image through ViT-H/14: (224 / 14)^2 patches + the class token.
CLIP_TOKENS = (224 // 14) ** 2 + 1

# convert_wan_to_diffusers.py get_transformer_config("Wan-FLF2V-14B-720P"): the I2V-14B transformer (in 36 = 16 noise +
# 4 mask + 16 condition latents, image_dim 1280 = CLIP ViT-H width, added_kv_proj_dim 5120 = the inner dim) plus
# pos_embed_seq_len 257 * 2 (the first and last frames' CLIP tokens are concatenated). The published
# transformer/config.json itself was not found; these values agree with Wan-AI/Wan2.1-I2V-14B-720P-Diffusers'
# (https://huggingface.co/StevenZhang/Wan2.1-I2V-14B-720P-Diff/blob/main/config.json, the script's source) but for
# pos_embed_seq_len.
WAN21_FLF2V_TRANSFORMER: dict[str, Any] = {
    "patch_size": [1, 2, 2],
    "num_attention_heads": 40,
    "attention_head_dim": 128,
    "in_channels": 36,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 13824,
    "num_layers": 40,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-06,
    "image_dim": 1280,
    "added_kv_proj_dim": 5120,
    "rope_max_seq_len": 1024,
    "pos_embed_seq_len": 2 * CLIP_TOKENS,
}
# laion/CLIP-ViT-H-14-laion2B-s32B-b79K's vision tower (CLIPVisionModel) as the Wan I2V / FLF2V folders ship it:
# https://huggingface.co/ypyp/wan2.1_i2v/blob/main/image_encoder/config.json (the Wan team's staging copy; the
# FLF2V folder's image_encoder/config.json is 583 bytes next to I2V's 582, the file itself was not found:
# https://huggingface.co/Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers/tree/main/image_encoder). The conversion script at
# HEAD would save CLIPVisionModelWithProjection for I2V/FLF2V; the published folders and the diffusers docs' FLF2V
# example load CLIPVisionModel, which is recorded here.
CLIP_VIT_H_14: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "projection_dim": 1024,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 14,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
}
# laion/CLIP-ViT-H-14 preprocessing (OpenAI CLIP mean/std, bicubic resize of the short side to 224, centre crop 224):
# the preprocessor_config.json of a duplicate of Wan-AI/Wan2.2-Animate-14B-Diffusers, saved by the same conversion
# script from the same laion processor
# (https://huggingface.co/AlexBidlovtam/Wan2.2-Animate-14B-Diffusers/blob/main/image_processor/preprocessor_config.json).
# The FLF2V folder's image_processor/ also ships the CLIP tokenizer (vocab.json, tokenizer.json:
# https://huggingface.co/Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers/blob/main/image_processor/vocab.json): it was saved
# from AutoProcessor (a CLIPProcessor). Its preprocessor_config.json and its model_index.json entry were not found.
CLIP_IMAGE_PROCESSOR: dict[str, Any] = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}
#: convert_wan_to_diffusers.py: "FLF2V" -> flow_shift 16.0 (diffusers PR #11365, "update scheduler config in
#: conversion script", merged the day the FLF2V diffusers folder was uploaded). The published scheduler_config.json
#: itself was not found: 16.0 is the conversion script's value, not a read of the Hub file.
WAN21_FLF2V_SCHEDULER: dict[str, Any] = {**WAN22_SCHEDULER, "flow_shift": 16.0}

# convert_wan_to_diffusers.py get_transformer_config("Wan-VACE-14B"), equal to a mirror of the published file:
# https://huggingface.co/JackIsNotInTheBox/Video_Watermark_Remover_Checkpoints/commit/d3506651e7bc5eeadc43b149d8b8ee775c64cd33
# (vace_in_channels 96 = 2 x 16 latent channels of the inactive/reactive video + 64 = 8 x 8 folded mask).
WAN21_VACE_14B_TRANSFORMER: dict[str, Any] = {
    "patch_size": [1, 2, 2],
    "num_attention_heads": 40,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 13824,
    "num_layers": 40,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-06,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
    "pos_embed_seq_len": None,
    "vace_layers": [0, 5, 10, 15, 20, 25, 30, 35],
    "vace_in_channels": 96,
}
# convert_wan_to_diffusers.py get_transformer_config("Wan-VACE-1.3B"); the same values in a copy of the published file
# (https://huggingface.co/callgg/wan-decoder/blob/main/transformer/config.json).
WAN21_VACE_1_3B_TRANSFORMER: dict[str, Any] = {
    **WAN21_VACE_14B_TRANSFORMER,
    "num_attention_heads": 12,
    "ffn_dim": 8960,
    "num_layers": 30,
    "vace_layers": list(range(0, 30, 2)),
}
# Mirror of the published VACE-14B scheduler/scheduler_config.json (UniPC, flow_prediction, flow_shift 3.0):
# https://huggingface.co/JackIsNotInTheBox/Video_Watermark_Remover_Checkpoints/commit/166a3d3eade95aa6f113519e2e47cb4fcfbf6c6c
# For VACE-1.3B the conversion script writes the same 3.0 (the published file was not found).
WAN21_VACE_SCHEDULER: dict[str, Any] = {**WAN22_SCHEDULER, "flow_shift": 3.0}

# ----------------------------------------------------------------------------------------------------------------------
# LTX-Video 0.9.7 / 0.9.8 13B distilled and the latent upsampler
# ----------------------------------------------------------------------------------------------------------------------

# The 13B transformer: Lightricks' own 0.9.7 diffusers file
# (https://huggingface.co/Lightricks/LTX-Video-0.9.7-dev/blob/refs%2Fpr%2F3/transformer/config.json) and
# convert_ltx_to_diffusers.py get_transformer_config("0.9.7"). Caution: the script's "0.9.8" falls through to the 2B
# config (28 layers, head dim 64, cross-attention 2048), which is not the 13B model; 0.9.8-13B-distilled is the 0.9.7
# 13B architecture. The 0.9.8-13B-distilled folder's transformer/config.json itself was not found.
LTX_13B_TRANSFORMER: dict[str, Any] = {
    "in_channels": 128,
    "out_channels": 128,
    "patch_size": 1,
    "patch_size_t": 1,
    "num_attention_heads": 32,
    "attention_head_dim": 128,
    "cross_attention_dim": 4096,
    "num_layers": 48,
    "activation_fn": "gelu-approximate",
    "qk_norm": "rms_norm_across_heads",
    "norm_elementwise_affine": False,
    "norm_eps": 1e-6,
    "caption_channels": 4096,
    "attention_bias": True,
    "attention_out_bias": True,
}
# The 0.9.5 / 0.9.7 VAE (LTXVideo095DownBlock3D, 32x spatial / 8x temporal, timestep-conditioned decoder with residual
# 2x upsamplers): convert_ltx_to_diffusers.py get_vae_config("0.9.7"), identical to a copy of the 0.9.8 VAE
# (https://huggingface.co/callgg/ltxv0.9.8-decoder/blob/main/vae/config.json). The script has no "0.9.8" VAE branch.
LTX_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 128,
    "block_out_channels": [128, 256, 512, 1024, 2048],
    "down_block_types": ["LTXVideo095DownBlock3D"] * 4,
    "decoder_block_out_channels": [256, 512, 1024],
    "layers_per_block": [4, 6, 6, 2, 2],
    "decoder_layers_per_block": [5, 5, 5, 5],
    "spatio_temporal_scaling": [True, True, True, True],
    "decoder_spatio_temporal_scaling": [True, True, True],
    "decoder_inject_noise": [False, False, False, False],
    "downsample_type": ["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
    "upsample_residual": [True, True, True],
    "upsample_factor": [2, 2, 2],
    "timestep_conditioning": True,
    "patch_size": 4,
    "patch_size_t": 1,
    "resnet_norm_eps": 1e-6,
    "scaling_factor": 1.0,
    "encoder_causal": True,
    "decoder_causal": False,
    "spatial_compression_ratio": 32,
    "temporal_compression_ratio": 8,
}
# google/t5-v1_1-xxl's encoder (convert_ltx_to_diffusers.py: T5EncoderModel.from_pretrained("google/t5-v1_1-xxl")):
# https://huggingface.co/google/t5-v1_1-xxl/blame/main/config.json, as a LTX folder ships it (T5EncoderModel, with
# dense_act_fn / is_gated_act spelled out): https://huggingface.co/jbilcke-hf/LTX-Video-0.9.1-HFIE/blame/6789b6e8e5e3e7104e339e978da6cca64abd2d22/text_encoder/config.json
T5_V1_1_XXL: dict[str, Any] = {
    "vocab_size": 32128,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_decoder_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-06,
    "initializer_factor": 1.0,
    "feed_forward_proj": "gated-gelu",
    "dense_act_fn": "gelu_new",
    "is_gated_act": True,
    "tie_word_embeddings": False,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}
#: convert_ltx_to_diffusers.py writes FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False) for 0.9.5 / 0.9.7
#: (everything else the class defaults). The 0.9.8-13B-distilled folder's scheduler_config.json was not found: the
#: older LTX-Video folders ship use_dynamic_shifting true, base_shift 0.95, max_shift 2.05, shift_terminal 0.1
#: (https://huggingface.co/Lightricks/LTX-Video/blob/05be24f065a268e3b7881b63a114dbf52ce68fd1/scheduler/scheduler_config.json),
#: which the LTX engine rebuilds unshifted at load; ``LTX_SHIFTED_SCHEDULER`` keeps that variant.
LTX_SCHEDULER: dict[str, Any] = {"num_train_timesteps": 1000, "shift": 1.0, "use_dynamic_shifting": False}
LTX_SHIFTED_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.95,
    "max_shift": 2.05,
    "base_image_seq_len": 1024,
    "max_image_seq_len": 4096,
    "shift_terminal": 0.1,
}
LTX_TEXT_DIM, LTX_TEXT_TOKENS = 4096, 128
#: convert_ltx_to_diffusers.py get_spatial_latent_upsampler_config("0.9.8") (identical to "0.9.7"). Lightricks ships
#: 0.9.8's as a single file copied from 0.9.7's ("Copy ltxv-spatial-upscaler-0.9.7.safetensors to
#: ltxv-spatial-upscaler-0.9.8.safetensors":
#: https://huggingface.co/Lightricks/LTX-Video/blob/main/ltxv-spatial-upscaler-0.9.8.safetensors); the diffusers-format
#: upsampler folder is Lightricks/ltxv-spatial-upscaler-0.9.7 (no "-0.9.8" diffusers repository was found; the
#: diffusers docs load a-r-r-o-w/LTX-0.9.8-Latent-Upsampler).
LTX_LATENT_UPSAMPLER: dict[str, Any] = {
    "in_channels": 128,
    "mid_channels": 512,
    "num_blocks_per_stage": 4,
    "dims": 3,
    "spatial_upsample": True,
    "temporal_upsample": False,
}


# ----------------------------------------------------------------------------------------------------------------------
# HunyuanVideo 1.5 (hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v, -720p_i2v, and the 480p folders)
# ----------------------------------------------------------------------------------------------------------------------

CONVERT_HUNYUAN15 = (
    "https://github.com/huggingface/diffusers/blob/38c42b4de1b98bee31cb35d98aa0bf3398a960cb/scripts/"
    "convert_hunyuan_video1_5_to_diffusers.py"
)
HUNYUAN15_README = "https://github.com/Tencent-Hunyuan/HunyuanVideo-1.5 (README: Optimal Inference Configurations)"

# convert_hunyuan_video1_5_to_diffusers.py TRANSFORMER_CONFIGS["720p_t2v"] (8.3B: 54 double-stream blocks of
# 16 x 128; in 65 = 32 noise + 32 condition latents + 1 mask; Qwen2.5-VL 3584 wide, the ByT5 glyph encoder 1472,
# SigLIP 1152); the 480p folders differ in target_size 640 only, the image folders in task_type "i2v".
HUNYUAN15_TRANSFORMER: dict[str, Any] = {
    "in_channels": 65,
    "out_channels": 32,
    "num_attention_heads": 16,
    "attention_head_dim": 128,
    "num_layers": 54,
    "num_refiner_layers": 2,
    "mlp_ratio": 4.0,
    "patch_size": 1,
    "patch_size_t": 1,
    "qk_norm": "rms_norm",
    "text_embed_dim": 3584,
    "text_embed_2_dim": 1472,
    "image_embed_dim": 1152,
    "rope_theta": 256.0,
    "rope_axes_dim": [16, 56, 56],
    "use_meanflow": False,
    "target_size": 960,
    "task_type": "t2v",
}
HUNYUAN15_I2V_TRANSFORMER: dict[str, Any] = {**HUNYUAN15_TRANSFORMER, "task_type": "i2v"}
# The conversion builds AutoencoderKLHunyuanVideo15() with the class defaults (16x spatial, 4x temporal, 32 latent
# channels, 1.26B parameters).
HUNYUAN15_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 32,
    "block_out_channels": [128, 256, 512, 1024, 1024],
    "layers_per_block": 2,
    "spatial_compression_ratio": 16,
    "temporal_compression_ratio": 4,
    "downsample_match_channel": True,
    "upsample_match_channel": True,
    "scaling_factor": 1.03682,
}
#: The conversion's SCHEDULER_CONFIGS / GUIDANCE_CONFIGS, Tencent's table: shift 9 (720p text), 7 (720p image), 5
#: (480p); guidance 6 (1 for the distilled folders).
HUNYUAN15_T2V_SCHEDULER: dict[str, Any] = {"shift": 9.0}
HUNYUAN15_I2V_SCHEDULER: dict[str, Any] = {"shift": 7.0}
HUNYUAN15_GUIDER: dict[str, Any] = {"guidance_scale": 6.0}
# Qwen/Qwen2.5-VL-7B-Instruct's text model (the conversion keeps ``language_model`` of AutoModel.from_pretrained of it).
QWEN25_VL_7B_TEXT: dict[str, Any] = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": {"type": "mrope", "rope_type": "default", "mrope_section": [16, 24, 24]},
    "tie_word_embeddings": False,
}
# google/byt5-small's encoder with Glyph-SDXL-v2's colour and font tokens added (the conversion's load_byt5).
BYT5_GLYPH: dict[str, Any] = {
    "vocab_size": 1510,
    "d_model": 1472,
    "d_kv": 64,
    "d_ff": 3584,
    "num_layers": 12,
    "num_decoder_layers": 4,
    "num_heads": 6,
    "relative_attention_num_buckets": 32,
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-06,
    "feed_forward_proj": "gated-gelu",
    "tie_word_embeddings": False,
}
# SigLIP so400m/14 at 384 px: 27 x 27 = 729 image tokens 1152 wide, the counts the pipelines hard-code.
SIGLIP_SO400M: dict[str, Any] = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "image_size": 384,
    "patch_size": 14,
    "hidden_act": "gelu_pytorch_tanh",
    "layer_norm_eps": 1e-06,
}
HUNYUAN15_COMPONENTS: dict[str, tuple[str, str] | None] = {
    "guider": ("diffusers", "ClassifierFreeGuidance"),
    "scheduler": ("diffusers", "FlowMatchEulerDiscreteScheduler"),
    "text_encoder": ("transformers", "Qwen2_5_VLTextModel"),
    "text_encoder_2": ("transformers", "T5EncoderModel"),
    "tokenizer": ("transformers", "Qwen2TokenizerFast"),
    "tokenizer_2": ("transformers", "ByT5Tokenizer"),
    "transformer": ("diffusers", "HunyuanVideo15Transformer3DModel"),
    "vae": ("diffusers", "AutoencoderKLHunyuanVideo15"),
}
HUNYUAN15_UNVERIFIED = (
    "the 720p folders' own transformer/config.json and model_index.json were not read: the conversion script's"
    " configs, and the 480p_t2v folder's model_index.json and scheduler/guider configs as a public test copies them",
    "text_encoder and text_encoder_2 configs: Qwen2.5-VL-7B-Instruct's and byt5-small's published configs with the"
    " glyph vocabulary (1510 tokens) the conversion adds; image_encoder: SigLIP so400m/14-384 (1152 wide, 729 tokens,"
    " as the pipelines hard-code)",
)


# ----------------------------------------------------------------------------------------------------------------------
# LTX-2 (Lightricks/LTX-2 and its distilled 19B folder): one transformer for the video and the audio latents
# ----------------------------------------------------------------------------------------------------------------------

#: diffusers' LTX-2 conversion script (``scripts/convert_ltx2_to_diffusers.py``, its "2.0" configs: transformer,
#: connectors, video VAE, audio VAE, vocoder), which wrote the folder Lightricks publishes in diffusers format.
CONVERT_LTX2 = "https://github.com/huggingface/diffusers/blob/main/scripts/convert_ltx2_to_diffusers.py"
LTX2_MODEL_CARD = "https://huggingface.co/Lightricks/LTX-2"
# The 19B joint transformer: 48 blocks of 32 x 128 video attention and 32 x 64 audio attention, Gemma's 3840-wide
# features through the connectors, split RoPE in double precision.
LTX2_TRANSFORMER: dict[str, Any] = {
    "in_channels": 128,
    "out_channels": 128,
    "patch_size": 1,
    "patch_size_t": 1,
    "num_attention_heads": 32,
    "attention_head_dim": 128,
    "cross_attention_dim": 4096,
    "vae_scale_factors": [8, 32, 32],
    "pos_embed_max_pos": 20,
    "base_height": 2048,
    "base_width": 2048,
    "audio_in_channels": 128,
    "audio_out_channels": 128,
    "audio_patch_size": 1,
    "audio_patch_size_t": 1,
    "audio_num_attention_heads": 32,
    "audio_attention_head_dim": 64,
    "audio_cross_attention_dim": 2048,
    "audio_scale_factor": 4,
    "audio_pos_embed_max_pos": 20,
    "audio_sampling_rate": 16000,
    "audio_hop_length": 160,
    "num_layers": 48,
    "activation_fn": "gelu-approximate",
    "qk_norm": "rms_norm_across_heads",
    "norm_elementwise_affine": False,
    "norm_eps": 1e-6,
    "caption_channels": 3840,
    "attention_bias": True,
    "attention_out_bias": True,
    "rope_theta": 10000.0,
    "rope_double_precision": True,
    "causal_offset": 1,
    "timestep_scale_multiplier": 1000,
    "cross_attn_timestep_scale_multiplier": 1000,
    "rope_type": "split",
}
# The text connectors: Gemma's 49 hidden states (48 layers + the embeddings) projected and refined, 128 learnable
# registers per modality.
LTX2_CONNECTORS: dict[str, Any] = {
    "caption_channels": 3840,
    "text_proj_in_factor": 49,
    "video_connector_num_attention_heads": 30,
    "video_connector_attention_head_dim": 128,
    "video_connector_num_layers": 2,
    "video_connector_num_learnable_registers": 128,
    "audio_connector_num_attention_heads": 30,
    "audio_connector_attention_head_dim": 128,
    "audio_connector_num_layers": 2,
    "audio_connector_num_learnable_registers": 128,
    "connector_rope_base_seq_len": 4096,
    "rope_theta": 10000.0,
    "rope_double_precision": True,
    "causal_temporal_positioning": False,
    "rope_type": "split",
}
# The video VAE: 32x spatial, 8x temporal, no timestep conditioning, a non-causal decoder.
LTX2_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 128,
    "block_out_channels": [256, 512, 1024, 2048],
    "down_block_types": ["LTX2VideoDownBlock3D"] * 4,
    "decoder_block_out_channels": [256, 512, 1024],
    "layers_per_block": [4, 6, 6, 2, 2],
    "decoder_layers_per_block": [5, 5, 5, 5],
    "spatio_temporal_scaling": [True, True, True, True],
    "decoder_spatio_temporal_scaling": [True, True, True],
    "decoder_inject_noise": [False, False, False, False],
    "downsample_type": ["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
    "upsample_residual": [True, True, True],
    "upsample_factor": [2, 2, 2],
    "timestep_conditioning": False,
    "patch_size": 4,
    "patch_size_t": 1,
    "resnet_norm_eps": 1e-6,
    "encoder_causal": True,
    "decoder_causal": False,
    "encoder_spatial_padding_mode": "zeros",
    "decoder_spatial_padding_mode": "reflect",
    "spatial_compression_ratio": 32,
    "temporal_compression_ratio": 8,
}
# The audio VAE (a mel-spectrogram autoencoder, 16 kHz, hop 160, 64 mel bins, 8 latent channels) and the vocoder
# (mel -> 24 kHz stereo waveform).
LTX2_AUDIO_VAE: dict[str, Any] = {
    "base_channels": 128,
    "output_channels": 2,
    "ch_mult": [1, 2, 4],
    "num_res_blocks": 2,
    "attn_resolutions": None,
    "in_channels": 2,
    "resolution": 256,
    "latent_channels": 8,
    "norm_type": "pixel",
    "causality_axis": "height",
    "dropout": 0.0,
    "mid_block_add_attention": False,
    "sample_rate": 16000,
    "mel_hop_length": 160,
    "is_causal": True,
    "mel_bins": 64,
    "double_z": True,
}
LTX2_VOCODER: dict[str, Any] = {
    "in_channels": 128,
    "hidden_channels": 1024,
    "out_channels": 2,
    "upsample_kernel_sizes": [16, 15, 8, 4, 4],
    "upsample_factors": [6, 5, 2, 2, 2],
    "resnet_kernel_sizes": [3, 7, 11],
    "resnet_dilations": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "leaky_relu_negative_slope": 0.1,
    "output_sampling_rate": 24000,
}
# The reference scheduler's shift (LTXVScheduler: base 0.95, max 2.05, terminal 0.1) in diffusers' terms.
LTX2_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "use_dynamic_shifting": True,
    "base_shift": 0.95,
    "max_shift": 2.05,
    "base_image_seq_len": 1024,
    "max_image_seq_len": 4096,
    "shift_terminal": 0.1,
}
# google/gemma-3-12b-it's config.json (Gemma3ForConditionalGeneration: the 48-layer 3840-wide text model and the
# SigLIP 896 px vision tower), the text encoder the LTX-2 folder ships.
GEMMA3_12B: dict[str, Any] = {
    "text_config": {
        "vocab_size": 262208,
        "hidden_size": 3840,
        "intermediate_size": 15360,
        "num_hidden_layers": 48,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 256,
        "hidden_activation": "gelu_pytorch_tanh",
        "max_position_embeddings": 131072,
        "query_pre_attn_scalar": 256,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "rope_local_base_freq": 10000.0,
        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        "sliding_window": 1024,
    },
    "vision_config": {
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
        "image_size": 896,
        "patch_size": 14,
        "vision_use_head": False,
    },
    "mm_tokens_per_image": 256,
    "boi_token_index": 255999,
    "eoi_token_index": 256000,
    "image_token_index": 262144,
}
LTX2_COMPONENTS: dict[str, tuple[str, str] | None] = {
    "scheduler": ("diffusers", "FlowMatchEulerDiscreteScheduler"),
    "text_encoder": ("transformers", "Gemma3ForConditionalGeneration"),
    "tokenizer": ("transformers", "GemmaTokenizerFast"),
    "connectors": ("diffusers", "LTX2TextConnectors"),
    "transformer": ("diffusers", "LTX2VideoTransformer3DModel"),
    "vae": ("diffusers", "AutoencoderKLLTX2Video"),
    "audio_vae": ("diffusers", "AutoencoderKLLTX2Audio"),
    "vocoder": ("diffusers", "LTX2Vocoder"),
}
LTX2_UNVERIFIED = (
    "the folders' own config.json files were not read: the configs are the conversion script's \"2.0\" values"
    " (a copy of scripts/convert_ltx2_to_diffusers.py), which agree with diffusers 0.42.1's class defaults but for"
    " rope_type and the decoder's causality",
    "scheduler: the reference LTXVScheduler's shift values (base 0.95, max 2.05, terminal 0.1) as diffusers"
    " arguments; the folder's scheduler_config.json was not found",
    "text_encoder: google/gemma-3-12b-it's config (the folder ships that model); vision_use_head as SigLIP in Gemma 3",
)


# ----------------------------------------------------------------------------------------------------------------------
# The published folders
# ----------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedFolder:
    """One diffusers-format weights folder as its publisher ships it.

    ``components`` maps each ``model_index.json`` component to its ``[library, class]`` entry
    (``None`` for a component the folder leaves empty); ``pipeline_config`` holds the other
    keys of ``model_index.json`` (``expand_timesteps``); ``configs`` holds each component's
    constructor arguments (for ``text_encoder`` / ``image_encoder``: the transformers config).
    ``unverified`` lists, in words, what could not be checked against a published file.
    """

    repo_id: str
    pipeline_class: str
    components: dict[str, tuple[str, str] | None]
    configs: dict[str, dict[str, Any]]
    pipeline_config: dict[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()


WAN_COMPONENTS: dict[str, tuple[str, str] | None] = {
    "scheduler": ("diffusers", "UniPCMultistepScheduler"),
    "text_encoder": ("transformers", "UMT5EncoderModel"),
    "tokenizer": ("transformers", "T5TokenizerFast"),
    "transformer": ("diffusers", "WanTransformer3DModel"),
    "vae": ("diffusers", "AutoencoderKLWan"),
}

# Wan 2.2 A14B (Wan-AI/Wan2.2-T2V-A14B-Diffusers, Wan-AI/Wan2.2-I2V-A14B-Diffusers): two experts of the Wan 2.1 14B
# shape each. The original configs (https://github.com/Wan-Video/Wan2.2 wan/configs/wan_t2v_A14B.py, wan_i2v_A14B.py):
# dim 5120 = 40 x 128, ffn 13824, 40 layers, freq_dim 256, qk_norm, cross_attn_norm, eps 1e-6, patch (1, 2, 2), the
# Wan 2.1 VAE (vae_stride 4x8x8); t2v boundary 0.875, shift 12.0, guidance (3.0 low, 4.0 high); i2v boundary 0.900,
# shift 5.0, guidance 3.5 / 3.5; 40 steps. The I2V experts take 36 channels and no CLIP image (no image_dim).
WAN22_A14B_T2V_TRANSFORMER: dict[str, Any] = {
    **{
        k: v
        for k, v in WAN21_FLF2V_TRANSFORMER.items()
        if k not in ("image_dim", "added_kv_proj_dim", "pos_embed_seq_len")
    },
    "in_channels": 16,
}
WAN22_A14B_I2V_TRANSFORMER: dict[str, Any] = {**WAN22_A14B_T2V_TRANSFORMER, "in_channels": 36}
WAN22_A14B_COMPONENTS: dict[str, tuple[str, str] | None] = {
    **WAN_COMPONENTS,
    "transformer_2": WAN_COMPONENTS["transformer"],
}
A14B_UNVERIFIED = (
    "transformer/config.json, transformer_2/config.json and model_index.json: from the original configs and the"
    " conversion's layout (WanPipeline / WanImageToVideoPipeline with transformer_2 and boundary_ratio); the folders'"
    " own files were not found",
    "scheduler_config.json: taken to match Wan 2.2 TI2V-5B's (the engine sets the published flow shift per run)",
)

FOLDERS: dict[str, PublishedFolder] = {
    "Wan2.2-TI2V-5B-Diffusers": PublishedFolder(
        repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        pipeline_class="WanPipeline",
        components={**WAN_COMPONENTS, "transformer_2": None},
        configs={
            "transformer": WAN22_TRANSFORMER,
            "vae": WAN22_VAE,
            "scheduler": WAN22_SCHEDULER,
            "text_encoder": UMT5_XXL,
        },
        pipeline_config={"expand_timesteps": True, "boundary_ratio": None},
        sources=(CONVERT_WAN, "https://raw.githubusercontent.com/Wan-Video/Wan2.2/main/wan/configs/wan_ti2v_5B.py"),
        unverified=(
            "model_index.json itself: the class names follow the Wan 2.1 folders' model_index.json "
            "(https://huggingface.co/Wan-AI/Wan2.1-T2V-14B-Diffusers/blob/refs%2Fpr%2F5/model_index.json) and the "
            "conversion script (WanPipeline(..., expand_timesteps=True))",
            "transformer/config.json and scheduler/scheduler_config.json: from the conversion script",
        ),
    ),
    "Wan2.1-FLF2V-14B-720P-diffusers": PublishedFolder(
        repo_id="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        pipeline_class="WanImageToVideoPipeline",
        components={
            **WAN_COMPONENTS,
            "image_encoder": ("transformers", "CLIPVisionModel"),
            "image_processor": ("transformers", "CLIPImageProcessor"),
        },
        configs={
            "transformer": WAN21_FLF2V_TRANSFORMER,
            "vae": WAN21_VAE,
            "scheduler": WAN21_FLF2V_SCHEDULER,
            "text_encoder": UMT5_XXL,
            "image_encoder": CLIP_VIT_H_14,
            "image_processor": CLIP_IMAGE_PROCESSOR,
        },
        sources=(CONVERT_WAN, "https://huggingface.co/Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"),
        unverified=(
            "model_index.json: not found; the image_processor/ folder ships CLIP tokenizer files, so the published "
            "entry may read CLIPProcessor rather than CLIPImageProcessor",
            "scheduler flow_shift 16.0: the conversion script's value; scheduler_config.json was not found",
            "transformer/config.json: the conversion script's values (not the Hub file)",
        ),
    ),
    "Wan2.1-VACE-14B-diffusers": PublishedFolder(
        repo_id="Wan-AI/Wan2.1-VACE-14B-diffusers",
        pipeline_class="WanVACEPipeline",
        components={**WAN_COMPONENTS, "transformer": ("diffusers", "WanVACETransformer3DModel")},
        configs={
            "transformer": WAN21_VACE_14B_TRANSFORMER,
            "vae": WAN21_VAE,
            "scheduler": WAN21_VACE_SCHEDULER,
            "text_encoder": UMT5_XXL,
        },
        # A mirror of the whole published folder, file by file ("Mirror Wan-AI/Wan2.1-VACE-14B-diffusers: ..."):
        sources=(
            CONVERT_WAN,
            "https://huggingface.co/JackIsNotInTheBox/Video_Watermark_Remover_Checkpoints/blob/main/vace-14b/model_index.json",
        ),
    ),
    "Wan2.1-VACE-1.3B-diffusers": PublishedFolder(
        repo_id="Wan-AI/Wan2.1-VACE-1.3B-diffusers",
        pipeline_class="WanVACEPipeline",
        components={**WAN_COMPONENTS, "transformer": ("diffusers", "WanVACETransformer3DModel")},
        configs={
            "transformer": WAN21_VACE_1_3B_TRANSFORMER,
            "vae": WAN21_VAE,
            "scheduler": WAN21_VACE_SCHEDULER,
            "text_encoder": UMT5_XXL,
        },
        sources=(CONVERT_WAN, "https://huggingface.co/callgg/wan-decoder/blob/main/transformer/config.json"),
        unverified=("model_index.json and scheduler_config.json: taken to match VACE-14B's (same conversion)",),
    ),
    "Wan2.2-T2V-A14B-Diffusers": PublishedFolder(
        repo_id="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        pipeline_class="WanPipeline",
        components=WAN22_A14B_COMPONENTS,
        configs={
            "transformer": WAN22_A14B_T2V_TRANSFORMER,
            "transformer_2": WAN22_A14B_T2V_TRANSFORMER,
            "vae": WAN21_VAE,
            "scheduler": WAN22_SCHEDULER,
            "text_encoder": UMT5_XXL,
        },
        pipeline_config={"boundary_ratio": 0.875, "expand_timesteps": False},
        sources=("https://raw.githubusercontent.com/Wan-Video/Wan2.2/main/wan/configs/wan_t2v_A14B.py", CONVERT_WAN),
        unverified=A14B_UNVERIFIED,
    ),
    "Wan2.2-I2V-A14B-Diffusers": PublishedFolder(
        repo_id="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        pipeline_class="WanImageToVideoPipeline",
        components={**WAN22_A14B_COMPONENTS, "image_encoder": None, "image_processor": None},
        configs={
            "transformer": WAN22_A14B_I2V_TRANSFORMER,
            "transformer_2": WAN22_A14B_I2V_TRANSFORMER,
            "vae": WAN21_VAE,
            "scheduler": WAN22_SCHEDULER,
            "text_encoder": UMT5_XXL,
        },
        pipeline_config={"boundary_ratio": 0.9, "expand_timesteps": False},
        sources=("https://raw.githubusercontent.com/Wan-Video/Wan2.2/main/wan/configs/wan_i2v_A14B.py", CONVERT_WAN),
        unverified=A14B_UNVERIFIED,
    ),
    "LTX-Video-0.9.8-13B-distilled": PublishedFolder(
        repo_id="Lightricks/LTX-Video-0.9.8-13B-distilled",
        pipeline_class="LTXConditionPipeline",
        components={
            "scheduler": ("diffusers", "FlowMatchEulerDiscreteScheduler"),
            "text_encoder": ("transformers", "T5EncoderModel"),
            "tokenizer": ("transformers", "T5Tokenizer"),
            "transformer": ("diffusers", "LTXVideoTransformer3DModel"),
            "vae": ("diffusers", "AutoencoderKLLTXVideo"),
        },
        configs={
            "transformer": LTX_13B_TRANSFORMER,
            "vae": LTX_VAE,
            "scheduler": LTX_SCHEDULER,
            "text_encoder": T5_V1_1_XXL,
        },
        sources=(
            CONVERT_LTX,
            "https://huggingface.co/collections/Lightricks/ltx-video-models",
            # the 0.9.7 diffusers conversion's model_index.json (LTXConditionPipeline, T5Tokenizer):
            "https://huggingface.co/krish897/LTX-Video-0.9.7-diffusers/blob/main/model_index.json",
        ),
        unverified=(
            "the folder's own model_index.json, transformer/config.json and scheduler_config.json were not found: "
            "model_index follows the 0.9.7 conversion, the transformer 0.9.7-dev's 13B file, the scheduler the "
            "0.9.7 conversion (use_dynamic_shifting false)",
        ),
    ),
    "ltxv-spatial-upscaler-0.9.8": PublishedFolder(
        # 0.9.8's upsampler is a single file in Lightricks/LTX-Video, copied from this folder's weights:
        repo_id="Lightricks/ltxv-spatial-upscaler-0.9.7",
        pipeline_class="LTXLatentUpsamplePipeline",
        components={
            "latent_upsampler": ("ltx", "LTXLatentUpsamplerModel"),
            "vae": ("diffusers", "AutoencoderKLLTXVideo"),
        },
        configs={"latent_upsampler": LTX_LATENT_UPSAMPLER, "vae": LTX_VAE},
        sources=(
            CONVERT_LTX,
            "https://huggingface.co/Lightricks/LTX-Video/blob/main/ltxv-spatial-upscaler-0.9.8.safetensors",
        ),
        unverified=(
            "no diffusers-format 'ltxv-spatial-upscaler-0.9.8' repository was found; the layout is the conversion "
            "script's LTXLatentUpsamplePipeline(vae, latent_upsampler).save_pretrained",
            "model_index.json records latent_upsampler as ['ltx', 'LTXLatentUpsamplerModel'], as diffusers 0.42.1 "
            "writes a class defined under diffusers.pipelines.ltx",
        ),
    ),
    "LTX-2": PublishedFolder(
        repo_id="Lightricks/LTX-2",
        pipeline_class="LTX2Pipeline",
        components=LTX2_COMPONENTS,
        configs={
            "transformer": LTX2_TRANSFORMER,
            "connectors": LTX2_CONNECTORS,
            "vae": LTX2_VAE,
            "audio_vae": LTX2_AUDIO_VAE,
            "vocoder": LTX2_VOCODER,
            "scheduler": LTX2_SCHEDULER,
            "text_encoder": GEMMA3_12B,
        },
        sources=(CONVERT_LTX2, LTX2_MODEL_CARD),
        unverified=LTX2_UNVERIFIED,
    ),
    "LTX-2-19b-distilled": PublishedFolder(
        repo_id="rootonchair/LTX-2-19b-distilled",
        pipeline_class="LTX2Pipeline",
        components=LTX2_COMPONENTS,
        configs={
            "transformer": LTX2_TRANSFORMER,
            "connectors": LTX2_CONNECTORS,
            "vae": LTX2_VAE,
            "audio_vae": LTX2_AUDIO_VAE,
            "vocoder": LTX2_VOCODER,
            "scheduler": LTX2_SCHEDULER,
            "text_encoder": GEMMA3_12B,
        },
        sources=(CONVERT_LTX2, LTX2_MODEL_CARD),
        unverified=(*LTX2_UNVERIFIED, "the distilled checkpoint is taken to share the full model's architecture"),
    ),
    "HunyuanVideo-1.5-Diffusers-720p_t2v": PublishedFolder(
        repo_id="hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v",
        pipeline_class="HunyuanVideo15Pipeline",
        components=HUNYUAN15_COMPONENTS,
        configs={
            "transformer": HUNYUAN15_TRANSFORMER,
            "vae": HUNYUAN15_VAE,
            "scheduler": HUNYUAN15_T2V_SCHEDULER,
            "guider": HUNYUAN15_GUIDER,
            "text_encoder": QWEN25_VL_7B_TEXT,
            "text_encoder_2": BYT5_GLYPH,
        },
        sources=(CONVERT_HUNYUAN15, HUNYUAN15_README),
        unverified=HUNYUAN15_UNVERIFIED,
    ),
    "HunyuanVideo-1.5-Diffusers-720p_i2v": PublishedFolder(
        repo_id="hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_i2v",
        pipeline_class="HunyuanVideo15ImageToVideoPipeline",
        components={
            **HUNYUAN15_COMPONENTS,
            "image_encoder": ("transformers", "SiglipVisionModel"),
            "feature_extractor": ("transformers", "SiglipImageProcessor"),
        },
        configs={
            "transformer": HUNYUAN15_I2V_TRANSFORMER,
            "vae": HUNYUAN15_VAE,
            "scheduler": HUNYUAN15_I2V_SCHEDULER,
            "guider": HUNYUAN15_GUIDER,
            "text_encoder": QWEN25_VL_7B_TEXT,
            "text_encoder_2": BYT5_GLYPH,
            "image_encoder": SIGLIP_SO400M,
        },
        sources=(CONVERT_HUNYUAN15, HUNYUAN15_README),
        unverified=HUNYUAN15_UNVERIFIED,
    ),
}

FULL: dict[str, dict[str, Any]] = {
    "wan": {"transformer": WAN22_TRANSFORMER, "vae": WAN22_VAE, "text": (WAN_TEXT_DIM, WAN_TEXT_TOKENS)},
    "ltx": {"transformer": LTX_13B_TRANSFORMER, "vae": LTX_VAE, "text": (LTX_TEXT_DIM, LTX_TEXT_TOKENS)},
}

#: The same structures, shrunk (``--tiny``): a few seconds on a CPU.
TINY: dict[str, dict[str, Any]] = {
    "wan": {
        "transformer": {
            **WAN22_TRANSFORMER,
            "num_attention_heads": 2,
            "attention_head_dim": 12,
            "text_dim": 32,
            "freq_dim": 32,
            "ffn_dim": 48,
            "num_layers": 2,
            "rope_max_seq_len": 64,
        },
        "vae": {**WAN22_VAE, "base_dim": 2, "decoder_base_dim": 4, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 0},
        "text": (32, 16),
    },
    "ltx": {
        "transformer": {
            **LTX_13B_TRANSFORMER,
            "in_channels": 16,
            "out_channels": 16,
            "num_attention_heads": 2,
            "attention_head_dim": 8,
            "cross_attention_dim": 16,
            "num_layers": 2,
            "caption_channels": 32,
        },
        "vae": {
            **LTX_VAE,
            "latent_channels": 16,
            "block_out_channels": [4, 8, 16, 32, 64],
            "decoder_block_out_channels": [8, 16, 32],
            "layers_per_block": [1, 1, 1, 1, 1],
            "decoder_layers_per_block": [1, 1, 1, 1],
        },
        "text": (32, 16),
    },
}
