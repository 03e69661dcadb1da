"""The expected GPU memory of each GPU profile row (``cinefuse.gpu_profiles``), computed
from the published configs (``bench/model_configs.py``), not typed by hand.

Every component of every folder a row runs is built on the meta device from its published
config (nothing is allocated or downloaded) and sized the way cinefuse loads it: the dtypes
of ``pipelines.load_dtypes`` (bfloat16 on a GPU; Wan's VAE and image encoder in float32,
the modules a quantized diffusers model keeps in float32 too), Linear weights at the row's quantization with
their per-row scales (``quantize.QUANTIZED_BYTES``, ``ROW_BYTES``). A job runs in stages
(``pipelines.STAGES``): the text encoder alone, then the transformer with the VAE and image
encoder, then the VAE; the budget holds one stage at a time. With group offload the
transformer keeps only its non-block layers and two blocks (the one running and the one
prefetched) on the GPU.

On top of the weights comes the denoising activations' widest moment, estimated for the
model's largest native clip: one block's feed-forward holds its input, the normed input and
both sides of the activation (2 x width + 2 x FFN width values per token, bfloat16); the
classifier-free passes run one after the other. The VAE decode streams frame groups and is
not counted (about 1 GiB at full width on the CPU, docs/engines.md).

    python bench/gpu_profiles.py            # the table, and bench/results/gpu_profiles.json
    python bench/gpu_profiles.py --markdown # the table docs/engines.md carries
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from model_configs import FOLDERS  # noqa: E402

from cinefuse.generation.neural.pipelines import STAGES as PIPELINE_STAGES  # noqa: E402
from cinefuse.gpu_profiles import GPU_PROFILES, GpuProfile  # noqa: E402

GIB = 1024**3
RESULTS = HERE / "results"
#: Catalogue folder name -> its entry in model_configs (the 0.9.8 upsampler is the 0.9.7 one).
CONFIG_NAMES = {"ltxv-spatial-upscaler-0.9.7": "ltxv-spatial-upscaler-0.9.8"}
#: Each transformer's largest native clip in tokens (``grid.py``'s caps): latent frames x
#: latent height x latent width over the patch.
NATIVE_TOKENS = {
    # 1280x736, 121 frames; VAE 4x16x16, patch 1x2x2
    "Wan2.2-TI2V-5B-Diffusers": 31 * (736 // 32) * (1280 // 32),
    # 1280x720, 81 frames; VAE 4x8x8, patch 1x2x2
    "Wan2.1-FLF2V-14B-720P-diffusers": 21 * (720 // 16) * (1280 // 16),
    "Wan2.1-VACE-14B-diffusers": 21 * (720 // 16) * (1280 // 16),
    # 832x480, 81 frames
    "Wan2.1-VACE-1.3B-diffusers": 21 * (480 // 16) * (832 // 16),
    # 1280x736, 121 frames; VAE 8x32x32, patch 1
    "LTX-Video-0.9.8-13B-distilled": 16 * (736 // 32) * (1280 // 32),
    # Wan 2.2 A14B: 1280x720, 81 frames; VAE 4x8x8, patch 1x2x2
    "Wan2.2-T2V-A14B-Diffusers": 21 * (720 // 16) * (1280 // 16),
    "Wan2.2-I2V-A14B-Diffusers": 21 * (720 // 16) * (1280 // 16),
    # HunyuanVideo 1.5 720p: 1280x720, 121 frames; VAE 4x16x16, patch 1
    "HunyuanVideo-1.5-Diffusers-720p_t2v": 31 * (720 // 16) * (1280 // 16),
    "HunyuanVideo-1.5-Diffusers-720p_i2v": 31 * (720 // 16) * (1280 // 16),
}
#: The stages a job places on the GPU one at a time (the production table, less the upsampler's,
#: which is counted on its own).
STAGES = {stage: names for stage, names in PIPELINE_STAGES.items() if stage != "upsample"}


@dataclass
class Component:
    folder: str
    name: str
    #: Bytes resident while its stage runs, and held in host memory.
    device_bytes: int
    host_bytes: int
    key: str  # same key: one module shared between folders
    #: On the GPU while its stage runs when group offload streams it (a transformer).
    streamed_bytes: int = 0


@dataclass
class RowFigures:
    gib: int
    quantization: str
    text_encoder_quantization: str
    offload: str
    folders: list[str]
    largest_stage: str
    weights_gib: float
    activations_gib: float
    peak_gib: float
    budget_gib: float
    host_gib: float
    fits: bool


def build_meta(kind: str, config: dict[str, Any]) -> Any:
    import diffusers
    import transformers
    from accelerate import init_empty_weights

    if kind == "LTXLatentUpsamplerModel":
        from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel as cls
    else:
        cls = getattr(diffusers, kind, None) or getattr(transformers, kind)
    with init_empty_weights(include_buffers=False):
        if issubclass(cls, transformers.PreTrainedModel):
            return cls(cls.config_class(**config))
        return cls.from_config(config)


def sized(model: Any, dtype_bytes: int, quantization: str) -> tuple[int, int, int]:
    """(all bytes, bytes outside the top-level block lists, bytes of the largest block) of
    ``model`` loaded at ``dtype_bytes`` with its Linear weights at ``quantization``."""
    import torch

    from cinefuse.generation.neural.quantize import QUANTIZED_BYTES, ROW_BYTES, kept_in_fp32

    kept = kept_in_fp32(type(model), quantization)

    def module_bytes(prefix: str, module: torch.nn.Module) -> int:
        total = 0
        for name, sub in module.named_modules(prefix=prefix):
            fp32 = any(part in name.split(".") for part in kept)
            for param_name, param in sub.named_parameters(recurse=False):
                if quantization != "none" and isinstance(sub, torch.nn.Linear) and param_name == "weight" and not fp32:
                    total += (
                        int(param.numel() * QUANTIZED_BYTES[quantization]) + param.shape[0] * ROW_BYTES[quantization]
                    )
                else:
                    total += param.numel() * (4 if fp32 else dtype_bytes)
        return total

    whole = module_bytes("", model)
    blocks = [
        module_bytes(f"{list_name}.{index}", block)
        for list_name, child in model.named_children()
        if isinstance(child, torch.nn.ModuleList)
        for index, block in enumerate(child)
    ]
    return whole, whole - sum(blocks), max(blocks, default=0)


def folder_components(folder_name: str, profile: GpuProfile) -> list[Component]:
    import torch

    from cinefuse.generation.neural.pipelines import load_dtypes

    published = FOLDERS[CONFIG_NAMES.get(folder_name, folder_name)]
    dtypes = load_dtypes(published.pipeline_class, torch.bfloat16)
    components = []
    for name, entry in published.components.items():
        if entry is None or name in ("scheduler", "image_processor", "guider", "feature_extractor"):
            continue
        if name.startswith("tokenizer"):
            continue
        config = published.configs[name]
        dtype = dtypes.get(name, dtypes["default"])
        width = 4 if dtype == torch.float32 else 2
        quantization = {
            "transformer": profile.quantization,
            "transformer_2": profile.quantization,
            "text_encoder": profile.text_encoder_quantization,
        }.get(name, "none")
        if quantization == "gguf":  # rows use the diffusers backends; GGUF sizes are the files'
            quantization = "none"
        whole, outside_blocks, block = sized(build_meta(entry[1], config), width, quantization)
        # Streamed (group offload): the running block and the prefetched one on the GPU.
        streamed = outside_blocks + 2 * block if name in ("transformer", "transformer_2") else whole
        key = json.dumps([entry[1], config, quantization], sort_keys=True, default=str)
        components.append(Component(folder_name, name, whole, whole, key, streamed))
    # offload=as_needed streams a folder's transformers only where a denoising stage with
    # them resident exceeds the budget (PipelineCache.streams).
    budget = 0.9 * profile.gib * GIB
    sizes = {c.name: c.device_bytes for c in components}
    stages = [sum(sizes.get(n, 0) for n in STAGES[stage]) for stage in ("denoise", "denoise_low")]
    if profile.offload == "as_needed" and max(stages) > budget:
        components = [replace(c, device_bytes=c.streamed_bytes) for c in components]
    return components


def activations_bytes(folder_name: str) -> int:
    tokens = NATIVE_TOKENS.get(folder_name)
    if tokens is None:
        return 0
    config = FOLDERS[folder_name].configs["transformer"]
    heads = config["num_attention_heads"] * config["attention_head_dim"]
    ffn = config.get("ffn_dim") or 4 * heads  # LTX: FeedForward(mult=4)
    return tokens * (2 * heads + 2 * ffn) * 2


def row_figures(profile: GpuProfile) -> RowFigures:
    components = [c for folder in profile.folders for c in folder_components(folder, profile)]
    largest = ("", 0, 0)  # (stage description, weights, activations)
    for folder in profile.folders:
        mine = {c.name: c for c in components if c.folder == folder}
        for stage, names in STAGES.items():
            weights = sum(mine[n].device_bytes for n in names if n in mine)
            extra = activations_bytes(folder) if stage.startswith("denoise") else 0
            if weights + extra > largest[1] + largest[2]:
                largest = (f"{stage} {folder}", weights, extra)
        if "latent_upsampler" in mine:
            weights = mine["latent_upsampler"].device_bytes
            if weights > largest[1] + largest[2]:
                largest = (f"upsample {folder}", weights, 0)
    host = sum({c.key: c.host_bytes for c in components}.values())
    peak = largest[1] + largest[2]
    budget = 0.9 * profile.gib * GIB
    return RowFigures(
        gib=profile.gib,
        quantization=profile.quantization,
        text_encoder_quantization=profile.text_encoder_quantization,
        offload=profile.offload,
        folders=list(profile.folders),
        largest_stage=largest[0],
        weights_gib=round(largest[1] / GIB, 1),
        activations_gib=round(largest[2] / GIB, 1),
        peak_gib=round(peak / GIB, 1),
        budget_gib=round(budget / GIB, 1),
        host_gib=round(host / GIB, 1),
        fits=largest[1] <= budget and peak <= profile.gib * GIB,
    )


SHORT = {
    "Wan2.2-TI2V-5B-Diffusers": "TI2V-5B",
    "Wan2.1-FLF2V-14B-720P-diffusers": "FLF2V-14B",
    "Wan2.1-VACE-14B-diffusers": "VACE-14B",
    "Wan2.1-VACE-1.3B-diffusers": "VACE-1.3B",
    "LTX-Video-0.9.8-13B-distilled": "LTX-13B",
    "ltxv-spatial-upscaler-0.9.7": "LTX upsampler",
    "Wan2.2-T2V-A14B-Diffusers": "T2V-A14B",
    "Wan2.2-I2V-A14B-Diffusers": "I2V-A14B",
    "HunyuanVideo-1.5-Diffusers-720p_t2v": "HY1.5 T2V",
    "HunyuanVideo-1.5-Diffusers-720p_i2v": "HY1.5 I2V",
}


def markdown(rows: list[RowFigures]) -> str:
    lines = [
        "| GPU | quantization (transformer / text encoder) | offload | folders | largest stage | weights | activations"
        " | expected peak | host memory |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        stage, _, folder = row.largest_stage.partition(" ")
        lines.append(
            f"| {row.gib} GiB | {row.quantization} / {row.text_encoder_quantization} | {row.offload} |"
            f" {', '.join(SHORT[f] for f in row.folders)} | {stage} {SHORT.get(folder, folder)} |"
            f" {row.weights_gib} GiB | {row.activations_gib} GiB | {row.peak_gib} GiB | {row.host_gib} GiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print the docs/engines.md table only")
    parser.add_argument("--json", type=Path, default=RESULTS / "gpu_profiles.json")
    args = parser.parse_args(argv)
    rows = [row_figures(profile) for profile in GPU_PROFILES]
    if args.markdown:
        print(markdown(rows))
        return 0
    print(f"{'GPU':>6} {'quant':>11} {'offload':>7} {'largest stage':<42} {'weights':>8} {'activ.':>7}"
          f" {'peak':>6} {'budget':>7} {'host':>6} fits")  # fmt: skip
    for row in rows:
        print(
            f"{row.gib:>4}GiB {row.quantization + '/' + row.text_encoder_quantization:>11} {row.offload:>7}"
            f" {row.largest_stage:<42} {row.weights_gib:>8} {row.activations_gib:>7} {row.peak_gib:>6}"
            f" {row.budget_gib:>7} {row.host_gib:>6} {'yes' if row.fits else 'NO'}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
