"""The HunyuanVideo 1.5 engine (``hunyuan``): Tencent's 8.3B text- and image-to-video model on
diffusers' ``HunyuanVideo15Pipeline`` and ``HunyuanVideo15ImageToVideoPipeline``, from local
weights (docs/engines.md, "HunyuanVideo 1.5").

=============  ====================================================================
role           folder, the first found (pipeline)
=============  ====================================================================
text           HunyuanVideo-1.5-Diffusers-720p_t2v, -480p_t2v, -480p_t2v_distilled
               (HunyuanVideo15Pipeline)
first_frame    HunyuanVideo-1.5-Diffusers-720p_i2v, -480p_i2v, -720p_i2v_distilled,
               -480p_i2v_distilled, -480p_i2v_step_distilled
               (HunyuanVideo15ImageToVideoPipeline)
=============  ====================================================================

A last frame alone is generated as a first frame and played backwards, so the clip ends on
it. First + last frames, reference images and video edits are refused with an
``InferenceError`` naming the parameter: the published checkpoints condition on one first
frame and nothing else; ``cinefuse:wan@1`` does the others.

The recipe is the folder's own, as Tencent publishes it ("Optimal Inference Configurations",
github.com/Tencent-Hunyuan/HunyuanVideo-1.5; the hunyuanvideo-community folders carry it in
their configs, written by diffusers' ``scripts/convert_hunyuan_video1_5_to_diffusers.py``):
flow shift 5 at 480p, 9 for 720p text and 7 for 720p image (the scheduler's ``shift``);
guidance 6, 1 for the CFG- and step-distilled folders (the ``guider``); 50 steps, 8 for the
step-distilled one (its transformer's ``use_meanflow``; 8 or 12 recommended). ``motionMode``
fast runs the Wan engines' change (1.5x the shift, guidance + 1 where it guides); a
step-distillation LoRA (``CINEFUSE_DISTILL_LORA``) trained on this transformer runs its own
recipe; a client's steps and guidance win over all of it. The published negative prompt is
none (``generate.py``'s ``--negative_prompt ''``).

The pipelines take no step callback: each run gets its own scheduler (the folder's, at the
run's shift), whose ``step`` reports to the ``StepBridge`` after every denoising step; a stop
raised there sets the pipeline's interrupt, so it skips the remaining steps, and the engine
re-raises before decoding. The image-to-video pipeline sizes the clip itself: the bucket
(``HunyuanVideo15ImageProcessor``, a 16 px grid) nearest the image's aspect ratio at a
target size; the engine asks for the smallest target covering the request, within the
model's own (960 at 720p, 640 at 480p), and gives it the first frame at the requested aspect
ratio, so it knows the size beforehand. The text pipeline takes the size: the smallest grid
covering the request (``grid.plan_grid``). Either way the frames are then fitted to exactly
the requested size and duration (``grid.retime``).

The denoising runs with ``output_type="latent"`` and the engine decodes, one latent frame at a
time (``decode.iter_decode_hunyuan``: the causal VAE's decoder with a cache), so frames stream
and a cancelled job never decodes. LoRAs trained on this transformer load into it (the
pipelines have no LoRA loader: ``adapters.transformer_lora_state_dict``); one for another base
is never offered (``loras``). diffusers 0.42.1 has no context-parallel plan for
``HunyuanVideo15Transformer3DModel``: under ``CINEFUSE_CONTEXT_PARALLEL`` the group's leader
renders a clip alone and its followers load nothing (``cinefuse doctor`` says so). torch and
diffusers are imported when the engine is built, not when this module is.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationRequest, StepCallback, no_progress
from cinefuse.generation.neural.grid import GridPlan, GridRule, cover, describe_cap, native_rule, plan_grid, retime
from cinefuse.generation.neural.loras import pick_lora
from cinefuse.generation.neural.prompting import plan_prompt
from cinefuse.generation.neural.wan import FAST_GUIDANCE_BOOST, FAST_SHIFT_FACTOR
from cinefuse.generation.neural.weights import RoleWeights, find_role
from cinefuse.generation.registry import Availability, EngineSpec, not_installed
from cinefuse.media.frames import Frame
from cinefuse.settings import DEFAULT_STEPS, Role, Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.loaded import LoadedModel
    from cinefuse.generation.neural.pipelines import PipelineCache

log = logging.getLogger(__name__)

#: The engine's roles and the weights role of each.
WEIGHT_ROLES: dict[Role, Role] = {"text": "hunyuan_text", "first_frame": "hunyuan_image"}
#: The step-distilled folder's steps (Tencent: "8 or 12 (recommended)"; 8 the faster).
STEP_DISTILLED_STEPS = 8
#: The published negative prompt: none.
HUNYUAN_NEGATIVE = ""
#: What to use instead for what the published checkpoints cannot condition on.
INSTEAD = "cinefuse:wan@1"


@dataclass(frozen=True)
class Recipe:
    """The sampling of one run."""

    steps: int
    guidance: float
    shift: float
    #: Where the steps and guidance came from: the folder, a distillation LoRA, the client.
    source: str


def refusal(request: GenerationRequest) -> InferenceError | None:
    """Why the published checkpoints cannot make ``request`` (None when they can)."""
    if request.control_required:
        return InferenceError(
            f"HunyuanVideo 1.5 has no video-to-video, so it cannot edit a video; use {INSTEAD} with the VACE weights.",
            parameter="video",
        )
    if request.reference_images:
        return InferenceError(
            "HunyuanVideo 1.5 takes no reference images (its checkpoints condition on one first frame at most);"
            f" use {INSTEAD} (VACE) for reference images.",
            parameter="inputs.referenceImages",
        )
    if request.first_frame is not None and request.last_frame is not None:
        return InferenceError(
            "HunyuanVideo 1.5 takes one frame image, a first or a last frame, not both (its image-to-video"
            f" checkpoints condition on one frame); use {INSTEAD} (Wan 2.1 FLF2V) for a first and a last frame.",
            parameter="inputs.frameImages",
        )
    return None


def _pil(frame: Frame) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


class HunyuanEngine:
    """``Engine`` on the HunyuanVideo 1.5 pipelines; models load on first use and stay loaded,
    in the process's one ``PipelineCache`` (shared with the other neural engines)."""

    name = "hunyuan"

    def __init__(self, settings: Settings) -> None:
        from cinefuse.generation.neural.pipelines import PipelineCache

        self.settings = settings
        self.cache: PipelineCache = PipelineCache.shared(settings)
        #: What the last run did (role, plan, adapters, prompt, recipe), for logs and tests.
        self.last_run: dict[str, Any] = {}
        register_block_metadata()

    def weights(self, role: Role) -> RoleWeights:
        return find_role(self.settings, WEIGHT_ROLES[role])

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        problem = refusal(request)
        if problem is not None:
            raise problem
        if request.control_video:
            log.info("HunyuanVideo 1.5 has no video-to-video: the remix renders without its source clip")
        reverse = request.first_frame is None and request.last_frame is not None
        if reverse:  # a last frame alone: generate from it and play backwards
            request = replace(request, first_frame=request.last_frame, last_frame=None)
        role: Role = "first_frame" if request.first_frame is not None else "text"
        return self._frames(request, role, reverse, on_step)

    def after_job(self) -> None:
        from cinefuse.generation.neural.runtime import release_memory

        release_memory()

    def _frames(self, request: GenerationRequest, role: Role, reverse: bool, on_step: StepCallback) -> Iterator[Frame]:
        from diffusers import HunyuanVideo15ImageToVideoPipeline, HunyuanVideo15Pipeline

        from cinefuse.generation.neural import adapters, speed
        from cinefuse.generation.neural.parallel import is_follower, lockstep_group, preparing
        from cinefuse.generation.neural.runtime import StepBridge, gpu_errors

        announced = lockstep_group(self.name, request)
        weights_role = WEIGHT_ROLES[role]
        # No context-parallel plan for this transformer (diffusers 0.42.1): the leader runs
        # it alone, and a follower loads nothing.
        with preparing(announced):
            idle = is_follower()
            if not idle:
                loaded = self.cache.load(self.weights(role))
                pipe = loaded.as_pipeline(
                    HunyuanVideo15ImageToVideoPipeline if role == "first_frame" else HunyuanVideo15Pipeline
                )
                rule = native_rule(loaded.folder)
                plan, target = self._plan(pipe, rule, request, role)
                prompt = plan_prompt(request, HUNYUAN_NEGATIVE)
                wanted = [
                    lora
                    for names in prompt.lora_candidates
                    if (lora := pick_lora(self.cache.loras, names, weights_role, loaded.base))
                ]
                active = adapters.activate(loaded, weights_role, wanted)
                text = ", ".join([prompt.prompt, *(word for lora in active for word in lora.trigger_words)])
                recipe = self._recipe(loaded, pipe, weights_role, request)
                latent_frames = (plan.frames - 1) // pipe.vae_scale_factor_temporal + 1
        if idle:
            return
        seen: list[list[str]] = []
        bridge = StepBridge(
            on_step,
            recipe.steps + latent_frames,
            observe=lambda p: seen.append(adapters.active_adapters(p)) if not seen and loaded.loras else None,
        )
        self.last_run = {
            "role": role, "sharded": False, "plan": plan, "model": rule.name, "folder": loaded.folder.name,
            "prompt": text, "loras": [lora.name for lora in active], "adapters": seen, "steps": recipe.steps,
            "guidance": recipe.guidance, "shift": recipe.shift, "recipe": recipe.source, "target_size": target,
        }  # fmt: skip
        log.info(
            "hunyuan %s on %s (%s): %dx%dx%d, %d steps, guidance %.2f, shift %.2f (%s)", role, loaded.folder.name,
            type(pipe).__name__, plan.width, plan.height, plan.frames, recipe.steps, recipe.guidance, recipe.shift,
            recipe.source,
        )  # fmt: skip
        separate_guidance = not math.isclose(recipe.guidance, 1.0)
        self.cache.use(loaded, "encode")
        with gpu_errors("encoding the prompt"):
            embeds = self._encode(pipe, loaded, text, prompt.negative_prompt if separate_guidance else None)
        if role == "first_frame":
            assert request.first_frame is not None
            # At the requested aspect ratio: the pipeline picks the bucket ``_plan`` did.
            inputs: dict[str, Any] = {"image": _pil(cover(request.first_frame, request.width, request.height))}
        else:
            inputs = {"height": plan.height, "width": plan.width}
        self.cache.use(loaded, "denoise")
        with (
            run_settings(pipe, recipe, bridge, target),
            speed.run_cache(self.settings, loaded, pipe, weights_role, recipe.steps, separate_guidance) as cache_off,
            gpu_errors(f"generating {plan.width}x{plan.height}x{plan.frames}"),
        ):
            self.last_run["cache_off"] = cache_off
            output = pipe(
                **embeds,
                **inputs,
                num_frames=plan.frames,
                num_inference_steps=recipe.steps,
                generator=self.cache.generator(request.seed),
                output_type="latent",
            )
        bridge.raise_if_stopped()
        if active:
            log.info("denoised with adapters %s active: %s", seen[0] if seen else active, text)
        latents = output.frames
        del output
        clip = retime(plan, self._decode(loaded, latents, on_step, recipe.steps, bridge.total))
        if reverse:  # the whole clip, as uint8 frames: the causal decoder only runs forwards
            yield from reversed(list(clip))
        else:
            yield from clip

    def _plan(self, pipe: Any, rule: GridRule, request: GenerationRequest, role: Role) -> tuple[GridPlan, int | None]:
        """The native clip, and for image to video the target size the pipeline buckets at
        (None for text to video, which takes the size)."""
        plan = plan_grid(rule, request.width, request.height, request.num_frames, request.fps)
        if role == "text":
            return plan, None
        side = rule.side_multiple
        covering = math.ceil(math.sqrt(plan.width * plan.height) / side) * side
        target = min(int(pipe.transformer.config.target_size), covering)
        height, width = pipe.video_processor.calculate_default_height_width(request.height, request.width, target)
        return replace(plan, width=int(width), height=int(height), fit="cover"), target

    def _recipe(self, loaded: LoadedModel, pipe: Any, role: Role, request: GenerationRequest) -> Recipe:
        """The run's steps, guidance and flow shift (module docstring)."""
        from cinefuse.generation.neural.adapters import distill_for

        step_distilled = bool(loaded.transformer.config.get("use_meanflow", False))
        steps = self.settings.steps.get(role) or (STEP_DISTILLED_STEPS if step_distilled else DEFAULT_STEPS[role])
        guidance = float(pipe.guider.config.get("guidance_scale", 1.0))
        shift = float(pipe.scheduler.config.get("shift", 1.0))
        source = f"{loaded.folder.name}'s recipe"
        distill = distill_for(loaded, role)
        if distill is not None:
            steps = distill.steps or self.settings.distill_steps
            guidance = distill.guidance if distill.guidance is not None else 1.0
            shift = distill.shift if distill.shift is not None else shift
            source = f"distill LoRA {distill.name}"
        if request.motion_mode == "fast":
            shift *= FAST_SHIFT_FACTOR
            guidance = guidance + FAST_GUIDANCE_BOOST if guidance > 1.0 else guidance
            source += ", motion fast"
        if request.steps is not None or request.guidance is not None:
            source += ", the client's steps and guidance"
        # What the client asked for (/v1/videos extra_body) wins over every recipe.
        steps = request.steps if request.steps is not None else steps
        guidance = request.guidance if request.guidance is not None else guidance
        return Recipe(steps, guidance, shift, source)

    def _encode(self, pipe: Any, loaded: LoadedModel, text: str, negative: str | None) -> dict[str, Any]:
        """Both text encoders' embeddings (and the negative prompt's, when guidance runs two
        passes), under the pipeline's argument names."""
        import torch

        device, dtype = self.cache.device, loaded.transformer.dtype
        names = ("prompt_embeds", "prompt_embeds_mask", "prompt_embeds_2", "prompt_embeds_mask_2")
        with torch.no_grad():
            embeds = dict(zip(names, pipe.encode_prompt(prompt=text, device=device, dtype=dtype), strict=True))
            if negative is not None:
                encoded = pipe.encode_prompt(prompt=negative, device=device, dtype=dtype)
                embeds.update(zip((f"negative_{name}" for name in names), encoded, strict=True))
        return embeds

    def _decode(
        self, loaded: LoadedModel, latents: Any, on_step: StepCallback, done: int, total: int
    ) -> Iterator[Frame]:
        from cinefuse.generation.neural.decode import iter_decode_hunyuan, to_frames
        from cinefuse.generation.neural.runtime import gpu_errors

        # The VAE decodes on the device, under CINEFUSE_OFFLOAD too: the budget moves it there
        # for this stage (its decoder's modules are called directly, which no hook would see).
        self.cache.use(loaded, "decode")
        vae = loaded.pipe.vae
        z = latents.to(next(vae.parameters()).device, vae.dtype) / vae.config.scaling_factor
        chunks = iter_decode_hunyuan(vae, z)
        for index in range(z.shape[2]):
            with gpu_errors("decoding"):
                chunk = next(chunks)
            on_step(done + index + 1, total)  # renews the lease, sees a cancel: between chunks
            yield from to_frames(chunk)


@contextlib.contextmanager
def run_settings(
    pipe: Any, recipe: Recipe, callback: Callable[[Any, int, Any, dict[str, Any]], Any], target: int | None
) -> Iterator[None]:
    """The pipeline set up for one run, and put back after it however it ends: its own
    scheduler (the folder's at ``recipe.shift``) whose ``step`` calls ``callback`` after each
    denoising step (diffusers' ``callback_on_step_end`` signature: these pipelines take none),
    the guider at ``recipe.guidance``, and for image to video the ``target`` size it buckets at."""
    scheduler, guider, target_size = pipe.scheduler, pipe.guider, getattr(pipe, "target_size", None)
    run = type(scheduler).from_config(scheduler.config, shift=recipe.shift)
    step, count = run.step, itertools.count()

    def stepped(*args: Any, **kwargs: Any) -> Any:
        result = step(*args, **kwargs)
        callback(pipe, next(count), args[1] if len(args) > 1 else kwargs.get("timestep"), {})
        return result

    run.step = stepped
    pipe.scheduler = run
    pipe.guider = guider.new(guidance_scale=recipe.guidance)
    if target is not None:
        pipe.target_size = target
    try:
        yield
    finally:
        pipe.scheduler, pipe.guider = scheduler, guider
        if target is not None:
            pipe.target_size = target_size


def register_block_metadata() -> None:
    """Tell diffusers' cache hooks (first block, MagCache) where a HunyuanVideo 1.5
    double-stream block returns its two streams: 0.42.1's registry lacks the class. Its
    ``forward`` returns ``(hidden_states, encoder_hidden_states)``."""
    from diffusers.hooks._helpers import TransformerBlockMetadata, TransformerBlockRegistry
    from diffusers.models.transformers.transformer_hunyuan_video15 import HunyuanVideo15TransformerBlock

    TransformerBlockRegistry.register(
        model_class=HunyuanVideo15TransformerBlock,
        metadata=TransformerBlockMetadata(return_hidden_states_index=0, return_encoder_hidden_states_index=1),
    )


def _check(settings: Settings) -> Availability:
    absent = not_installed("torch", "diffusers", "transformers", "peft")
    if absent is not None:
        return absent
    text = find_role(settings, "hunyuan_text")
    if not text.ok or text.path is None:
        return Availability(False, text.problem or "no HunyuanVideo 1.5 text-to-video weights")
    image = find_role(settings, "hunyuan_image")
    first_frame = (
        f"first_frame: {image.path.name} ({describe_cap(native_rule(image.path))})"
        if image.ok and image.path
        else f"first_frame: missing ({image.problem})"
    )
    detail = f"text: {text.path.name} ({describe_cap(native_rule(text.path))}), {first_frame}"
    if settings.context_parallel > 1:
        detail += (
            f"; with CINEFUSE_CONTEXT_PARALLEL={settings.context_parallel} its clips render on the group's leader"
            " alone (diffusers has no context-parallel plan for HunyuanVideo15Transformer3DModel)"
        )
    return Availability(True, detail)


#: The registry's entry (``cinefuse.engines`` in pyproject.toml). Ranked under the Wan engines,
#: which serve every role of ``pixverse:1@3``, and over LTX-2 (15) and LTX-Video (10): the
#: ranking and its source are in docs/engines.md, "Which engine runs pixverse:1@3".
SPEC = EngineSpec(name="hunyuan", rank=17, check=_check, load=HunyuanEngine, gpu=True)
