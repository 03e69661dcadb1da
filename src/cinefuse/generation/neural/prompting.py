"""The PixVerse settings as a neural model understands them: words, and LoRAs where they exist.

* ``style``: a prompt template, plus the style's LoRA when ``loras/`` has one (``STYLE_LORAS``);
* ``effect``: the effect's LoRA with its trigger words where one exists (``EFFECT_LORAS``:
  the Apache-2.0 Wan effect LoRAs), else a prompt template describing the effect;
* ``cameraMovement``: camera phrasing (image-to-video also gets a motion guide: wan.py), plus
  the movement's camera-control LoRA where ``loras/`` has one that fits (``CAMERA_LORAS``:
  Lightricks' LTX-2 camera LoRAs);
* ``motionMode`` fast: motion phrasing (and more flow shift and guidance: the engines).

docs/engines.md has the whole table. The templates wrap the user's prompt; they never
replace it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefuse.generation.base import GenerationRequest

CAMERA_PHRASES: dict[str, str] = {
    "horizontal_left": "the camera trucks smoothly to the left",
    "horizontal_right": "the camera trucks smoothly to the right",
    "vertical_up": "the camera rises vertically, pedestal up",
    "vertical_down": "the camera lowers vertically, pedestal down",
    "zoom_in": "the camera slowly zooms in",
    "zoom_out": "the camera slowly zooms out",
    "auto_camera": "cinematic camera movement",
    "crane_up": "crane shot, the camera rises and tilts down over the scene",
    "quickly_zoom_in": "a fast crash zoom in",
    "quickly_zoom_out": "a fast zoom out",
    "smooth_zoom_in": "a smooth, gentle zoom in",
    "camera_rotation": "the camera orbits around the subject",
    "robo_arm": "precise robotic arm camera moves, motion-control shot",
    "super_dolly_out": "a long dolly out, pulling far back from the subject",
    "whip_pan": "a fast whip pan with motion blur",
    "hitchcock": "a dolly zoom, vertigo effect: the subject stays the same size while the background stretches",
    "left_follow": "tracking shot following the subject moving left",
    "right_follow": "tracking shot following the subject moving right",
    "pan_left": "the camera pans to the left",
    "pan_right": "the camera pans to the right",
    "fix_bg": "static camera, locked-off shot, only the subject moves",
}

STYLE_TEMPLATES: dict[str, str] = {
    "anime": "anime style, cel shading, clean line art, vibrant colors, {prompt}",
    "3d_animation": "3D animated film style, soft global illumination, stylized characters, {prompt}",
    "clay": "claymation, stop-motion clay figures, handmade plasticine textures, {prompt}",
    "comic": "comic book style, bold ink outlines, halftone shading, saturated colors, {prompt}",
    "cyberpunk": "cyberpunk style, neon teal and magenta lights, rain-slick night city, {prompt}",
}

EFFECT_TEMPLATES: dict[str, str] = {
    "bikini up": "{prompt}, the person's outfit transforms into a summer swimsuit from the feet up, beach light",
    "the tigers touch": "{prompt}, tiger stripes sweep across the subject, who crouches to pounce",
    "jiggle jiggle": "{prompt}, the subject wobbles and jiggles with a bouncy squash and stretch",
    "hug your love": "{prompt}, two people move together and hug warmly",
    "kiss me ai": "{prompt}, the subject leans toward the camera for a kiss, hearts float up",
    "subject 3 fever": "{prompt}, the subject dances the subject three dance under disco lights",
    "fin-tastic mermaid": "{prompt}, the subject's legs turn into a shimmering mermaid tail underwater",
    "lets ymca": "{prompt}, the subject dances the YMCA, arms forming the letters",
    "skeleton dance": "{prompt}, x-ray view, the subject becomes a dancing skeleton",
    "kungfu club": "{prompt}, the subject performs fast kung fu strikes with speed lines",
    "boom drop": "{prompt}, the subject drops from above and lands with an impact flash and camera shake",
    "vroom vroom step": "{prompt}, the subject hops forward in rhythmic steps, motion lines rushing past",
    "creepy devil smile": "{prompt}, the subject's smile stretches into a creepy devil grin, eyes glowing red",
    "pubg winner hit": "{prompt}, victory celebration, golden light rays burst behind the subject",
    "360 microwave": "{prompt}, the subject rotates 360 degrees on a turntable under warm oven light",
    "eye zoom challenge": "{prompt}, an accelerating push in to an extreme close-up of the eyes",
    "muscle surge": "{prompt}, the subject's muscles swell and bulge powerfully",
    "punch face": "{prompt}, a punch lands on the subject's face, it recoils and springs back",
    "balloon belly": "{prompt}, the subject's belly inflates like a balloon",
    "kiss kiss": "{prompt}, two people lean in and kiss, hearts pop between them",
}

#: Effects with a LoRA: the LoRA folder names looked for under ``loras/``, most preferred
#: first (the Apache-2.0 Wan effect LoRAs as commonly named). The rest use their template.
EFFECT_LORAS: dict[str, tuple[str, ...]] = {
    "balloon belly": ("inflate", "wan-inflate", "inflate-it"),
    "muscle surge": ("muscle", "wan-muscle", "muscle-show-off"),
    "360 microwave": ("rotate", "wan-rotate", "360-rotation"),
    "jiggle jiggle": ("squish", "wan-squish", "squish-it"),
    "boom drop": ("crush", "wan-crush", "crush-it"),
    "skeleton dance": ("skeleton", "wan-skeleton"),
}
#: Styles with an optional LoRA, looked for the same way.
STYLE_LORAS: dict[str, tuple[str, ...]] = {
    "anime": ("anime", "wan-anime"),
    "3d_animation": ("3d-animation", "wan-3d-animation"),
    "clay": ("claymation", "clay", "wan-claymation"),
    "comic": ("comic", "wan-comic"),
    "cyberpunk": ("cyberpunk", "wan-cyberpunk"),
}


#: Camera movements with a camera-control LoRA, looked for the same way: Lightricks' LTX-2 19B
#: camera LoRAs (``Lightricks/LTX-2-19b-LoRA-Camera-Control-<Move>``, under their repository
#: names or short ones), each the nearest of the seven published moves.
def _camera(move: str) -> tuple[str, ...]:
    return (f"LTX-2-19b-LoRA-Camera-Control-{move}", f"camera-{move.lower()}")


CAMERA_LORAS: dict[str, tuple[str, ...]] = {
    "zoom_in": _camera("Dolly-In"),
    "smooth_zoom_in": _camera("Dolly-In"),
    "quickly_zoom_in": _camera("Dolly-In"),
    "zoom_out": _camera("Dolly-Out"),
    "quickly_zoom_out": _camera("Dolly-Out"),
    "super_dolly_out": _camera("Dolly-Out"),
    "horizontal_left": _camera("Dolly-Left"),
    "horizontal_right": _camera("Dolly-Right"),
    "vertical_up": _camera("Jib-Up"),
    "crane_up": _camera("Jib-Up"),
    "vertical_down": _camera("Jib-Down"),
    "fix_bg": _camera("Static"),
}

FAST_MOTION_PHRASE = "fast, dynamic, energetic motion"
#: Wan's published default negative prompt (``sample_neg_prompt`` in Wan2.1's and Wan2.2's
#: ``wan/configs/shared_config.py``), in the Chinese it was trained and evaluated with; the
#: UMT5 encoder reads it as it is. diffusers' docs give an English rendering ("Bright tones,
#: overexposed, static, blurred details, subtitles, ... walking backwards").
WAN_NEGATIVE = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，"
    "残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，"
    "三条腿，背景人很多，倒着走"
)
#: LTX-Video's example negative prompt (its model card and diffusers' docs).
LTX_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"


@dataclass(frozen=True)
class PromptPlan:
    prompt: str
    negative_prompt: str
    #: LoRA folder names wanted (effect, then style, then camera), each with the trigger words to add.
    lora_candidates: tuple[tuple[str, ...], ...]


def plan_prompt(request: GenerationRequest, default_negative: str) -> PromptPlan:
    """The prompt and negative prompt for ``request`` (``default_negative``, the model's
    published one, when it gives none), and the LoRAs it would like."""
    prompt = request.prompt.strip()
    if request.style:
        prompt = STYLE_TEMPLATES[request.style].format(prompt=prompt)
    if request.effect:
        prompt = EFFECT_TEMPLATES[request.effect].format(prompt=prompt)
    if request.camera_movement:
        prompt = f"{prompt}, {CAMERA_PHRASES[request.camera_movement]}"
    if request.motion_mode == "fast":
        prompt = f"{prompt}, {FAST_MOTION_PHRASE}"
    wanted: list[tuple[str, ...]] = []
    if request.effect in EFFECT_LORAS:
        wanted.append(EFFECT_LORAS[request.effect])
    if request.style in STYLE_LORAS:
        wanted.append(STYLE_LORAS[request.style])
    if request.camera_movement in CAMERA_LORAS:
        wanted.append(CAMERA_LORAS[request.camera_movement])
    negative = request.negative_prompt.strip() if request.negative_prompt else default_negative
    return PromptPlan(prompt, negative, tuple(wanted))
