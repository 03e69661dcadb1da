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

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.neural.grid import (
    WAN21_480P_GRID,
    WAN21_GRID,
    WAN22_GRID,
    GridPlan,
    GridRule,
    cover,
    describe_cap,
    native_rule,
    plan_grid,
    retime,
    shard_plan,
)
from cinefuse.generation.neural.loras import pick_lora
from cinefuse.generation.neural.prompting import WAN_NEGATIVE, plan_prompt
from cinefuse.generation.neural.weights import RoleWeights, find_role
from cinefuse.generation.registry import Availability, EngineSpec, not_installed
from cinefuse.media.frames import Frame
from cinefuse.settings import Role, Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.loaded import LoadedModel
    from cinefuse.generation.neural.pipelines import PipelineCache
    from cinefuse.generation.neural.runtime import StepBridge

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
#: VACE's "nothing here" pixel: gray 127 is about 0 in the model's [-1, 1] range.
NEUTRAL_GRAY = (127, 127, 127)


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
    """``Engine`` on the Wan pipelines; models load on first use and stay loaded, in the
    process's one ``PipelineCache`` (shared with the other neural engines)."""

    name = "wan"

    def __init__(self, settings: Settings) -> None:
        from cinefuse.generation.neural.pipelines import PipelineCache

        self.settings = settings
        self.cache: PipelineCache = PipelineCache.shared(settings)
        #: What the last run did (role, plan, adapters, prompt, recipe), for logs and tests.
        self.last_run: dict[str, Any] = {}

    def weights(self, role: Role) -> RoleWeights:
        return find_role(self.settings, role)

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        role = wan_role(request)
        reverse = role == "first_frame" and request.first_frame is None
        if reverse:  # a last frame alone: generate from it and play backwards
            request = replace(request, first_frame=request.last_frame, last_frame=None)
        return self._frames(request, role, reverse, on_step)

    def after_job(self) -> None:
        from cinefuse.generation.neural.runtime import release_memory

        release_memory()

    def _frames(self, request: GenerationRequest, role: Role, reverse: bool, on_step: StepCallback) -> Iterator[Frame]:
        from diffusers import WanImageToVideoPipeline, WanPipeline, WanVACEPipeline

        from cinefuse.generation.neural import adapters, speed
        from cinefuse.generation.neural.parallel import is_follower, lockstep_group, preparing, running, shardable
        from cinefuse.generation.neural.pipelines import transformer_class
        from cinefuse.generation.neural.runtime import StepBridge, gpu_errors

        announced = lockstep_group(self.name, request)
        group = None
        with preparing(announced):
            guide = self._wants_guide(request, role)
            control = self._wants_control(request)
            vace: tuple[type[Any], Role] = (WanVACEPipeline, "references")
            choices: dict[Role, tuple[type[Any], Role]] = {
                "text": vace if control else (WanPipeline, "text"),
                "first_frame": vace if guide or control else (WanImageToVideoPipeline, "first_frame"),
                "first_last": vace if control else (WanImageToVideoPipeline, "first_last"),
                "references": vace,
            }
            pipeline_class, weights_role = choices[role]
            weights = self.weights(weights_role)
            folder = weights.path if weights.ok else None
            rule = native_rule(folder) if folder is not None else WAN22_GRID
            plan = plan_grid(rule, request.width, request.height, request.num_frames, request.fps)
            if announced is not None and folder is not None and shardable(transformer_class(folder)):
                group = announced
                plan = shard_plan(rule, plan, group.world)
            # A follower leaves a clip that is not sharded to the leader without loading
            # anything: the transformer's class comes from the folder's config.
            idle = group is None and is_follower()
            if not idle:
                loaded = self.cache.load(weights)
                pipe = loaded.as_pipeline(pipeline_class)
                prompt = plan_prompt(request, WAN_NEGATIVE)
                wanted = [
                    lora
                    for names in prompt.lora_candidates
                    if (lora := pick_lora(self.cache.loras, names, role, loaded.base))
                ]
                active = adapters.activate(loaded, role, wanted)
                text = ", ".join([prompt.prompt, *(word for lora in active for word in lora.trigger_words)])
                steps, guidance = self._recipe(loaded, pipe, rule, role, request)
                extras = self._call_extras(loaded, role, request)
                inputs, dropped_frames = self._inputs(request, role, plan, guide, control)
                latent_frames = (plan.frames - 1) // pipe.vae.config.scale_factor_temporal + 1
        if idle:
            return
        seen: list[list[str]] = []
        bridge = StepBridge(
            on_step,
            steps + latent_frames,
            observe=lambda p: seen.append(adapters.active_adapters(p)) if not seen and loaded.loras else None,
            agree=group.agree if group is not None else None,
        )
        self.last_run = {
            "role": role, "sharded": group is not None, "plan": plan, "model": rule.name, "prompt": text,
            "loras": [lora.name for lora in active], "adapters": seen, "steps": steps, "guidance": guidance,
            "shift": pipe.scheduler.config.get("flow_shift"), "control_video": control,
        }  # fmt: skip
        log.info(
            "wan %s on %s (%s): %d steps, guidance %.2f%s", role, loaded.folder.name, type(pipe).__name__, steps,
            guidance, f", steered by a control video of {len(request.control_video)} frames" if control else "",
        )  # fmt: skip
        separate_guidance = guidance > 1.0 or extras.get("guidance_scale_2", 1.0) > 1.0
        callback = self._expert_switch(loaded, pipe, bridge, steps)
        self.cache.use(loaded, "encode")
        with gpu_errors("encoding the prompt"):
            embeds, negative_embeds = pipe.encode_prompt(
                prompt=text,
                negative_prompt=prompt.negative_prompt,
                do_classifier_free_guidance=separate_guidance,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                device=self.cache.device,
                dtype=loaded.transformer.dtype,
            )
        self.cache.use(loaded, "denoise_low" if self.last_run.get("experts") == "low" else "denoise")
        with (
            running(group),
            speed.run_cache(self.settings, loaded, pipe, role, steps, separate_guidance) as cache_off,
            gpu_errors(f"generating {plan.width}x{plan.height}x{plan.frames}"),
        ):
            self.last_run["cache_off"] = cache_off
            output = pipe(
                prompt_embeds=embeds,
                negative_prompt_embeds=negative_embeds,
                height=plan.height,
                width=plan.width,
                num_frames=plan.frames,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=self.cache.generator(request.seed),
                output_type="latent",
                callback_on_step_end=callback,
                **inputs,
                **extras,
            )
        bridge.raise_if_stopped()
        if is_follower():
            return  # only the leader decodes: the latents are complete on every rank
        if active:
            log.info("denoised with adapters %s active: %s", seen[0] if seen else active, text)
        latents = output.frames[:, :, dropped_frames:]
        del output
        clip = retime(plan, self._decode(loaded, latents, on_step, steps, bridge.total))
        if reverse:  # the whole clip, as uint8 frames: the causal decoder only runs forwards
            yield from reversed(list(clip))
        else:
            yield from clip

    def _call_extras(self, loaded: LoadedModel, role: Role, request: GenerationRequest) -> dict[str, Any]:
        """Pipeline arguments beyond the common ones (the A14B engine: the low-noise
        expert's guidance)."""
        return {}

    def _expert_switch(self, loaded: LoadedModel, pipe: Any, bridge: StepBridge, steps: int) -> Any:
        """The step callback. For a two-expert model (Wan 2.2 A14B) it also puts the
        low-noise expert on the device before its first step (diffusers switches at
        ``boundary_ratio`` of the training timesteps); the budget moves the high-noise one
        to host memory when both do not fit. ``last_run["experts"]``: ``high`` then
        ``high+low`` once switched (``low`` when the schedule starts below the boundary)."""
        if loaded.pipe.components.get("transformer_2") is None or pipe.config.get("boundary_ratio") is None:
            return bridge
        boundary = float(pipe.config.boundary_ratio) * pipe.scheduler.config.num_train_timesteps
        schedule = type(pipe.scheduler).from_config(pipe.scheduler.config)
        schedule.set_timesteps(steps)
        first_low = next((i for i, t in enumerate(schedule.timesteps) if float(t) < boundary), None)
        self.last_run["experts"] = "low" if first_low == 0 else "high"
        self.last_run["boundary_step"] = first_low

        def callback(p: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            result = bridge(p, step, timestep, tensors)
            if first_low is not None and step + 1 == first_low and bridge.stop is None:
                self.cache.use(loaded, "denoise_low")
                self.last_run["experts"] = "high+low"
            return result

        return callback

    def _wants_guide(self, request: GenerationRequest, role: Role) -> bool:
        return (
            role == "first_frame"
            and request.camera_movement is not None
            and self.settings.motion_guide_strength > 0
            and self.weights("references").ok
            and not request.control_video
        )

    def _wants_control(self, request: GenerationRequest) -> bool:
        """Whether the request's control video steers the clip (VACE, video to video). An
        edit without the VACE weights is refused; a remix renders without its control."""
        if not request.control_video:
            return False
        references = self.weights("references")
        if references.ok:
            return True
        if request.control_required:
            raise InferenceError(
                "Editing a video needs video-to-video, which the Wan engine does with the VACE weights:"
                f" {references.problem or 'missing'}; run `cinefuse models pull Wan2.1-VACE-1.3B-diffusers`"
                " (or the 14B folder) on the server.",
                parameter="video",
            )
        log.info("no VACE weights: the remix renders without its source clip as a control video")
        return False

    def _recipe(
        self, loaded: LoadedModel, pipe: Any, rule: GridRule, role: Role, request: GenerationRequest
    ) -> tuple[int, float]:
        """(steps, guidance) for this run; sets the scheduler's flow shift for it."""
        from cinefuse.generation.neural.adapters import distill_for

        steps, guidance = self.settings.steps_for(role), GUIDANCE
        shift = base_shift(loaded, rule)
        distill = distill_for(loaded, role)
        if distill is not None:
            steps = distill.steps or self.settings.distill_steps
            guidance = distill.guidance if distill.guidance is not None else 1.0
            shift = distill.shift if distill.shift is not None else shift
        if request.motion_mode == "fast":
            shift = shift * FAST_SHIFT_FACTOR if shift is not None else None
            guidance = guidance + FAST_GUIDANCE_BOOST if distill is None else guidance
        # What the client asked for (/v1/videos extra_body) wins over every recipe.
        steps = request.steps if request.steps is not None else steps
        guidance = request.guidance if request.guidance is not None else guidance
        scheduler = pipe.scheduler
        if shift is not None and scheduler.config.get("flow_shift") != shift:
            pipe.scheduler = type(scheduler).from_config(scheduler.config, flow_shift=shift)
        return steps, guidance

    def _inputs(
        self, request: GenerationRequest, role: Role, plan: GridPlan, guide: bool, control: bool
    ) -> tuple[dict[str, Any], int]:
        """The role's pipeline inputs, and how many leading latent frames to drop (VACE puts
        the reference images' latents before the video's)."""
        size = (plan.width, plan.height)
        if role == "text" and not control:
            return {}, 0
        if role == "first_last" and not control:
            assert request.first_frame is not None and request.last_frame is not None
            return {
                "image": _pil(cover(request.first_frame, *size)),
                "last_image": _pil(cover(request.last_frame, *size)),
            }, 0
        if role == "first_frame" and not (guide or control):
            assert request.first_frame is not None
            return {"image": _pil(cover(request.first_frame, *size))}, 0
        from PIL import Image

        # Whole, uncropped: VACE fits each reference onto a white canvas of the clip's size
        # itself (a cover crop cut the head or the feet off a portrait in a landscape clip).
        refs = [_pil(ref) for ref in request.reference_images]
        keep = Image.new("L", size, 0)  # VACE masks: black keeps the control frame, white generates
        free = Image.new("L", size, 255)
        video: list[Any] = [Image.new("RGB", size, NEUTRAL_GRAY)] * plan.frames
        mask: list[Any] = [free] * plan.frames
        if guide:
            video = [_pil(frame) for frame in self._guide_frames(request, plan)]
        if control:
            video = [_pil(frame) for frame in self._control_frames(request, plan)]
        if request.first_frame is not None:
            video = [_pil(cover(request.first_frame, *size)), *video[1:]]
            mask = [keep, *mask[1:]]
        if request.last_frame is not None:
            video = [*video[:-1], _pil(cover(request.last_frame, *size))]
            mask = [*mask[:-1], keep]
        # Scale 1.0: VACE's conditioning scale weighs every hint, the kept first frame's too
        # (at 0.6 the clip drifted from its first frame); the guide is weakened in its pixels.
        inputs = {"video": video, "mask": mask, "conditioning_scale": 1.0}
        if refs:
            inputs["reference_images"] = refs
        return inputs, len(refs)

    def _guide_frames(self, request: GenerationRequest, plan: GridPlan) -> Iterator[Frame]:
        """The preview engine's render of the camera path on the first frame, on the grid,
        blended toward VACE's neutral gray by ``1 - CINEFUSE_MOTION_GUIDE_STRENGTH``: a
        weaker guide is a fainter one, which the model follows more loosely."""
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
        strength = self.settings.motion_guide_strength
        gray = float(NEUTRAL_GRAY[0]) * (1.0 - strength)
        for frame in PreviewEngine().generate(guide):
            yield np.clip(frame.astype(np.float32) * strength + gray + 0.5, 0, 255).astype(np.uint8)

    def _control_frames(self, request: GenerationRequest, plan: GridPlan) -> Iterator[Frame]:
        """The control video on the grid: its frames spread over the native clip, each
        covering the native size, blended toward VACE's neutral gray by
        ``1 - CINEFUSE_VIDEO_CONTROL_STRENGTH`` (a fainter control is followed more loosely)."""
        source = request.control_video
        strength = self.settings.video_control_strength
        gray = float(NEUTRAL_GRAY[0]) * (1.0 - strength)
        for index in range(plan.frames):
            at = 0 if plan.frames == 1 else round(index * (len(source) - 1) / (plan.frames - 1))
            frame = cover(source[at], plan.width, plan.height).astype(np.float32)
            yield np.clip(frame * strength + gray + 0.5, 0, 255).astype(np.uint8)

    def _decode(
        self, loaded: LoadedModel, latents: Any, on_step: StepCallback, done: int, total: int
    ) -> Iterator[Frame]:
        from cinefuse.generation.neural.decode import iter_decode_wan, to_frames, wan_denormalize
        from cinefuse.generation.neural.runtime import gpu_errors

        # The VAE decodes on the device, under CINEFUSE_OFFLOAD too: the budget moves it there
        # for this stage (its decoder is called directly, which no offload hook would see).
        self.cache.use(loaded, "decode")
        vae = loaded.pipe.vae
        z = wan_denormalize(vae, latents.to(next(vae.parameters()).device))
        chunks = iter_decode_wan(vae, z)
        for index in range(z.shape[2]):
            with gpu_errors("decoding"):
                chunk = next(chunks)
            on_step(done + index + 1, total)  # renews the lease, sees a cancel: between chunks
            yield from to_frames(chunk)


#: Wan's own sampler shift for the Wan 2.1 FLF2V and VACE models at every size (``generate.py``
#: of Wan2.1: ``sample_shift = 16`` for ``flf2v`` and ``vace``). The diffusers folders ship
#: UniPC with ``flow_shift`` 3.0, diffusers' 480p text-to-video default, which spends far fewer
#: steps at high noise, where a 720p clip's structure and motion are decided.
WAN21_SHIFT = 16.0


def base_shift(loaded: LoadedModel, rule: GridRule) -> float | None:
    """The flow shift a model's runs start from: Wan 2.1's reference value for the 2.1
    models, the folder's own scheduler setting for Wan 2.2 (TI2V-5B ships 5.0, as its
    reference ``wan/configs/wan_ti2v_5B.py`` does)."""
    if rule in (WAN21_GRID, WAN21_480P_GRID):
        return WAN21_SHIFT
    shift: float | None = loaded.pipe.scheduler.config.get("flow_shift")
    return shift


def _check(settings: Settings) -> Availability:
    absent = not_installed("torch", "diffusers", "transformers", "peft")
    if absent is not None:
        return absent
    found = {role: find_role(settings, role) for role in WAN_ROLES}
    if not found["text"].ok:
        return Availability(False, found["text"].problem or "no text-to-video weights")
    roles = ", ".join(
        f"{role}: {w.path.name} ({describe_cap(native_rule(w.path))})" if w.ok and w.path else f"{role}: missing"
        for role, w in found.items()
    )
    return Availability(True, roles)


#: The registry's entry (``cinefuse.engines`` in pyproject.toml). Ranked above LTX-Video: the
#: quality engine runs ``pixverse:1@3`` when its weights are present.
SPEC = EngineSpec(name="wan", rank=20, check=_check, load=WanEngine, gpu=True)
