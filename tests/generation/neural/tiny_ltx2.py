"""Tiny, randomly initialised LTX-2 folders of the real diffusers/transformers classes.

``build_ltx2(root)`` writes ``LTX-2`` (the full model's layout: ``LTX2Pipeline`` with a
Gemma 3 text encoder, the text connectors, the joint audio+video transformer, the video and
audio VAEs and the vocoder, plus the ``latent_upsampler/`` subfolder and the stage-2 distilled
LoRA file the published folder carries); ``build_ltx2(root, distilled=True)`` the distilled
checkpoint's folder ``LTX-2-19b-distilled`` (same layout, no stage-2 LoRA). The structure
follows diffusers' own tiny LTX-2 test components (``tests/pipelines/ltx2/test_ltx2.py``),
with the video VAE in its published structure (32x spatial, 8x temporal) at tiny widths and
the audio at 1.6 kHz (a hop of 16 samples, the vocoder's 16x upsampling), so a second of
sound is 1600 samples. The Gemma tokenizer is a ``tokenizers`` WordLevel model with the
fixed vocabulary of ``tiny_weights`` (saved as ``PreTrainedTokenizerFast``), every module is
``.eval()``, everything is seeded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from tests.generation.neural.tiny_weights import SPECIALS, WORDS, _rewrite_json

#: The full folder's stage-2 distilled LoRA, under its published file name.
STAGE2_LORA = "ltx-2-19b-distilled-lora-384.safetensors"
GEMMA_HIDDEN = 16
GEMMA_LAYERS = 2
VOCAB_SIZE = 64


def gemma_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([*SPECIALS, "<bos>"])}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<bos>",
        model_max_length=32,  # the engine pads prompts to min(1024, this)
    )


def tiny_gemma3():
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    config = Gemma3Config(
        text_config={
            "vocab_size": VOCAB_SIZE,
            "hidden_size": GEMMA_HIDDEN,
            "intermediate_size": 32,
            "num_hidden_layers": GEMMA_LAYERS,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 8,
            "max_position_embeddings": 256,
            "sliding_window": 64,
            "pad_token_id": 0,
            "eos_token_id": 1,
            "bos_token_id": 3,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
        image_token_index=VOCAB_SIZE - 1,
        boi_token_index=VOCAB_SIZE - 2,
        eoi_token_index=VOCAB_SIZE - 3,
    )
    return Gemma3ForConditionalGeneration(config).eval()


def tiny_components(seed: int = 0) -> dict:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    torch.manual_seed(seed)
    text_encoder = tiny_gemma3()
    torch.manual_seed(seed)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=GEMMA_HIDDEN,
        rope_double_precision=False,
        rope_type="split",
    ).eval()
    torch.manual_seed(seed)
    connectors = LTX2TextConnectors(
        caption_channels=GEMMA_HIDDEN,
        text_proj_in_factor=GEMMA_LAYERS + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=4,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=4,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    ).eval()
    torch.manual_seed(seed)
    # The published structure (4 down blocks: spatial, temporal, spatiotemporal x2; patch 4;
    # 32x spatial, 8x temporal; residual 2x upsamplers), every width cut.
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(4, 8, 16, 32),
        decoder_block_out_channels=(8, 16, 32),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, True),
        decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
        upsample_type=("spatiotemporal", "spatiotemporal", "spatiotemporal"),
        upsample_residual=(True, True, True),
        upsample_factor=(2, 2, 2),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
        spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    ).eval()
    torch.manual_seed(seed)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=1600,
        mel_hop_length=16,
        is_causal=True,
        mel_bins=8,
    ).eval()
    torch.manual_seed(seed)
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[8, 8],
        upsample_factors=[4, 4],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=1600,
    ).eval()
    # The published scheduler: dynamic shifting from the token count.
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05)
    return {
        "transformer": transformer,
        "vae": vae,
        "audio_vae": audio_vae,
        "scheduler": scheduler,
        "text_encoder": text_encoder,
        "tokenizer": gemma_tokenizer(),
        "connectors": connectors,
        "vocoder": vocoder,
    }


def build_ltx2(root: Path, distilled: bool = False, seed: int = 0, upsampler: bool = True) -> Path:
    """``LTX-2`` (or ``LTX-2-19b-distilled``) under ``root``; with ``upsampler`` its
    ``latent_upsampler/`` subfolder (``LTX2LatentUpsamplerModel`` on the 8 latent channels)."""
    from diffusers import LTX2Pipeline
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    components = tiny_components(seed)
    pipe = LTX2Pipeline(**components)
    folder = Path(root) / ("LTX-2-19b-distilled" if distilled else "LTX-2")
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    _rewrite_json(folder / "model_index.json", {"tokenizer": ["transformers", "PreTrainedTokenizerFast"]})
    _rewrite_json(folder / "tokenizer" / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast"})
    if upsampler:
        torch.manual_seed(seed)
        model = LTX2LatentUpsamplerModel(in_channels=8, mid_channels=32, num_blocks_per_stage=1).eval()
        model.save_pretrained(folder / "latent_upsampler", safe_serialization=True)
    if not distilled:
        write_stage2_lora(components["transformer"], folder / STAGE2_LORA, seed=seed + 1)
    return folder


def write_stage2_lora(transformer, path: Path, seed: int, rank: int = 2, audio: bool = False) -> None:
    """A LoRA on the video self-attention projections of ``transformer`` (and with ``audio``
    the audio ones: what marks an LTX-2 LoRA), in diffusers' key layout
    (``transformer.transformer_blocks.N.attn1.to_q.lora_A.weight``)."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in transformer.named_modules():
        targets = ("attn1.to_q", "attn1.to_k", "attn1.to_v")
        if not name.endswith(targets) or (name.split(".")[-2] == "audio_attn1" and not audio):
            continue
        out_features, in_features = module.weight.shape
        tensors[f"transformer.{name}.lora_A.weight"] = torch.randn(rank, in_features, generator=generator) * 0.05
        tensors[f"transformer.{name}.lora_B.weight"] = torch.randn(out_features, rank, generator=generator) * 0.05
    save_file(tensors, str(path))
