"""The Wan 2.2 A14B engine (``wan-a14b``): the mixture of two 14B experts for text and
first frame, the Wan engine's folders for the rest (docs/engines.md, "Wan 2.2 A14B").

=============  ==============================================================
role           folder (pipeline)
=============  ==============================================================
text           Wan2.2-T2V-A14B-Diffusers (WanPipeline, two experts)
first_frame    Wan2.2-I2V-A14B-Diffusers (WanImageToVideoPipeline, two
               experts); TI2V-5B where that folder is missing
first_last     Wan2.1-FLF2V-14B-720P, as the Wan engine (the A14B I2V model
               is trained on a first frame only)
references     Wan2.1 VACE, as the Wan engine
=============  ==============================================================

The high-noise expert (``transformer``) denoises down to ``boundary_ratio`` of the
training timesteps, the low-noise one (``transformer_2``) the rest; diffusers switches
between them inside its loop, and the Wan engine puts the low-noise expert on the device
before its first step (``WanEngine._expert_switch``), so a budget that holds one expert
runs both. The published recipe (Wan2.2 ``wan/configs/wan_t2v_A14B.py`` and
``wan_i2v_A14B.py``): 40 steps; text: boundary 0.875, flow shift 12.0, guidance 4.0 on the
high-noise and 3.0 on the low-noise expert; image: boundary 0.900, shift 5.0, guidance 3.5
on both. Everything else (grid, LoRAs, camera guide, control videos, decode) is the Wan
engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cinefuse.generation.base import GenerationRequest
from cinefuse.generation.neural.grid import GridRule, describe_cap, native_rule
from cinefuse.generation.neural.wan import FAST_GUIDANCE_BOOST, FAST_SHIFT_FACTOR, WanEngine
from cinefuse.generation.neural.weights import RoleWeights, find_role
from cinefuse.generation.registry import Availability, EngineSpec, not_installed
from cinefuse.settings import DEFAULT_STEPS, Role, Settings

if TYPE_CHECKING:
    from cinefuse.generation.neural.loaded import LoadedModel


@dataclass(frozen=True)
class ExpertRecipe:
    """The published sampling of one A14B folder."""

    weights_role: Role
    shift: float
    #: Guidance of the high-noise expert and of the low-noise one.
    guidance: float
    guidance_low: float


RECIPES: dict[Role, ExpertRecipe] = {
    "text": ExpertRecipe("a14b_text", shift=12.0, guidance=4.0, guidance_low=3.0),
    "first_frame": ExpertRecipe("a14b_image", shift=5.0, guidance=3.5, guidance_low=3.5),
}


class WanA14BEngine(WanEngine):
    """``WanEngine`` with the A14B folders for text and first frame."""

    name = "wan-a14b"

    def weights(self, role: Role) -> RoleWeights:
        recipe = RECIPES.get(role)
        if recipe is not None:
            found = find_role(self.settings, recipe.weights_role)
            if found.ok or role == "text":
                return found
        return super().weights(role)

    def _a14b(self, loaded: LoadedModel, role: Role) -> ExpertRecipe | None:
        """The recipe of ``role`` when ``loaded`` is its A14B folder (not a fallback)."""
        recipe = RECIPES.get(role)
        if recipe is None or loaded.pipe.components.get("transformer_2") is None:
            return None
        return recipe

    def _recipe(
        self, loaded: LoadedModel, pipe: Any, rule: GridRule, role: Role, request: GenerationRequest
    ) -> tuple[int, float]:
        recipe = self._a14b(loaded, role)
        if recipe is None:
            return super()._recipe(loaded, pipe, rule, role, request)
        steps = self.settings.steps.get(recipe.weights_role, DEFAULT_STEPS[recipe.weights_role])
        guidance, shift = recipe.guidance, recipe.shift
        if request.motion_mode == "fast":
            shift, guidance = shift * FAST_SHIFT_FACTOR, guidance + FAST_GUIDANCE_BOOST
        steps = request.steps if request.steps is not None else steps
        guidance = request.guidance if request.guidance is not None else guidance
        scheduler = pipe.scheduler
        if scheduler.config.get("flow_shift") != shift:
            pipe.scheduler = type(scheduler).from_config(scheduler.config, flow_shift=shift)
        return steps, guidance

    def _call_extras(self, loaded: LoadedModel, role: Role, request: GenerationRequest) -> dict[str, Any]:
        recipe = self._a14b(loaded, role)
        if recipe is None:
            return {}
        low = recipe.guidance_low + (FAST_GUIDANCE_BOOST if request.motion_mode == "fast" else 0.0)
        # A client's guidance_scale (/v1/videos) sets both experts' guidance.
        return {"guidance_scale_2": request.guidance if request.guidance is not None else low}


def _check(settings: Settings) -> Availability:
    absent = not_installed("torch", "diffusers", "transformers", "peft")
    if absent is not None:
        return absent
    text = find_role(settings, "a14b_text")
    if not text.ok or text.path is None:
        return Availability(False, text.problem or "no Wan 2.2 A14B text-to-video weights")
    image = find_role(settings, "a14b_image")
    first_frame = (
        f"first_frame: {image.path.name}"
        if image.ok and image.path
        else "first_frame: as the wan engine (no Wan2.2-I2V-A14B-Diffusers)"
    )
    return Availability(True, f"text: {text.path.name} ({describe_cap(native_rule(text.path))}), {first_frame}")


#: Ranked above the Wan engine: with its weights present it runs ``pixverse:1@3``, so text
#: and first-frame clips go to the A14B experts and the other roles to the Wan folders (the
#: ranking and its source: docs/engines.md, "Which engine runs pixverse:1@3").
SPEC = EngineSpec(name="wan-a14b", rank=30, check=_check, load=WanA14BEngine, gpu=True)
