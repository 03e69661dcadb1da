"""What each common GPU size runs best: the weights folders, the quantization and the
offloading, chosen together (docs/engines.md, "GPU profiles"; the anchor is Wan2GP's
memory profiles for 6-24 GB cards).

``cinefuse models pull --for-gpu N`` fetches a row's folders; ``CINEFUSE_GPU_PROFILE``
(``auto``: the row of the visible GPU) fills in a row's quantization and offload for every
setting the operator left unset. The expected peak GPU memory of each row is computed from
the published configs by ``bench/gpu_profiles.py`` (parameter counts times the bytes of
each component's dtype), and docs/engines.md carries that script's table.

Rows use only combinations diffusers runs as documented: quantized weights stay resident
(no group offload over quantized tensors), and group offloading streams bfloat16 blocks,
only for the folders that do not fit resident (``as_needed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Quantization = Literal["none", "fp8", "int8", "nf4", "gguf"]
#: The text encoders have no GGUF files: the other backends only.
TextQuantization = Literal["none", "fp8", "int8", "nf4"]
GpuProfileName = Literal["none", "auto", "12", "16", "24", "48", "80"]

#: The weights folders of every row (catalogue names), by what they serve.
TI2V_5B = "Wan2.2-TI2V-5B-Diffusers"
FLF2V_14B = "Wan2.1-FLF2V-14B-720P-diffusers"
VACE_14B = "Wan2.1-VACE-14B-diffusers"
VACE_1_3B = "Wan2.1-VACE-1.3B-diffusers"
LTX_13B = "LTX-Video-0.9.8-13B-distilled"
LTX_UPSCALER = "ltxv-spatial-upscaler-0.9.7"
A14B_T2V = "Wan2.2-T2V-A14B-Diffusers"
A14B_I2V = "Wan2.2-I2V-A14B-Diffusers"
HUNYUAN_T2V = "HunyuanVideo-1.5-Diffusers-720p_t2v"
HUNYUAN_I2V = "HunyuanVideo-1.5-Diffusers-720p_i2v"


@dataclass(frozen=True)
class GpuProfile:
    """One row: a card of at least ``gib`` GiB runs ``folders`` with these settings."""

    gib: int
    #: The denoising transformers' weights (``CINEFUSE_QUANTIZATION``).
    quantization: Quantization
    #: The text encoders' weights (``CINEFUSE_TEXT_ENCODER_QUANTIZATION``).
    text_encoder_quantization: TextQuantization
    #: ``CINEFUSE_OFFLOAD``: ``as_needed`` streams the transformers of the folders that do
    #: not fit resident through the GPU block by block (group offload); the others stay.
    offload: Literal["none", "as_needed"]
    folders: tuple[str, ...]
    why: str


GPU_PROFILES: tuple[GpuProfile, ...] = (
    GpuProfile(
        12, "int8", "int8", "none", (TI2V_5B, VACE_1_3B),
        "TI2V-5B and the UMT5 encoder in int8 stay resident; the 14B models need more than 12 GB even streamed",
    ),
    GpuProfile(
        16, "none", "int8", "as_needed", (TI2V_5B, FLF2V_14B, VACE_1_3B),
        "the 14B first+last frame transformer streams block by block, the 5B stays resident; the encoder in int8",
    ),
    GpuProfile(
        24, "none", "none", "as_needed", (TI2V_5B, FLF2V_14B, VACE_14B, LTX_13B, LTX_UPSCALER),
        "every role, the 14B and 13B transformers streamed block by block in bfloat16, the 5B resident",
    ),
    GpuProfile(
        48, "none", "none", "none",
        (TI2V_5B, FLF2V_14B, VACE_14B, LTX_13B, LTX_UPSCALER, A14B_T2V, A14B_I2V, HUNYUAN_T2V, HUNYUAN_I2V),
        "every role in bfloat16, one stage (and one A14B expert) at a time; HunyuanVideo 1.5 at 720p too",
    ),
    GpuProfile(
        80, "none", "none", "none",
        (TI2V_5B, FLF2V_14B, VACE_14B, LTX_13B, LTX_UPSCALER, A14B_T2V, A14B_I2V, HUNYUAN_T2V, HUNYUAN_I2V),
        "every role in bfloat16, several models (both A14B experts) kept on the GPU between jobs",
    ),
)  # fmt: skip

#: A card a little under a row's size still runs it: an "L4 24 GB" shows 22.5 GiB to CUDA.
SIZE_SLACK = 1.1


def profile_for(gib: float) -> GpuProfile | None:
    """The row of a GPU with ``gib`` GiB (the largest row it reaches, allowing
    ``SIZE_SLACK``); None below the smallest row."""
    fitting = [p for p in GPU_PROFILES if p.gib <= gib * SIZE_SLACK]
    return fitting[-1] if fitting else None


def named_profile(name: str) -> GpuProfile | None:
    """The row called ``name`` (its size in GiB), None for ``none``/``auto``."""
    return next((p for p in GPU_PROFILES if str(p.gib) == name), None)
