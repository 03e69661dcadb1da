"""Published architectures of the neural engines' models, as constructor arguments.

Full size: Wan 2.2 TI2V-5B (transformer 5.00 B parameters, Wan 2.2 VAE) and LTX-Video 0.9.7 /
0.9.8 13B distilled (transformer 13.0 B, 0.9.7 VAE), from diffusers' conversion scripts
(``scripts/convert_wan_to_diffusers.py``, ``scripts/convert_ltx_to_diffusers.py``),
cross-checked against the original Wan 2.2 ``wan_ti2v_5B.py`` config. ``TINY`` shrinks the
same structures so ``gpu_bench.py --tiny`` runs on a CPU in seconds. Used by
``bench/gpu_bench.py`` to build the models with random weights: nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

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
    "rope_max_seq_len": 1024,
}
WAN22_VAE: dict[str, Any] = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "latents_mean": WAN22_LATENTS_MEAN,
    "latents_std": WAN22_LATENTS_STD,
    "is_residual": True,
    "in_channels": 12,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_temporal": 4,
    "scale_factor_spatial": 16,
}
#: UniPC, as published for the TI2V-5B folder.
WAN22_SCHEDULER: dict[str, Any] = {
    "prediction_type": "flow_prediction",
    "use_flow_sigmas": True,
    "num_train_timesteps": 1000,
    "flow_shift": 5.0,
}
WAN_TEXT_DIM, WAN_TEXT_TOKENS = 4096, 512

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
LTX_TEXT_DIM, LTX_TEXT_TOKENS = 4096, 128

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
