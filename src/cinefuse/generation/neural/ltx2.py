"""The LTX-2 engines: Lightricks' joint audio and video model on diffusers' ``ltx2`` pipelines,
from local weights (docs/engines.md, "LTX-2").

Two engines, one module: ``ltx2`` runs the full model (folder ``LTX-2``, role ``ltx2``;
model ``cinefuse:ltx2@1``), ``ltx2-distilled`` the distilled checkpoint (``LTX-2-19b-distilled``,
role ``ltx2_distilled``; model ``cinefuse:ltx2-distilled@1``). ``motionMode`` fast on the full
model's engine runs the distilled folder where it is present.

Every request goes through ``LTX2ConditionPipeline`` (a first frame is a condition at latent
index 0, a last frame one at the last latent index; text has none). The transformer
denoises video and audio latents together. The recipes, as diffusers' LTX-2 docs publish them:

* full model, stage 1: the reference code's canonical recipe, which ``LTX2Pipeline``'s
  defaults follow: 30 steps, guidance 3.0 with the published negative prompt, spatio-temporal
  guidance 1.0 at block 28, modality guidance 3.0, rescale 0.7; audio guidance 7.0;
* distilled, stage 1: the 8 published sigmas (``DISTILLED_SIGMA_VALUES``) at guidance 1.0,
  one transformer pass per step (no spatio-temporal or modality guidance);
* two stages, where the folder has its ``latent_upsampler/`` (and, for the full model, the
  stage-2 distilled LoRA ``ltx-2-19b-distilled-lora-384.safetensors``): stage 1 at half the
  size, the video latents upsampled 2x (``LTX2LatentUpsamplePipeline``), stage 2 at the full
  size with the 3 published sigmas (``STAGE_2_DISTILLED_SIGMA_VALUES``), re-noised to the
  first of them, at guidance 1.0 (the full model with its stage-2 LoRA on). The audio latents
  of stage 1 go into stage 2 as they are. Without the upsampler: one pass at the full size.

Camera: a first frame with a ``cameraMovement`` is steered, where ``loras/`` holds Lightricks'
Canny IC-LoRA (``LTX-2-19b-IC-LoRA-Canny-Control``), by the preview engine's render of that
camera path on the first frame: its Canny edges are a reference video
(``LTX2InContextPipeline``'s reference conditions) in stage 1, the IC-LoRA on, at
``CINEFUSE_MOTION_GUIDE_STRENGTH``; stage 2 refines without it, as the IC-LoRA recipe has it.
Elsewhere the camera is phrasing and its camera-control LoRA (``prompting.CAMERA_LORAS``).

Sound: the audio latents are decoded (audio VAE, then vocoder) before the first frame, into
the request's ``Soundtrack`` when it has one (``CINEFUSE_SOUND``); without one, no audio is
decoded. The video decodes in temporal tiles as LTX-Video's does (``decode.iter_decode_ltx``:
the VAE has the same tiling), so frames stream and a cancel never decodes.

Context parallelism: diffusers 0.42.1's plan for ``LTX2VideoTransformer3DModel`` splits the
video tokens only, not the audio stream that attends to them, so LTX-2 runs on the leader of
a group alone (``parallel.SHARDABLE``), as ``cinefuse doctor`` says.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.neural.grid import LTX2_GRID, GridPlan, cover, describe_cap, native_rule, plan_grid, retime
from cinefuse.generation.neural.loras import LoraInfo, pick_lora
from cinefuse.generation.neural.prompting import plan_prompt
from cinefuse.generation.neural.weights import RoleWeights, find_role
from cinefuse.generation.registry import Availability, EngineSpec, not_installed
from cinefuse.media.frames import Frame
from cinefuse.settings import Role, Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cinefuse.generation.neural.loaded import LoadedModel
    from cinefuse.generation.neural.pipelines import PipelineCache

#: The negative prompt of diffusers' LTX-2 examples.
LTX2_NEGATIVE = (
    "shaky, glitchy, low quality, worst quality, deformed, distorted, disfigured, motion smear, motion artifacts,"
    " fused fingers, bad anatomy, weird hand, ugly, transition, static."
)
#: ``diffusers.pipelines.ltx2.utils``: the distilled model's 8 sigmas, and stage 2's 3.
DISTILLED_SIGMAS = [1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875]
STAGE_2_SIGMAS = [0.909375, 0.725, 0.421875]
#: The full model's classifier-free guidance (``LTX2Pipeline``'s default, the reference's)
#: and its spatio-temporal guidance block (of 48).
GUIDANCE = 3.0
STG_BLOCK = 28
#: The stage-2 distilled LoRA the full model's folder carries, and the upsampler subfolder.
STAGE_2_LORA = "ltx-2-19b-distilled-lora-384.safetensors"
STAGE_2_ADAPTER = "ltx2-stage-2"
UPSAMPLER = "latent_upsampler"
MAX_SEQUENCE_LENGTH = 1024
#: The Canny IC-LoRA that lets a camera render steer the clip, under its repository name or a short one.
CANNY_IC_LORA = ("LTX-2-19b-IC-LoRA-Canny-Control", "ic-canny")
#: Canny thresholds for the edge maps (OpenCV's, on 8-bit luma): the common 100 / 200.
CANNY_THRESHOLDS = (100, 200)
#: Off: one transformer pass per step (the distilled recipe, and every stage 2).
SINGLE_PASS: dict[str, Any] = {
    "guidance_scale": 1.0, "stg_scale": 0.0, "modality_scale": 1.0, "audio_guidance_scale": 1.0,
    "audio_stg_scale": 0.0, "audio_modality_scale": 1.0,
}  # fmt: skip


@dataclass(frozen=True)
class Stage:
    """One pipeline call of a clip: its size, schedule and guidance."""

    width: int
    height: int
    steps: int
    schedule: dict[str, Any]
    guidance: dict[str, Any]
    #: Stage 2 of the full model: its distilled LoRA on.
    stage_2_lora: bool = False
    #: The camera guide's reference video and its IC-LoRA steer this stage.
    guided: bool = False


class Ltx2Engine:
    """``Engine`` on LTX-2 (full model); models load on first use and stay loaded, in the
    process's one ``PipelineCache``."""

    name = "ltx2"
    role: Role = "ltx2"

    def __init__(self, settings: Settings) -> None:
        from cinefuse.generation.neural.pipelines import PipelineCache

        self.settings = settings
        self.cache: PipelineCache = PipelineCache.shared(settings)
        #: What the last run did (folder, stages, LoRAs, sound), for logs and tests.
        self.last_run: dict[str, Any] = {}

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        if request.control_required:
            raise InferenceError(
                "The LTX-2 engine has no video-to-video here, so it cannot edit a video; use a Wan model"
                " (cinefuse:wan@1) with the VACE weights.",
                parameter="video",
            )
        if request.reference_images:
            raise InferenceError(
                "The LTX-2 engine takes no reference images; use a Wan model (cinefuse:wan@1) for fusion.",
                parameter="inputs.referenceImages",
            )
        return self._frames(request, on_step)

    def after_job(self) -> None:
        from cinefuse.generation.neural.runtime import release_memory

        release_memory()

    def weights(self, request: GenerationRequest) -> RoleWeights:
        """The folder for ``request``: the distilled one for ``motionMode`` fast where present."""
        if request.motion_mode == "fast":
            distilled = find_role(self.settings, "ltx2_distilled")
            if distilled.ok:
                return distilled
        return find_role(self.settings, self.role)

    def _frames(self, request: GenerationRequest, on_step: StepCallback) -> Iterator[Frame]:
        from diffusers.pipelines.ltx2 import LTX2ConditionPipeline
        from diffusers.pipelines.ltx2.pipeline_ltx2_ic_lora import LTX2InContextPipeline

        from cinefuse.generation.neural import adapters, speed
        from cinefuse.generation.neural.parallel import is_follower, lockstep_group, preparing
        from cinefuse.generation.neural.runtime import StepBridge, gpu_errors

        announced = lockstep_group(self.name, request)
        # LTX-2's transformer is not sharded (module docstring): the leader runs it alone.
        with preparing(announced):
            weights = self.weights(request)
            idle = is_follower()
            if not idle:
                loaded = self.cache.load(weights)
                pipe = loaded.as_pipeline(LTX2ConditionPipeline)
                distilled = weights.role == "ltx2_distilled"
                upsampler = self._upsampler(loaded)
                stage_2 = None if distilled else self._stage_2_lora(loaded)
                two_stage = upsampler is not None and (distilled or stage_2 is not None)
                prompt = plan_prompt(request, LTX2_NEGATIVE)
                wanted = [
                    lora
                    for names in prompt.lora_candidates
                    if (lora := pick_lora(self.cache.loras, names, weights.role, loaded.base))
                ]
                plan, stages = self._stages(request, pipe, distilled, two_stage)
                guide = self._camera_guide(request, weights.role, loaded)
                if guide is not None:
                    stages[0] = replace(stages[0], guided=True)
                latent_frames = (plan.frames - 1) // pipe.vae_temporal_compression_ratio + 1
        if idle:
            return
        from cinefuse.generation.neural.decode import ltx_tiles, prepare_ltx_decode

        prepare_ltx_decode(pipe.vae)
        total = sum(stage.steps for stage in stages) + ltx_tiles(pipe.vae, latent_frames)
        generator = self.cache.generator(request.seed)
        self.last_run = {
            "model": weights.role, "folder": loaded.folder.name, "plan": plan, "two_stage": two_stage,
            "stages": [(s.width, s.height, s.steps) for s in stages], "loras": [], "adapters": [],
            "sound": request.soundtrack is not None, "guide": guide.name if guide is not None else None,
        }  # fmt: skip
        active = adapters.activate(loaded, weights.role, wanted)
        text = ", ".join([prompt.prompt, *(word for lora in active for word in lora.trigger_words)])
        self.last_run.update(prompt=text, loras=[lora.name for lora in active])
        log.info(
            "%s on %s: %dx%dx%d at %d fps in %s%s%s", self.name, loaded.folder.name, plan.width, plan.height,
            plan.frames, plan.fps, " then ".join(f"{s.width}x{s.height} x {s.steps} steps" for s in stages),
            f", camera guide {guide.name}" if guide is not None else "", ", with sound" if request.soundtrack else "",
        )  # fmt: skip
        # Once for every stage: only stage 1 may use the negative prompt (guidance above 1).
        self.cache.use(loaded, "encode")
        with gpu_errors("encoding the prompt"):
            embeds, mask, negative_embeds, negative_mask = pipe.encode_prompt(
                prompt=text,
                negative_prompt=prompt.negative_prompt,
                do_classifier_free_guidance=stages[0].guidance["guidance_scale"] > 1.0,
                # The pipeline pads to this length: never past what the tokenizer takes.
                max_sequence_length=min(MAX_SEQUENCE_LENGTH, int(pipe.tokenizer.model_max_length)),
                device=self.cache.device,
                dtype=loaded.transformer.dtype,
            )
        latents = audio_latents = None
        done = 0
        for index, stage in enumerate(stages):
            if stage.stage_2_lora and stage_2 is not None:  # the effect LoRAs stay on beside it
                adapters.activate(loaded, weights.role, [*active, stage_2])
            reference: dict[str, Any] = {}
            running = pipe
            if stage.guided and guide is not None:
                adapters.activate(loaded, weights.role, [*active, guide])
                running = loaded.as_pipeline(LTX2InContextPipeline)
                reference = self._reference(request, guide, stage, plan)
            elif index > 0 and guide is not None and not stage.stage_2_lora:
                adapters.activate(loaded, weights.role, active)  # stage 2 refines without the IC-LoRA
            self.last_run["adapters"].append(adapters.active_adapters(pipe) if loaded.loras else [])
            if index > 0:  # between the stages: the video latents upsampled 2x
                assert upsampler is not None
                self.cache.use(upsampler[0], "upsample")
                with gpu_errors("upsampling the latents"):
                    latents = upsampler[1](latents=latents, output_type="latent", return_dict=False)[0]
            bridge = StepBridge(on_step, total, offset=done)
            self.cache.use(loaded, "denoise")
            carried = {"latents": latents, "audio_latents": audio_latents} if index > 0 else {}
            with (
                speed.run_cache(self.settings, loaded, pipe, weights.role, stage.steps, False),
                gpu_errors(f"generating {stage.width}x{stage.height}x{plan.frames}"),
            ):
                output = running(
                    conditions=self._conditions(request, stage) or None,
                    prompt_embeds=embeds,
                    prompt_attention_mask=mask,
                    negative_prompt_embeds=negative_embeds if stage.guidance["guidance_scale"] > 1.0 else None,
                    negative_prompt_attention_mask=negative_mask if stage.guidance["guidance_scale"] > 1.0 else None,
                    height=stage.height,
                    width=stage.width,
                    num_frames=plan.frames,
                    frame_rate=float(plan.fps),
                    generator=generator,
                    output_type="latent",
                    callback_on_step_end=bridge,
                    **carried,
                    **stage.schedule,
                    **stage.guidance,
                    **reference,
                )
            bridge.raise_if_stopped()
            latents, audio_latents = output.frames, output.audio
            done += stage.steps
            del output
        if request.soundtrack is not None:
            self._sound(loaded, audio_latents, request)
        yield from retime(plan, self._decode(loaded, latents, on_step, done, total))

    def _stages(
        self, request: GenerationRequest, pipe: Any, distilled: bool, two_stage: bool
    ) -> tuple[GridPlan, list[Stage]]:
        """The native plan (the frames, and the size they decode at) and the pipeline calls
        that make it (module docstring)."""
        plan = plan_grid(LTX2_GRID, request.width, request.height, request.num_frames, request.fps)
        role: Role = "ltx2_distilled" if distilled else "ltx2"
        steps = request.steps if request.steps is not None else self.settings.steps_for(role)
        if distilled:
            schedule: dict[str, Any] = (
                {"sigmas": DISTILLED_SIGMAS, "num_inference_steps": steps}
                if steps == len(DISTILLED_SIGMAS)
                else {"num_inference_steps": steps}
            )
            guidance = dict(SINGLE_PASS)
            if request.guidance is not None and request.guidance > 1.0:
                guidance["guidance_scale"] = request.guidance
        else:
            schedule = {"num_inference_steps": steps}
            blocks = pipe.transformer.config.num_layers
            guidance = {
                "guidance_scale": request.guidance if request.guidance is not None else GUIDANCE,
                "spatio_temporal_guidance_blocks": [min(STG_BLOCK, blocks - 1)],
            }
        if not two_stage:
            return plan, [Stage(plan.width, plan.height, steps, schedule, guidance)]
        width, height = two_stage_size(plan.width, plan.height)
        plan = replace(plan, width=width, height=height, fit="cover")
        first = Stage(width // 2, height // 2, steps, schedule, guidance)
        refine = Stage(
            width, height, len(STAGE_2_SIGMAS),
            {"sigmas": STAGE_2_SIGMAS, "num_inference_steps": len(STAGE_2_SIGMAS), "noise_scale": STAGE_2_SIGMAS[0]},
            dict(SINGLE_PASS), stage_2_lora=not distilled,
        )  # fmt: skip
        return plan, [first, refine]

    def _conditions(self, request: GenerationRequest, stage: Stage) -> list[Any]:
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        size = (stage.width, stage.height)
        conditions = []
        if request.first_frame is not None:
            conditions.append(LTX2VideoCondition(frames=_pil(cover(request.first_frame, *size)), index=0))
        if request.last_frame is not None:  # the last latent frame
            conditions.append(LTX2VideoCondition(frames=_pil(cover(request.last_frame, *size)), index=-1))
        return conditions

    def _camera_guide(self, request: GenerationRequest, role: Role, loaded: LoadedModel) -> LoraInfo | None:
        """The Canny IC-LoRA when the preview engine's camera render should steer this clip (a
        first frame, a camera movement, a guide strength above 0, the IC-LoRA present), else None."""
        if request.first_frame is None or request.camera_movement is None or self.settings.motion_guide_strength <= 0:
            return None
        return pick_lora(self.cache.loras, CANNY_IC_LORA, role, loaded.base)

    def _reference(self, request: GenerationRequest, guide: LoraInfo, stage: Stage, plan: GridPlan) -> dict[str, Any]:
        """The pipeline arguments of the camera guide: the Canny edges of the preview engine's
        render of the camera path on the first frame, at the stage's size (or the IC-LoRA's
        ``reference_downscale_factor`` below it), as a reference video at the guide strength."""
        from diffusers.pipelines.ltx2.pipeline_ltx2_ic_lora import LTX2ReferenceCondition

        from cinefuse.generation.preview import PreviewEngine

        assert request.first_frame is not None and request.camera_movement is not None
        factor = reference_downscale_factor(guide.path / guide.weight_name)
        width, height = stage.width // factor, stage.height // factor
        render = GenerationRequest(
            prompt=request.prompt, width=width, height=height, fps=plan.fps, num_frames=plan.frames,
            seed=request.seed, camera_movement=request.camera_movement, motion_mode=request.motion_mode,
            first_frame=cover(request.first_frame, width, height),
        )  # fmt: skip
        edges = [_pil(canny(frame)) for frame in PreviewEngine().generate(render)]
        self.last_run["reference"] = (width, height, len(edges))
        strength = float(self.settings.motion_guide_strength)
        return {
            "reference_conditions": [LTX2ReferenceCondition(frames=edges, strength=strength)],
            "reference_downscale_factor": factor,
        }

    def _upsampler(self, loaded: LoadedModel) -> tuple[LoadedModel, Any] | None:
        """The folder's latent upsampler as a pipeline on the model's own VAE; None without
        its ``latent_upsampler/`` subfolder."""
        from diffusers.pipelines.ltx2 import LTX2LatentUpsamplePipeline
        from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

        if not (loaded.folder / UPSAMPLER / "config.json").is_file():
            return None
        part = self.cache.load_part(loaded.folder, UPSAMPLER, LTX2LatentUpsamplerModel)
        pipe = LTX2LatentUpsamplePipeline(vae=loaded.pipe.vae, latent_upsampler=part.pipe.components[UPSAMPLER])
        pipe.set_progress_bar_config(disable=True)
        return part, pipe

    def _stage_2_lora(self, loaded: LoadedModel) -> LoraInfo | None:
        """The full model's stage-2 distilled LoRA, from its folder; None where it has none."""
        if not (loaded.folder / STAGE_2_LORA).is_file():
            return None
        return LoraInfo(
            name=STAGE_2_ADAPTER, path=loaded.folder, weight_name=STAGE_2_LORA, roles=frozenset({"ltx2"}), base=None
        )

    def _sound(self, loaded: LoadedModel, audio_latents: Any, request: GenerationRequest) -> None:
        """Decode the audio latents into the request's soundtrack (before the first frame)."""
        import torch

        from cinefuse.generation.neural.runtime import gpu_errors

        assert request.soundtrack is not None
        self.cache.use(loaded, "decode")
        audio_vae, vocoder = loaded.pipe.audio_vae, loaded.pipe.vocoder
        with gpu_errors("decoding the sound"), torch.inference_mode():
            mel = audio_vae.decode(audio_latents.to(audio_vae.device, audio_vae.dtype), return_dict=False)[0]
            wave = vocoder(mel.to(vocoder.dtype))
        request.soundtrack.put(wave[0].float().cpu().numpy(), int(vocoder.config.output_sampling_rate))

    def _decode(
        self, loaded: LoadedModel, latents: Any, on_step: StepCallback, done: int, total: int
    ) -> Iterator[Frame]:
        from cinefuse.generation.neural.decode import iter_decode_ltx, to_frames
        from cinefuse.generation.neural.runtime import gpu_errors

        self.cache.use(loaded, "decode")
        vae = loaded.pipe.vae
        z = latents.to(next(vae.parameters()).device, vae.dtype)  # denormalized by the pipeline
        # The published VAE has no timestep conditioning; a decode timestep of 0 where one has.
        temb = z.new_zeros(z.shape[0]) if vae.config.timestep_conditioning else None
        chunks = iter_decode_ltx(vae, z, temb)
        for index in range(total - done):
            with gpu_errors("decoding"):
                chunk = next(chunks)
            on_step(done + index + 1, total)  # renews the lease, sees a cancel: between chunks
            yield from to_frames(chunk)


class Ltx2DistilledEngine(Ltx2Engine):
    """``Engine`` on the distilled LTX-2 checkpoint (``cinefuse:ltx2-distilled@1``)."""

    name = "ltx2-distilled"
    role: Role = "ltx2_distilled"

    def weights(self, request: GenerationRequest) -> RoleWeights:
        return find_role(self.settings, self.role)


def canny(frame: Frame) -> Frame:
    """The Canny edge map of ``frame`` (white edges on black, three channels): the control
    images Lightricks' Canny IC-LoRA is trained on."""
    import cv2
    import numpy as np

    edges = cv2.Canny(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY), *CANNY_THRESHOLDS)
    return np.repeat(edges[:, :, None], 3, axis=2)


def reference_downscale_factor(weights: Path) -> int:
    """The reference video's downscale factor an IC-LoRA records in its safetensors metadata
    (``reference_downscale_factor``; 1 without it)."""
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as handle:
        value = (handle.metadata() or {}).get("reference_downscale_factor", "1")
    try:
        return max(1, int(float(value)))
    except ValueError:
        return 1


def two_stage_size(width: int, height: int) -> tuple[int, int]:
    """The stage-2 size for a native plan of ``width`` x ``height``: each side a multiple of
    64 (stage 1 runs at half, on the 32 px grid), within LTX-2's cap."""
    w, h = float(width), float(height)
    if LTX2_GRID.max_area is not None and w * h > LTX2_GRID.max_area:
        scale = math.sqrt(LTX2_GRID.max_area / (w * h))
        w, h = w * scale, h * scale
    return max(64, math.ceil(w / 64) * 64), max(64, math.ceil(h / 64) * 64)


def _pil(frame: Frame) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


def _describe(settings: Settings, role: Role) -> Availability:
    absent = not_installed("torch", "diffusers", "transformers", "peft")
    if absent is not None:
        return absent
    weights = find_role(settings, role)
    if not weights.ok or weights.path is None:
        return Availability(False, weights.problem or f"no {role} weights")
    folder: Path = weights.path
    recipe = "two stages" if (folder / UPSAMPLER / "config.json").is_file() else "one pass (no latent_upsampler/)"
    if role == "ltx2" and not (folder / STAGE_2_LORA).is_file():
        recipe = f"one pass (no {STAGE_2_LORA})"
    detail = f"{role}: {folder.name} ({describe_cap(native_rule(folder))}), {recipe}, with sound"
    if settings.context_parallel > 1:
        detail += "; context parallelism: runs on one GPU of each group (no plan for its audio stream)"
    return Availability(True, detail)


def _check(settings: Settings) -> Availability:
    return _describe(settings, "ltx2")


def _check_distilled(settings: Settings) -> Availability:
    return _describe(settings, "ltx2_distilled")


#: The registry's entries (``cinefuse.engines`` in pyproject.toml). The full model ranks
#: between Wan 2.2 TI2V-5B and Wan 2.2 A14B (docs/engines.md, "Which engine runs
#: pixverse:1@3"); the distilled one with the fast engines.
SPEC = EngineSpec(name="ltx2", rank=15, check=_check, load=Ltx2Engine, gpu=True)
DISTILLED_SPEC = EngineSpec(name="ltx2-distilled", rank=12, check=_check_distilled, load=Ltx2DistilledEngine, gpu=True)
