"""The fast engine: LTX-Video distilled (0.9.7 / 0.9.8) on diffusers' ``LTXConditionPipeline``,
from local weights (docs/engines.md). One role, ``fast``.

Keyframes go in as conditions at their frame index: a first frame at 0 is written into the
latent grid (the clip starts exactly on it); a last frame at the final index steers the
ending through attention. The distilled model runs its published 8-step timestep list at
guidance 1.0; other step counts use the pipeline's own schedule.

The pipeline always passes explicit timesteps and steps with per-token timesteps, so the
scheduler must not shift: it is rebuilt without dynamic shifting at load (a published
scheduler config with ``use_dynamic_shifting`` would fail or misstep otherwise).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.neural.grid import LTX_GRID, cover, plan_grid, retime
from cinefuse.generation.neural.loras import pick_lora
from cinefuse.generation.neural.prompting import plan_prompt
from cinefuse.generation.neural.weights import find_role
from cinefuse.generation.registry import Availability, EngineSpec
from cinefuse.media.frames import Frame
from cinefuse.settings import Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.runtime import LoadedPipeline, PipelineCache

#: The distilled checkpoints' published timestep list for 8 steps.
DISTILLED_TIMESTEPS = [1000, 993, 987, 981, 975, 909, 725, 0.03]
GUIDANCE = 1.0
DECODE_TIMESTEP = 0.05
DECODE_NOISE_SCALE = 0.025
MAX_SEQUENCE_LENGTH = 256


class LtxEngine:
    """``Engine`` on LTX-Video distilled; the pipeline loads on first use and stays loaded."""

    name = "ltx"

    def __init__(self, settings: Settings) -> None:
        from cinefuse.generation.neural.runtime import PipelineCache

        self.settings = settings
        self.cache: PipelineCache = PipelineCache(settings)
        self.last_run: dict[str, Any] = {}

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        if request.reference_images:
            raise InferenceError(
                "The LTX-Video engine takes no reference images; use a Wan model (cinefuse:wan@1) for fusion.",
                parameter="inputs.referenceImages",
            )
        return self._frames(request, on_step)

    def _frames(self, request: GenerationRequest, on_step: StepCallback) -> Iterator[Frame]:
        from diffusers import LTXConditionPipeline
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        from cinefuse.generation.neural.decode import ltx_tiles
        from cinefuse.generation.neural.parallel import is_follower, lockstep_group, preparing, running
        from cinefuse.generation.neural.runtime import StepBridge, gpu_errors, set_adapters

        group = lockstep_group(self.name, request)
        with preparing(group):
            loaded = self.cache.get(LTXConditionPipeline, find_role(self.settings, "fast"))
            _unshifted_scheduler(loaded)
            pipe = loaded.pipe
            plan = plan_grid(LTX_GRID, request.width, request.height, request.num_frames, request.fps)
            prompt = plan_prompt(request)
            wanted = [lora for names in prompt.lora_candidates if (lora := pick_lora(self.cache.loras, names, "fast"))]
            set_adapters(loaded, wanted)
            text = ", ".join([prompt.prompt, *(word for lora in wanted for word in lora.trigger_words)])
            size = (plan.width, plan.height)
            conditions = []
            if request.first_frame is not None:
                conditions.append(LTXVideoCondition(image=_pil(cover(request.first_frame, *size)), frame_index=0))
            if request.last_frame is not None:
                last = _pil(cover(request.last_frame, *size))
                conditions.append(LTXVideoCondition(image=last, frame_index=plan.frames - 1))
            steps = self.settings.steps_for("fast")
            distilled = steps == len(DISTILLED_TIMESTEPS)
            schedule: dict[str, Any] = (
                {"timesteps": DISTILLED_TIMESTEPS} if distilled else {"num_inference_steps": steps}
            )
            latent_frames = (plan.frames - 1) // pipe.vae.temporal_compression_ratio + 1
        group = group if group is not None and loaded.parallel else None
        self.last_run = {"role": "fast", "sharded": group is not None}
        if group is None and is_follower():
            return  # a follower, and a pipeline that is not sharded: the leader runs it alone
        bridge = StepBridge(
            on_step, steps + ltx_tiles(pipe.vae, latent_frames), agree=group.agree if group is not None else None
        )
        self.last_run.update(prompt=text, loras=[lora.name for lora in wanted])
        generator = self.cache.generator(request.seed)
        with running(group), gpu_errors(f"generating {plan.width}x{plan.height}x{plan.frames}"):
            output = pipe(
                conditions=conditions or None,
                prompt=text,
                negative_prompt=prompt.negative_prompt,
                height=plan.height,
                width=plan.width,
                num_frames=plan.frames,
                frame_rate=plan.fps,
                guidance_scale=GUIDANCE,
                image_cond_noise_scale=0.0,
                generator=generator,
                output_type="latent",
                callback_on_step_end=bridge,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                **schedule,
            )
        bridge.raise_if_stopped()
        if is_follower():
            return  # only the leader decodes: the latents are complete on every rank
        yield from retime(plan, self._decode(pipe, output.frames, generator, on_step, steps, bridge.total))

    def _decode(
        self, pipe: Any, latents: Any, generator: Any, on_step: StepCallback, done: int, total: int
    ) -> Iterator[Frame]:
        from cinefuse.generation.neural.decode import iter_decode_ltx, ltx_prepare_decode, to_frames
        from cinefuse.generation.neural.runtime import gpu_errors

        vae = pipe.vae
        vae.use_framewise_decoding = True  # temporal tiles: frames leave a tile at a time
        z, temb = ltx_prepare_decode(vae, latents.to(vae.device), DECODE_TIMESTEP, DECODE_NOISE_SCALE, generator)
        chunks = iter_decode_ltx(vae, z, temb)
        for index in range(total - done):
            with gpu_errors("decoding"):
                chunk = next(chunks)
            on_step(done + index + 1, total)  # renews the lease, sees a cancel: between chunks
            yield from to_frames(chunk)


def _unshifted_scheduler(loaded: LoadedPipeline) -> None:
    """The condition pipeline's explicit, per-token timesteps need an unshifted schedule."""
    scheduler = loaded.pipe.scheduler
    config = scheduler.config
    if config.get("use_dynamic_shifting") or config.get("shift", 1.0) != 1.0 or config.get("shift_terminal"):
        loaded.pipe.scheduler = type(scheduler).from_config(
            config, use_dynamic_shifting=False, shift=1.0, shift_terminal=None
        )


def _pil(frame: Frame) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


def _check(settings: Settings) -> Availability:
    missing = [name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return Availability(False, f"not installed: {', '.join(missing)} (pip install 'cinefuse[gpu]')")
    weights = find_role(settings, "fast")
    if not weights.ok or weights.path is None:
        return Availability(False, weights.problem or "no LTX-Video weights")
    return Availability(True, f"fast: {weights.path.name}")


#: The registry's entry (``cinefuse.engines`` in pyproject.toml).
SPEC = EngineSpec(name="ltx", rank=10, check=_check, load=LtxEngine, gpu=True)
