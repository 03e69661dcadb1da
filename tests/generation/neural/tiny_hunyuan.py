"""Tiny, randomly initialised HunyuanVideo 1.5 folders of the real diffusers/transformers classes.

``build_hunyuan(root)`` writes ``HunyuanVideo-1.5-Diffusers-720p_t2v`` (``HunyuanVideo15Pipeline``)
and ``build_hunyuan(root, image=True)`` ``HunyuanVideo-1.5-Diffusers-720p_i2v``
(``HunyuanVideo15ImageToVideoPipeline``, with the SigLIP image encoder and its processor), with
``save_pretrained``, under the names hunyuanvideo-community publishes them and with the class
names their ``model_index.json`` records (``Qwen2TokenizerFast``, ``SiglipImageProcessor``).
``build_hunyuan_lora(root)`` writes a LoRA for the tiny transformer, in diffusers' layout.

The structure is the published one (the 720p folders' configs, diffusers'
``scripts/convert_hunyuan_video1_5_to_diffusers.py``): the transformer's 65 = 2 x 32 + 1 input
channels become 2 x 4 + 1, patch 1, target size 960 (720p), the published shift (9 for text, 7
for image) and guidance 6; the VAE keeps its five levels, 16x spatial and 4x temporal
compression, only 8 channels wide; Qwen2.5-VL's text model three layers deep (the pipeline reads
the third hidden state from the end). Tokenizers are built here: Qwen's a byte-level BPE (every
byte a token, no merges) with Qwen's chat template markers, ByT5's needs no file. Every module
is ``.eval()``, everything is seeded, so builds are identical.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

T2V_FOLDER = "HunyuanVideo-1.5-Diffusers-720p_t2v"
I2V_FOLDER = "HunyuanVideo-1.5-Diffusers-720p_i2v"
LATENT_CHANNELS = 4
WIDTH = 16  # the transformer's inner width (2 heads x 8) == every text and image embedding width
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
#: Qwen2.5-VL's chat markup, all the pipeline's ``apply_chat_template`` needs.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SIGLIP_IMAGE, SIGLIP_PATCH = 16, 8
#: The published recipe the folders' configs carry (shift: 720p text 9, image 7; guidance 6).
SHIFT = {False: 9.0, True: 7.0}
GUIDANCE = 6.0


def qwen_tokenizer():
    """A byte-level BPE with no merges (each byte one token) and Qwen's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2Tokenizer

    vocab = {char: index for index, char in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for token in QWEN_SPECIALS:
        vocab[token] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>", unk_token=None, bos_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_qwen(vocab_size: int):
    from transformers import Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel

    config = Qwen2_5_VLTextConfig(
        vocab_size=vocab_size,
        hidden_size=WIDTH,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        rope_scaling={"type": "default", "rope_type": "default", "mrope_section": [1, 1, 2]},
        bos_token_id=None,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 3,
    )
    return Qwen2_5_VLTextModel(config).eval()


def tiny_byt5():
    """ByT5's encoder (published: byt5-small with the Glyph-SDXL tokens, 1472 wide)."""
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=384,  # ByT5Tokenizer's 256 bytes, 3 specials and 125 extra ids
        d_model=WIDTH,
        d_kv=8,
        d_ff=32,
        num_layers=2,
        num_heads=2,
        feed_forward_proj="gated-gelu",
        dropout_rate=0.0,
        is_encoder_decoder=False,
        use_cache=False,
    )
    return T5EncoderModel(config).eval()


def tiny_transformer(image: bool):
    from diffusers import HunyuanVideo15Transformer3DModel

    return HunyuanVideo15Transformer3DModel(
        in_channels=2 * LATENT_CHANNELS + 1,  # latents | condition latents | condition mask
        out_channels=LATENT_CHANNELS,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=2,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        patch_size=1,
        patch_size_t=1,
        qk_norm="rms_norm",
        text_embed_dim=WIDTH,
        text_embed_2_dim=WIDTH,
        image_embed_dim=WIDTH,
        rope_theta=256.0,
        rope_axes_dim=(2, 2, 4),
        target_size=960,
        task_type="i2v" if image else "t2v",
        use_meanflow=False,
    ).eval()


def tiny_vae():
    from diffusers import AutoencoderKLHunyuanVideo15

    return AutoencoderKLHunyuanVideo15(
        latent_channels=LATENT_CHANNELS,
        # Full resolution 2 wide, then 4; the levels that upsample in time need 8 (a frame's
        # channels are split in eight there). One resnet per level: a CPU decodes in seconds.
        block_out_channels=(2, 4, 8, 8, 8),
        layers_per_block=0,
        spatial_compression_ratio=16,
        temporal_compression_ratio=4,
    ).eval()


def tiny_siglip():
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    config = SiglipVisionConfig(
        hidden_size=WIDTH,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=SIGLIP_IMAGE,
        patch_size=SIGLIP_PATCH,
        hidden_act="gelu_pytorch_tanh",
        layer_norm_eps=1e-6,
    )
    processor = SiglipImageProcessor(
        size={"height": SIGLIP_IMAGE, "width": SIGLIP_IMAGE},
        resample=3,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return SiglipVisionModel(config).eval(), processor


def _rewrite_json(path: Path, update: dict[str, object]) -> None:
    data = json.loads(path.read_text())
    data.update(update)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def build_hunyuan(root: Path, image: bool = False, seed: int = 0) -> Path:
    """The tiny 720p text-to-video folder (``image``: the image-to-video one) under ``root``."""
    from diffusers import (
        ClassifierFreeGuidance,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15ImageToVideoPipeline,
        HunyuanVideo15Pipeline,
    )
    from transformers import ByT5Tokenizer

    tokenizer = qwen_tokenizer()
    torch.manual_seed(seed)
    transformer = tiny_transformer(image)
    torch.manual_seed(seed)
    vae = tiny_vae()
    torch.manual_seed(seed)
    text_encoder = tiny_qwen(len(tokenizer))
    torch.manual_seed(seed)
    text_encoder_2 = tiny_byt5()
    parts = {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": ByT5Tokenizer(),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=SHIFT[image]),
        "guider": ClassifierFreeGuidance(guidance_scale=GUIDANCE),
    }
    if image:
        torch.manual_seed(seed)
        parts["image_encoder"], parts["feature_extractor"] = tiny_siglip()
        pipe = HunyuanVideo15ImageToVideoPipeline(**parts)
    else:
        pipe = HunyuanVideo15Pipeline(**parts)
    folder = root / (I2V_FOLDER if image else T2V_FOLDER)
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    # transformers 5 writes its unified class names; the published folders record these.
    names = {"tokenizer": ["transformers", "Qwen2TokenizerFast"]}
    if image:
        names["feature_extractor"] = ["transformers", "SiglipImageProcessor"]
        _rewrite_json(
            folder / "feature_extractor" / "preprocessor_config.json", {"image_processor_type": "SiglipImageProcessor"}
        )
    _rewrite_json(folder / "model_index.json", names)
    return folder


def build_hunyuan_lora(root: Path, name: str = "inflate-it", seed: int = 1, rank: int = 4) -> Path:
    """``loras/<name>/`` with a LoRA for the tiny transformer in diffusers' layout
    (``transformer.transformer_blocks.N.attn.to_q.lora_A.weight`` ...), strong enough to change
    the clip, and its ``lora.json`` (trigger words)."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    inner = WIDTH
    tensors: dict[str, torch.Tensor] = {}
    for block in range(2):
        for module in ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "ff.net.2"):
            fan_in = 2 * inner if module == "ff.net.2" else inner
            prefix = f"transformer.transformer_blocks.{block}.{module}"
            tensors[f"{prefix}.lora_A.weight"] = torch.randn(rank, fan_in, generator=generator)
            tensors[f"{prefix}.lora_B.weight"] = torch.randn(inner, rank, generator=generator)
    folder = root / "loras" / name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "pytorch_lora_weights.safetensors"))
    (folder / "lora.json").write_text(json.dumps({"trigger_words": ["inflate it"], "scale": 1.0}) + "\n")
    return folder


def build_wan_lora(root: Path, name: str = "inflate", rank: int = 4, width: int = 24) -> Path:
    """``loras/<name>/``: a LoRA for a Wan transformer (the original Wan key layout), which a
    HunyuanVideo 1.5 transformer must never be given."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(2)
    prefix = "diffusion_model.blocks.0.self_attn.q"
    tensors = {
        f"{prefix}.lora_down.weight": torch.randn(rank, width, generator=generator),
        f"{prefix}.lora_up.weight": torch.randn(width, rank, generator=generator),
    }
    folder = root / "loras" / name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "inflate.safetensors"))
    return folder
