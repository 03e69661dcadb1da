"""The Wan engine: Wan 2.2 TI2V-5B, Wan 2.1 FLF2V and Wan 2.1 VACE on diffusers, from local
weights (docs/engines.md).

One request, one role, one pipeline:

=============  ==========================  ============================================
role           when                        pipeline (folder)
=============  ==========================  ============================================
text           no images                   WanPipeline (Wan2.2-TI2V-5B-Diffusers)
first_frame    a first *or* a last frame   WanImageToVideoPipeline (the same folder)
first_last     a first and a last frame    WanImageToVideoPipeline (Wan2.1-FLF2V-14B-720P)
references     reference images            WanVACEPipeline (Wan2.1-VACE-1.3B or -14B)
=============  ==========================  ============================================

A last frame alone is generated as a first frame and played backwards, so the clip ends on
it. An image-to-video request with a camera movement is steered by the preview engine's
render of that camera path on the first frame, as a VACE control video (when the VACE
weights are present; ``CINEFUSE_MOTION_GUIDE_STRENGTH``), on top of the camera phrasing.

The denoising loop is diffusers' own; the engine asks it for latents
(``output_type="latent"``) and decodes them itself, one latent frame at a time, so frames
stream to the encoder and a cancelled job never decodes. torch and diffusers are imported
when the engine is built, not when this module is (the API server reads ``SPEC``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.neural.grid import WAN21_GRID, WAN22_GRID, GridPlan, GridRule, cover, plan_grid, retime
from cinefuse.generation.neural.loras import LoraInfo, pick_lora
from cinefuse.generation.neural.prompting import plan_prompt
from cinefuse.generation.neural.weights import RoleWeights, find_role
from cinefuse.generation.registry import Availability, EngineSpec
from cinefuse.media.frames import Frame
from cinefuse.settings import Role, Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.runtime import LoadedPipeline, PipelineCache

log = logging.getLogger(__name__)

WAN_ROLES: tuple[Role, ...] = ("text", "first_frame", "first_last", "references")
#: Classifier-free guidance of the published Wan recipes; ``motionMode`` fast adds to it.
GUIDANCE = 5.0
FAST_GUIDANCE_BOOST = 1.0
#: ``motionMode`` fast multiplies the scheduler's flow shift: more of the schedule at high
#: noise, where the motion is decided.
FAST_SHIFT_FACTOR = 1.5
#: Prompt tokens the text encoder reads (the published Wan pipelines: 512).
MAX_SEQUENCE_LENGTH = 512


def wan_role(request: GenerationRequest) -> Role:
    if request.reference_images:
        return "references"
    if request.first_frame is not None and request.last_frame is not None:
        return "first_last"
    if request.first_frame is not None or request.last_frame is not None:
        return "first_frame"
    return "text"


def _pil(frame: Frame) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


class WanEngine:
    """``Engine`` on the Wan pipelines; pipelines load on first use and stay loaded."""

    name = "wan"

    def __init__(self, settings: Settings) -> None:
        from cinefuse.generation.neural.runtime import PipelineCache

        self.settings = settings
        self.cache: PipelineCache = PipelineCache(settings)
        #: What the last run activated (adapters, prompt), for logs and tests.
        self.last_run: dict[str, Any] = {}

    def weights(self, role: Role) -> RoleWeights:
        return find_role(self.settings, role)

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        role = wan_role(request)
        reverse = role == "first_frame" and request.first_frame is None
        if reverse:  # a last frame alone: generate from it and play backwards
            request = replace(request, first_frame=request.last_frame, last_frame=None)
        return self._frames(request, role, reverse, on_step)

    def _frames(self, request: GenerationRequest, role: Role, reverse: bool, on_step: StepCallback) -> Iterator[Frame]:
        from diffusers import WanImageToVideoPipeline, WanPipeline, WanVACEPipeline

        from cinefuse.generation.neural.parallel import is_follower, lockstep_group, preparing, running
        from cinefuse.generation.neural.runtime import StepBridge, active_adapters, gpu_errors, set_adapters

        group = lockstep_group(self.name, request)
        with preparing(group):
            guide = self._wants_guide(request, role)
            choices: dict[Role, tuple[type[Any], Role]] = {
                "text": (WanPipeline, "text"),
                "first_frame": (WanVACEPipeline, "references") if guide else (WanImageToVideoPipeline, "first_frame"),
                "first_last": (WanImageToVideoPipeline, "first_last"),
                "references": (WanVACEPipeline, "references"),
            }
            pipeline_class, weights_role = choices[role]
            loaded = self.cache.get(pipeline_class, self.weights(weights_role))
            pipe = loaded.pipe
            plan = plan_grid(_grid_rule(pipe), request.width, request.height, request.num_frames, request.fps)
            prompt = plan_prompt(request)
            wanted = [lora for names in prompt.lora_candidates if (lora := pick_lora(self.cache.loras, names, role))]
            adapters = set_adapters(loaded, wanted)
            text = ", ".join([prompt.prompt, *(word for lora in wanted for word in lora.trigger_words)])
            steps, guidance = self._recipe(loaded, role, request)
            inputs, dropped_frames = self._inputs(request, role, plan, guide)
            latent_frames = (plan.frames - 1) // pipe.vae.config.scale_factor_temporal + 1
        group = group if group is not None and loaded.parallel else None
        self.last_run = {"role": role, "sharded": group is not None}
        if group is None and is_follower():
            return  # a follower, and a pipeline that is not sharded: the leader runs it alone
        seen: list[list[str]] = []
        bridge = StepBridge(
            on_step,
            steps + latent_frames,
            observe=lambda p: seen.append(active_adapters(p)) if not seen and loaded.loras else None,
            agree=group.agree if group is not None else None,
        )
        self.last_run.update(prompt=text, loras=[lora.name for lora in wanted], adapters=seen)
        with running(group), gpu_errors(f"generating {plan.width}x{plan.height}x{plan.frames}"):
            output = pipe(
                prompt=text,
                negative_prompt=prompt.negative_prompt,
                height=plan.height,
                width=plan.width,
                num_frames=plan.frames,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=self.cache.generator(request.seed),
                output_type="latent",
                callback_on_step_end=bridge,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                **inputs,
            )
        bridge.raise_if_stopped()
        if is_follower():
            return  # only the leader decodes: the latents are complete on every rank
        if adapters:
            log.info("denoised with adapters %s active: %s", seen[0] if seen else adapters, text)
        latents = output.frames[:, :, dropped_frames:]
        clip = retime(plan, self._decode(pipe, latents, on_step, steps, bridge.total))
        if reverse:  # the whole clip, as uint8 frames: the causal decoder only runs forwards
            yield from reversed(list(clip))
        else:
            yield from clip

    def _wants_guide(self, request: GenerationRequest, role: Role) -> bool:
        return (
            role == "first_frame"
            and request.camera_movement is not None
            and self.settings.motion_guide_strength > 0
            and self.weights("references").ok
        )

    def _recipe(self, loaded: LoadedPipeline, role: Role, request: GenerationRequest) -> tuple[int, float]:
        """(steps, guidance) for this run; sets the scheduler's flow shift for it."""
        steps, guidance = self.settings.steps_for(role), GUIDANCE
        shift = _base_shift(loaded)
        distill: LoraInfo | None = loaded.distill
        if distill is not None:
            steps = distill.steps or self.settings.distill_steps
            guidance = distill.guidance if distill.guidance is not None else 1.0
            shift = distill.shift if distill.shift is not None else shift
        if request.motion_mode == "fast":
            shift = shift * FAST_SHIFT_FACTOR if shift is not None else None
            guidance = guidance + FAST_GUIDANCE_BOOST if distill is None else guidance
        scheduler = loaded.pipe.scheduler
        if shift is not None and scheduler.config.get("flow_shift") != shift:
            loaded.pipe.scheduler = type(scheduler).from_config(scheduler.config, flow_shift=shift)
        return steps, guidance

    def _inputs(
        self, request: GenerationRequest, role: Role, plan: GridPlan, guide: bool
    ) -> tuple[dict[str, Any], int]:
        """The role's pipeline inputs, and how many leading latent frames to drop (VACE puts
        the reference images' latents before the video's)."""
        size = (plan.width, plan.height)
        if role == "text":
            return {}, 0
        if role == "first_last":
            assert request.first_frame is not None and request.last_frame is not None
            return {
                "image": _pil(cover(request.first_frame, *size)),
                "last_image": _pil(cover(request.last_frame, *size)),
            }, 0
        if role == "first_frame" and not guide:
            assert request.first_frame is not None
            return {"image": _pil(cover(request.first_frame, *size))}, 0
        from PIL import Image

        refs = [_pil(cover(ref, *size)) for ref in request.reference_images]
        keep = Image.new("L", size, 0)  # VACE masks: black keeps the control frame, white generates
        free = Image.new("L", size, 255)
        video: list[Any] = [Image.new("RGB", size, (127, 127, 127))] * plan.frames
        mask: list[Any] = [free] * plan.frames
        scale = 1.0
        if guide:
            video, scale = (
                [_pil(frame) for frame in self._guide_frames(request, plan)],
                self.settings.motion_guide_strength,
            )
        if request.first_frame is not None:
            video = [_pil(cover(request.first_frame, *size)), *video[1:]]
            mask = [keep, *mask[1:]]
        if request.last_frame is not None:
            video = [*video[:-1], _pil(cover(request.last_frame, *size))]
            mask = [*mask[:-1], keep]
        inputs = {"video": video, "mask": mask, "conditioning_scale": scale}
        if refs:
            inputs["reference_images"] = refs
        return inputs, len(refs)

    def _guide_frames(self, request: GenerationRequest, plan: GridPlan) -> Iterable[Frame]:
        """The preview engine's render of the camera path on the first frame, on the grid."""
        from cinefuse.generation.preview import PreviewEngine

        guide = GenerationRequest(
            prompt=request.prompt,
            width=plan.width,
            height=plan.height,
            fps=plan.fps,
            num_frames=plan.frames,
            seed=request.seed,
            camera_movement=request.camera_movement,
            motion_mode=request.motion_mode,
            first_frame=request.first_frame,
        )
        return list(PreviewEngine().generate(guide))

    def _decode(self, pipe: Any, latents: Any, on_step: StepCallback, done: int, total: int) -> Iterator[Frame]:
        from cinefuse.generation.neural.decode import iter_decode_wan, to_frames, wan_denormalize
        from cinefuse.generation.neural.runtime import gpu_errors

        z = wan_denormalize(pipe.vae, latents.to(pipe.vae.device))
        chunks = iter_decode_wan(pipe.vae, z)
        for index in range(z.shape[2]):
            with gpu_errors("decoding"):
                chunk = next(chunks)
            on_step(done + index + 1, total)  # renews the lease, sees a cancel: between chunks
            yield from to_frames(chunk)


def _grid_rule(pipe: Any) -> GridRule:
    """Wan 2.2's VAE (48 latent channels, 16x) or Wan 2.1's (16 channels, 8x)."""
    return WAN22_GRID if pipe.vae.config.z_dim == 48 else WAN21_GRID


def _base_shift(loaded: LoadedPipeline) -> float | None:
    key = "_cinefuse_base_shift"
    if not hasattr(loaded, key):
        setattr(loaded, key, loaded.pipe.scheduler.config.get("flow_shift"))
    shift: float | None = getattr(loaded, key)
    return shift


def _check(settings: Settings) -> Availability:
    missing = [
        name for name in ("torch", "diffusers", "transformers", "peft") if importlib.util.find_spec(name) is None
    ]
    if missing:
        return Availability(False, f"not installed: {', '.join(missing)} (pip install 'cinefuse[gpu]')")
    found = {role: find_role(settings, role) for role in WAN_ROLES}
    if not found["text"].ok:
        return Availability(False, found["text"].problem or "no text-to-video weights")
    roles = ", ".join(f"{role}: {w.path.name if w.ok and w.path else 'missing'}" for role, w in found.items())
    return Availability(True, roles)


#: The registry's entry (``cinefuse.engines`` in pyproject.toml). Ranked above LTX-Video: the
#: quality engine runs ``pixverse:1@3`` when its weights are present.
SPEC = EngineSpec(name="wan", rank=20, check=_check, load=WanEngine, gpu=True)
