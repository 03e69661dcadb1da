"""The fast engine: LTX-Video distilled (0.9.7 / 0.9.8) on diffusers' ``LTXConditionPipeline``,
from local weights (docs/engines.md). One role, ``fast``.

Keyframes go in as conditions at their frame index: a first frame at 0 is written into the
latent grid (the clip starts exactly on it); a last frame at the final index steers the
ending through attention. The distilled model runs its published timestep lists at
guidance 1.0; other step counts use the pipeline's own schedule.

With a latent upsampler folder present (role ``upscaler``: ``ltxv-spatial-upscaler-0.9.8``),
a clip follows the published two-stage recipe of the distilled models (diffusers'
LTX-Video docs): generate at half the refine size with the 8-step list, upsample the
latents 2x (``LTXLatentUpsamplePipeline``; 0.9.8 with tone mapping 0.6, as recommended),
refine with ``[1000, 909, 725, 421, 0]`` at strength 0.999 (4 steps), and scale the frames to
the requested size. The refine size is 4/3 of the requested one, as in the recipe, within
the model's cap. Without the upsampler, one pass at the requested size.

The pipeline always passes explicit timesteps and steps with per-token timesteps, so the
scheduler must not shift: it is rebuilt without dynamic shifting at load (a published
scheduler config with ``use_dynamic_shifting`` would fail or misstep otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.neural.grid import LTX_GRID, GridPlan, cover, describe_cap, native_rule, plan_grid, retime
from cinefuse.generation.neural.loras import pick_lora
from cinefuse.generation.neural.prompting import LTX_NEGATIVE, plan_prompt
from cinefuse.generation.neural.weights import find_role
from cinefuse.generation.registry import Availability, EngineSpec, not_installed
from cinefuse.media.frames import Frame
from cinefuse.settings import Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.loaded import LoadedModel
    from cinefuse.generation.neural.pipelines import PipelineCache

#: The distilled checkpoints' published timestep list for 8 steps.
DISTILLED_TIMESTEPS = [1000, 993, 987, 981, 975, 909, 725, 0.03]
#: The refine pass of the two-stage recipe: 5 timesteps at strength 0.999 run the last 4.
REFINE_TIMESTEPS = [1000, 909, 725, 421, 0]
REFINE_STRENGTH = 0.999
#: The refine pass runs at this multiple of the requested size (the recipe's 2 x 2/3).
REFINE_SUPERSAMPLE = 4 / 3
#: Tone mapping of the upsampled latents, recommended for 0.9.8 (0.9.7 has none).
TONE_MAP_098 = 0.6
GUIDANCE = 1.0
DECODE_TIMESTEP = 0.05
DECODE_NOISE_SCALE = 0.025
MAX_SEQUENCE_LENGTH = 256


@dataclass(frozen=True)
class Pass:
    """One pipeline call of a clip: its size, and its schedule."""

    width: int
    height: int
    schedule: dict[str, Any]
    steps: int


class LtxEngine:
    """``Engine`` on LTX-Video distilled; models load on first use and stay loaded, in the
    process's one ``PipelineCache``."""

    name = "ltx"

    def __init__(self, settings: Settings) -> None:
        from cinefuse.generation.neural.pipelines import PipelineCache

        self.settings = settings
        self.cache: PipelineCache = PipelineCache.shared(settings)
        self.last_run: dict[str, Any] = {}

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        if request.control_required:
            raise InferenceError(
                "The LTX-Video engine has no video-to-video, so it cannot edit a video; use a Wan model"
                " (cinefuse:wan@1) with the VACE weights.",
                parameter="video",
            )
        if request.reference_images:
            raise InferenceError(
                "The LTX-Video engine takes no reference images; use a Wan model (cinefuse:wan@1) for fusion.",
                parameter="inputs.referenceImages",
            )
        return self._frames(request, on_step)

    def after_job(self) -> None:
        from cinefuse.generation.neural.runtime import release_memory

        release_memory()

    def _frames(self, request: GenerationRequest, on_step: StepCallback) -> Iterator[Frame]:
        from diffusers import LTXConditionPipeline

        from cinefuse.generation.neural import adapters, speed
        from cinefuse.generation.neural.parallel import is_follower, lockstep_group, preparing
        from cinefuse.generation.neural.runtime import StepBridge, gpu_errors

        announced = lockstep_group(self.name, request)
        # LTX-Video's transformer is not sharded (parallel.SHARDABLE): the leader runs it
        # alone, and a follower loads nothing.
        with preparing(announced):
            weights = find_role(self.settings, "fast")
            idle = is_follower()
            if not idle:
                loaded = self.cache.load(weights)
                _unshifted_scheduler(loaded)
                pipe = loaded.as_pipeline(LTXConditionPipeline)
                upsampler = self._upsampler(loaded)
                rule = native_rule(loaded.folder)
                prompt = plan_prompt(request, LTX_NEGATIVE)
                wanted = [
                    lora
                    for names in prompt.lora_candidates
                    if (lora := pick_lora(self.cache.loras, names, "fast", loaded.base))
                ]
                active = adapters.activate(loaded, "fast", wanted)
                text = ", ".join([prompt.prompt, *(word for lora in active for word in lora.trigger_words)])
                plan, passes = self._passes(request, upsampler is not None)
                latent_frames = (plan.frames - 1) // pipe.vae.temporal_compression_ratio + 1
        if idle:
            return
        from cinefuse.generation.neural.decode import ltx_tiles, prepare_ltx_decode

        prepare_ltx_decode(pipe.vae)
        steps = sum(p.steps for p in passes)
        total = steps + ltx_tiles(pipe.vae, latent_frames)
        self.last_run = {
            "role": "fast", "sharded": False, "plan": plan, "model": rule.name, "prompt": text,
            "loras": [lora.name for lora in active], "passes": [(p.width, p.height, p.steps) for p in passes],
        }  # fmt: skip
        # Distilled: guidance 1.0, one pass per step; a client's guidance_scale above 1
        # (/v1/videos extra_body) runs classifier-free guidance with the negative prompt.
        guidance = request.guidance if request.guidance is not None else GUIDANCE
        separate_guidance = guidance > 1.0
        self.last_run["guidance"] = guidance
        self.cache.use(loaded, "encode")
        with gpu_errors("encoding the prompt"):
            embeds, mask, negative_embeds, negative_mask = pipe.encode_prompt(
                prompt=text,
                negative_prompt=prompt.negative_prompt if separate_guidance else None,
                do_classifier_free_guidance=separate_guidance,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                device=self.cache.device,
                dtype=loaded.transformer.dtype,
            )
        negatives = (
            {"negative_prompt_embeds": negative_embeds, "negative_prompt_attention_mask": negative_mask}
            if separate_guidance
            else {}
        )
        generator = self.cache.generator(request.seed)
        latents = None
        done = 0
        for index, step in enumerate(passes):
            if index > 0:  # between the passes: the latents upsampled 2x
                assert upsampler is not None and latents is not None
                self.cache.use(upsampler[0], "upsample")
                with gpu_errors("upsampling the latents"):
                    latents = upsampler[1](
                        latents=latents, adain_factor=1.0, tone_map_compression_ratio=upsampler[2], output_type="latent"
                    ).frames
            bridge = StepBridge(on_step, total, offset=done)
            self.cache.use(loaded, "denoise")
            refine = {"latents": latents, "denoise_strength": REFINE_STRENGTH} if index > 0 else {}
            with (
                speed.run_cache(self.settings, loaded, pipe, "fast", step.steps, separate_guidance),
                gpu_errors(f"generating {step.width}x{step.height}x{plan.frames}"),
            ):
                output = pipe(
                    conditions=self._conditions(request, plan, step) or None,
                    prompt_embeds=embeds,
                    prompt_attention_mask=mask,
                    **negatives,
                    height=step.height,
                    width=step.width,
                    num_frames=plan.frames,
                    frame_rate=plan.fps,
                    guidance_scale=guidance,
                    image_cond_noise_scale=0.0,
                    generator=generator,
                    output_type="latent",
                    callback_on_step_end=bridge,
                    **refine,
                    **step.schedule,
                )
            bridge.raise_if_stopped()
            latents = output.frames
            done += step.steps
            del output
        yield from retime(plan, self._decode(loaded, latents, generator, on_step, done, total))

    def _passes(self, request: GenerationRequest, two_stage: bool) -> tuple[GridPlan, list[Pass]]:
        """The native plan (the frames, and the size the decoded frames come at) and the
        pipeline calls that make it."""
        plan = plan_grid(LTX_GRID, request.width, request.height, request.num_frames, request.fps)
        steps = request.steps if request.steps is not None else self.settings.steps_for("fast")
        distilled = steps == len(DISTILLED_TIMESTEPS)
        schedule: dict[str, Any] = {"timesteps": DISTILLED_TIMESTEPS} if distilled else {"num_inference_steps": steps}
        if not two_stage:
            return plan, [Pass(plan.width, plan.height, schedule, steps)]
        width, height = refine_size(request.width, request.height)
        plan = replace(plan, width=width, height=height, fit="cover")
        first = Pass(width // 2, height // 2, schedule, steps)
        refine = Pass(width, height, {"timesteps": REFINE_TIMESTEPS}, len(REFINE_TIMESTEPS) - 1)
        return plan, [first, refine]

    def _conditions(self, request: GenerationRequest, plan: GridPlan, step: Pass) -> list[Any]:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        size = (step.width, step.height)
        conditions = []
        if request.first_frame is not None:
            conditions.append(LTXVideoCondition(image=_pil(cover(request.first_frame, *size)), frame_index=0))
        if request.last_frame is not None:
            last = _pil(cover(request.last_frame, *size))
            conditions.append(LTXVideoCondition(image=last, frame_index=plan.frames - 1))
        return conditions

    def _upsampler(self, loaded: LoadedModel) -> tuple[LoadedModel, Any, float] | None:
        """The latent upsampler as a pipeline on the fast model's own VAE (as the recipe
        builds it), with its tone mapping; None without an upsampler folder."""
        from diffusers import LTXLatentUpsamplePipeline

        weights = find_role(self.settings, "upscaler")
        if not weights.ok:
            return None
        model = self.cache.load(weights, components={"vae": loaded.pipe.vae})
        pipe = LTXLatentUpsamplePipeline(vae=loaded.pipe.vae, latent_upsampler=model.pipe.latent_upsampler)
        pipe.set_progress_bar_config(disable=True)
        tone_map = TONE_MAP_098 if "0.9.8" in loaded.folder.name or "0.9.8" in model.folder.name else 0.0
        return model, pipe, tone_map

    def _decode(
        self, loaded: LoadedModel, latents: Any, generator: Any, on_step: StepCallback, done: int, total: int
    ) -> Iterator[Frame]:
        from cinefuse.generation.neural.decode import iter_decode_ltx, ltx_prepare_decode, to_frames
        from cinefuse.generation.neural.runtime import gpu_errors

        # On the device, under CINEFUSE_OFFLOAD too (the budget moves the VAE for this stage).
        self.cache.use(loaded, "decode")
        vae = loaded.pipe.vae
        device = next(vae.parameters()).device
        z, temb = ltx_prepare_decode(vae, latents.to(device), DECODE_TIMESTEP, DECODE_NOISE_SCALE, generator)
        chunks = iter_decode_ltx(vae, z, temb)
        for index in range(total - done):
            with gpu_errors("decoding"):
                chunk = next(chunks)
            on_step(done + index + 1, total)  # renews the lease, sees a cancel: between chunks
            yield from to_frames(chunk)


def refine_size(width: int, height: int) -> tuple[int, int]:
    """The two-stage recipe's refine size for an output of ``width`` x ``height``: 4/3 of it,
    within LTX-Video's cap, each side a multiple of 64 (the first pass runs at half, on the
    32 px grid)."""
    w, h = width * REFINE_SUPERSAMPLE, height * REFINE_SUPERSAMPLE
    if LTX_GRID.max_area is not None and w * h > LTX_GRID.max_area:
        scale = math.sqrt(LTX_GRID.max_area / (w * h))
        w, h = w * scale, h * scale
    return max(64, round(w / 64) * 64), max(64, round(h / 64) * 64)


def _unshifted_scheduler(loaded: LoadedModel) -> None:
    """The condition pipeline's explicit, per-token timesteps need an unshifted schedule."""
    pipe = loaded.pipe
    scheduler = pipe.scheduler
    config = scheduler.config
    if config.get("use_dynamic_shifting") or config.get("shift", 1.0) != 1.0 or config.get("shift_terminal"):
        pipe.scheduler = type(scheduler).from_config(config, use_dynamic_shifting=False, shift=1.0, shift_terminal=None)
        for view in loaded.views.values():
            view.scheduler = pipe.scheduler


def _pil(frame: Frame) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


def _check(settings: Settings) -> Availability:
    absent = not_installed("torch", "diffusers", "transformers")
    if absent is not None:
        return absent
    weights = find_role(settings, "fast")
    if not weights.ok or weights.path is None:
        return Availability(False, weights.problem or "no LTX-Video weights")
    upscaler = find_role(settings, "upscaler")
    recipe = f"two-stage with {upscaler.path.name}" if upscaler.ok and upscaler.path else "one pass (no upsampler)"
    return Availability(True, f"fast: {weights.path.name} ({describe_cap(native_rule(weights.path))}), {recipe}")


#: The registry's entry (``cinefuse.engines`` in pyproject.toml).
SPEC = EngineSpec(name="ltx", rank=10, check=_check, load=LtxEngine, gpu=True)
