"""GPU benchmark of the neural engines: seconds per step, projected clip time, peak memory.

Builds the full-size Wan 2.2 TI2V-5B and LTX-Video 13B distilled architectures from their
published configs with random weights (``bench/model_configs.py``: nothing is downloaded),
runs diffusers' real denoising loop at 1280x704 x 121 frames (Wan) and 768x512 x 121 (LTX)
for a few steps, then the engines' own streaming VAE decode, with and without each speed
option (torch.compile, attention backend, first-block cache, TaylorSeer, pyramid attention
broadcast, a step-distillation recipe: 4 steps at guidance 1.0). Text encoders are left out
(random prompt embeddings), so "projected" times are transformer steps plus the decode.

    python bench/gpu_bench.py                 # on a GPU (bfloat16)
    python bench/gpu_bench.py --tiny          # the same code on tiny configs, on the CPU

Reported per engine and option: median seconds per denoising step, the projected time of a
5 s 720p clip (published steps x step time + decode), peak GPU memory, GPU-seconds per clip,
and (``--host-ram``) host RAM over the loaded weights while a 1080p 5 s clip streams through
the decoder into the real encoder. Prints a table, writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from model_configs import FULL, TINY  # noqa: E402

from cinefuse.generation.neural.decode import (  # noqa: E402
    iter_decode_ltx,
    iter_decode_wan,
    ltx_prepare_decode,
    ltx_tiles,
    to_frames,
    wan_denormalize,
)

#: Steps of the published recipes: Wan quality 50, LTX distilled 8, a distillation LoRA 4.
PUBLISHED_STEPS = {"wan": 50, "ltx": 8}
DISTILL_STEPS = 4
GEOMETRY = {"wan": (1280, 704, 121), "ltx": (768, 512, 121)}
TINY_GEOMETRY = {"wan": (128, 96, 17), "ltx": (128, 96, 17)}
#: Published classifier-free guidance (Wan runs two transformer passes a step, LTX distilled one).
GUIDANCE = {"wan": 5.0, "ltx": 1.0}


@dataclass
class Row:
    engine: str
    option: str
    width: int
    height: int
    frames: int
    steps_run: int
    step_seconds: float
    decode_seconds: float
    projected_clip_seconds: float
    peak_gpu_gib: float
    gpu_seconds_per_clip: float
    notes: list[str] = field(default_factory=list)


def device_and_dtype(tiny: bool) -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available() and not tiny:
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def build(cls: Any, config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    """Random weights, built on the device (real buffers: Wan's RoPE tables), cast like
    ``from_pretrained(dtype=...)`` would, keeping the class's fp32 modules in fp32."""
    torch.manual_seed(0)
    with torch.device(device):
        model = cls(**config)
    model.to(dtype)
    keep = getattr(cls, "_keep_in_fp32_modules", None) or []
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if any(part in name.split(".") for part in keep):
            tensor.data = tensor.data.float()
    return model.eval().requires_grad_(False)


def make_pipeline(engine: str, configs: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    import diffusers

    diffusers.utils.logging.set_verbosity_error()
    if engine == "wan":
        transformer = build(diffusers.WanTransformer3DModel, configs["transformer"], device, dtype)
        vae = build(diffusers.AutoencoderKLWan, configs["vae"], device, torch.float32)
        scheduler = diffusers.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=5.0
        )
        pipe = diffusers.WanPipeline(
            tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, transformer=transformer,
            expand_timesteps=True,
        )  # fmt: skip
    else:
        transformer = build(diffusers.LTXVideoTransformer3DModel, configs["transformer"], device, dtype)
        vae = build(diffusers.AutoencoderKLLTXVideo, configs["vae"], device, dtype)
        scheduler = diffusers.FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False)
        pipe = diffusers.LTXConditionPipeline(
            scheduler=scheduler, vae=vae, text_encoder=None, tokenizer=None, transformer=transformer
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def apply_option(pipe: Any, option: str, device: torch.device) -> tuple[int | None, float | None]:
    """Apply one speed option; returns (steps, guidance) overrides of the recipe."""
    import diffusers

    transformer = pipe.transformer
    if option == "compile":
        transformer.compile_repeated_blocks(fullgraph=True)
    elif option == "attention":
        backend = "_native_cudnn" if device.type == "cuda" else "_native_math"
        transformer.set_attention_backend(backend)
    elif option == "first_block_cache":
        transformer.enable_cache(diffusers.FirstBlockCacheConfig(threshold=0.05))
    elif option == "taylorseer":
        transformer.enable_cache(
            diffusers.TaylorSeerCacheConfig(
                cache_interval=3,
                disable_cache_before_step=2,
                max_order=1,
                cache_identifiers=[r"blocks\.\d+\.attn1", r"blocks\.\d+\.attn2", r"blocks\.\d+\.ffn"]
                if "Wan" in type(transformer).__name__
                else None,
                taylor_factors_dtype=transformer.dtype,
            )
        )
    elif option == "pab":
        transformer.enable_cache(
            diffusers.PyramidAttentionBroadcastConfig(
                spatial_attention_block_skip_range=2,
                spatial_attention_timestep_skip_range=(100, 950),
                current_timestep_callback=lambda: pipe.current_timestep,
            )
        )
    elif option == "distill":
        return DISTILL_STEPS, 1.0
    elif option == "vae_tiling":
        pipe.vae.enable_tiling()
    return None, None


def text_inputs(engine: str, configs: dict[str, Any], device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    dim, tokens = configs["text"]
    embeds = torch.randn(1, tokens, dim, device=device, dtype=dtype)
    negative = torch.randn(1, tokens, dim, device=device, dtype=dtype)
    if engine == "wan":
        return {"prompt_embeds": embeds, "negative_prompt_embeds": negative}
    mask = torch.ones(1, tokens, device=device, dtype=torch.long)
    return {
        "prompt_embeds": embeds,
        "prompt_attention_mask": mask,
        "negative_prompt_embeds": negative,
        "negative_prompt_attention_mask": mask,
    }


def run_case(engine: str, option: str, args: argparse.Namespace) -> Row:
    device, dtype = device_and_dtype(args.tiny)
    configs = (TINY if args.tiny else FULL)[engine]
    width, height, frames = (TINY_GEOMETRY if args.tiny else GEOMETRY)[engine]
    pipe = make_pipeline(engine, configs, device, dtype)
    steps_override, guidance_override = apply_option(pipe, option, device)
    guidance = guidance_override if guidance_override is not None else GUIDANCE[engine]
    marks: list[float] = []

    def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        marks.append(time.perf_counter())
        return {}

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    generator = torch.Generator(device=device).manual_seed(0)
    started = time.perf_counter()
    output = pipe(
        height=height,
        width=width,
        num_frames=frames,
        num_inference_steps=args.steps,
        guidance_scale=guidance,
        generator=generator,
        output_type="latent",
        callback_on_step_end=on_step,
        **text_inputs(engine, configs, device, dtype),
    )
    gaps = [b - a for a, b in zip([started, *marks], marks, strict=False)]
    # The first step pays compilation and warm-up: the median of the others is the step time.
    step_seconds = statistics.median(gaps[1:] if len(gaps) > 1 else gaps)
    decode_started = time.perf_counter()
    decoded = sum(1 for _ in decode(engine, pipe, output.frames, generator))
    if device.type == "cuda":
        torch.cuda.synchronize()
    decode_seconds = time.perf_counter() - decode_started
    peak = torch.cuda.max_memory_allocated() / 1024**3 if device.type == "cuda" else 0.0
    steps = steps_override or PUBLISHED_STEPS[engine]
    projected = steps * step_seconds + decode_seconds
    notes = [f"decoded {decoded} frames", f"guidance {guidance:g}", f"{steps} steps projected"]
    del pipe, output
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return Row(engine, option, width, height, frames, len(gaps), step_seconds, decode_seconds, projected, peak,
               projected, notes)  # fmt: skip


def decode(engine: str, pipe: Any, latents: Any, generator: Any) -> Any:
    vae = pipe.vae
    with torch.inference_mode():
        if engine == "wan":
            for chunk in iter_decode_wan(vae, wan_denormalize(vae, latents)):
                yield from to_frames(chunk)
        else:
            vae.use_framewise_decoding = True
            z, temb = ltx_prepare_decode(vae, latents, 0.05, 0.025, generator)
            assert ltx_tiles(vae, z.shape[2]) > 0
            for chunk in iter_decode_ltx(vae, z, temb):
                yield from to_frames(chunk)


def host_ram_while_decoding(args: argparse.Namespace) -> dict[str, float]:
    """Host RAM (RSS) over the loaded VAE while a 1080p 5 s Wan clip (121 frames at 24 fps)
    streams through the decoder into the real MP4 encoder."""
    from cinefuse.media.video import encode_frames

    device, _ = device_and_dtype(args.tiny)
    configs = (TINY if args.tiny else FULL)["wan"]
    width, height, frames = (256, 144, 17) if args.tiny else (1920, 1088, 121)
    import diffusers

    vae = build(diffusers.AutoencoderKLWan, configs["vae"], device, torch.float32)
    latents = torch.randn(1, 48, (frames - 1) // 4 + 1, height // 16, width // 16, device=device)
    gc.collect()
    baseline = rss_mib()
    peak = baseline
    samples: list[float] = []

    def frames_out() -> Any:
        nonlocal peak
        for frame in (f[:height, :width] for f in decode("wan", type("P", (), {"vae": vae})(), latents, None)):
            peak = max(peak, rss_mib())
            samples.append(peak)
            yield frame

    with tempfile.TemporaryDirectory() as tmp:
        encode_frames(frames_out(), Path(tmp) / "clip.mp4", fmt="MP4", width=width, height=height, fps=24, quality=80)
    return {"baseline_rss_mib": baseline, "peak_rss_mib": peak, "over_weights_mib": peak - baseline}


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


OPTIONS = ("baseline", "attention", "first_block_cache", "taylorseer", "pab", "distill", "vae_tiling", "compile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU (the test suite runs this)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps run per case (default 4, tiny 2)")
    parser.add_argument("--engines", default="wan,ltx")
    parser.add_argument("--options", default=",".join(o for o in OPTIONS if o != "compile"),
                        help=f"comma-separated, from {', '.join(OPTIONS)}")  # fmt: skip
    parser.add_argument("--host-ram", action="store_true", help="also measure host RAM while decoding 1080p")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "gpu_bench.json")
    args = parser.parse_args(argv)
    args.steps = args.steps or (2 if args.tiny else 4)
    device, dtype = device_and_dtype(args.tiny)
    rows: list[Row] = []
    for engine in args.engines.split(","):
        for option in args.options.split(","):
            try:
                rows.append(run_case(engine, option, args))
            except Exception as exc:  # an option this device cannot run: report it, keep going
                failed = [f"failed: {type(exc).__name__}: {exc}"]
                rows.append(Row(engine, option, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, failed))
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "dtype": str(dtype),
        "tiny": args.tiny,
        "rows": [asdict(row) for row in rows],
    }
    if args.host_ram:
        report["host_ram_1080p_decode"] = host_ram_while_decoding(args)
    print(f"device {report['device']} ({report['dtype']}){' TINY configs' if args.tiny else ''}")
    header = f"{'engine':6} {'option':18} {'size':>15} {'s/step':>8} {'decode s':>9} {'clip s':>8} {'peak GiB':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        size = f"{row.width}x{row.height}x{row.frames}"
        print(f"{row.engine:6} {row.option:18} {size:>15} {row.step_seconds:8.3f} {row.decode_seconds:9.2f} "
              f"{row.projected_clip_seconds:8.2f} {row.peak_gpu_gib:9.2f}  {'; '.join(row.notes)}")  # fmt: skip
    if "host_ram_1080p_decode" in report:
        ram = report["host_ram_1080p_decode"]
        print(f"host RAM while decoding: {ram['over_weights_mib']:.0f} MiB over the loaded VAE")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(not row.notes or not row.notes[0].startswith("failed") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
