"""What a model accepts: the single description every validation rule is read from.

The task validator (``schemas/tasks.py``) is generic; everything model-specific
(sizes, durations, frame rates, enums, cross-field limits, prices) lives in one
``ModelCapabilities`` value per model id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Size = tuple[int, int]
MotionMode = Literal["normal", "fast"]
OutputFormat = Literal["MP4", "WEBM", "MOV"]

RESOLUTION_ORDER = ("360p", "540p", "720p", "1080p")


@dataclass(frozen=True)
class ModelCapabilities:
    model_id: str
    #: resolution tier -> aspect name -> (width, height); the first aspect is text-to-video's.
    sizes: dict[str, dict[str, Size]]
    default_resolution: str
    durations: tuple[float, ...]
    default_duration: float
    fps: tuple[int, ...]
    default_fps: int
    camera_movements: tuple[str, ...]
    effects: tuple[str, ...]
    styles: tuple[str, ...]
    motion_modes: tuple[MotionMode, ...]
    #: durations allowed per resolution where narrower than ``durations``.
    durations_by_resolution: dict[str, tuple[float, ...]] = field(default_factory=dict)
    #: with cameraMovement, effect or style: the only durations and the largest tier.
    provider_setting_durations: tuple[float, ...] = ()
    provider_setting_max_resolution: str = "1080p"
    #: motionMode "fast" silently becomes "normal" at these durations / resolutions.
    fast_mode_excluded_durations: tuple[float, ...] = ()
    fast_mode_excluded_resolutions: tuple[str, ...] = ()
    prompt_length: tuple[int, int] = (2, 2048)
    number_results: tuple[int, int] = (1, 4)
    output_quality: tuple[int, int] = (20, 99)
    default_output_quality: int = 95
    output_formats: tuple[OutputFormat, ...] = ("MP4", "WEBM", "MOV")
    output_types: tuple[str, ...] = ("URL",)
    delivery_methods: tuple[str, ...] = ("async",)
    max_frame_images: int = 2
    max_reference_images: int = 3
    provider: str = "pixverse"
    #: The engine that runs this model (``generation`` registry name); None: the best engine
    #: this server has (``CINEFUSE_ENGINE``, ``auto`` by default).
    engine: str | None = None
    #: Multiplies the server's price per second of output (``CINEFUSE_PRICE_*``).
    price_scale: float = 1.0
    #: One line for people choosing a model (the studio, the docs).
    description: str = ""
    #: The model makes a sound track with its video (LTX-2); whether a clip carries it is
    #: ``CINEFUSE_SOUND``'s choice (``engine.requests.generation_request``).
    audio: bool = False

    @property
    def resolutions(self) -> tuple[str, ...]:
        return tuple(r for r in RESOLUTION_ORDER if r in self.sizes)

    @property
    def aspects(self) -> tuple[str, ...]:
        return tuple(next(iter(self.sizes.values())).keys())

    def all_sizes(self) -> dict[Size, str]:
        """(width, height) -> resolution tier, for explicit width/height requests."""
        return {size: res for res, by_aspect in self.sizes.items() for size in by_aspect.values()}

    def size_for(self, resolution: str, aspect: str | None = None) -> Size:
        by_aspect = self.sizes[resolution]
        return by_aspect[aspect] if aspect else next(iter(by_aspect.values()))

    def nearest_aspect(self, width: int, height: int) -> str:
        """The aspect whose ratio is closest to width/height (in log space, so 2:1 and 1:2 are symmetric)."""
        target = math.log(width / height)
        sizes = self.sizes[self.default_resolution]
        return min(sizes, key=lambda a: abs(math.log(sizes[a][0] / sizes[a][1]) - target))

    def size_for_image(self, resolution: str, width: int, height: int) -> Size:
        """Output size at ``resolution`` for a frame image of ``width`` x ``height`` (the first
        frame's, or the last's alone): its aspect ratio snapped to the nearest one the model
        has (docs/api.md 3.2)."""
        return self.size_for(resolution, self.nearest_aspect(width, height))

    def allowed_durations(self, resolution: str) -> tuple[float, ...]:
        return self.durations_by_resolution.get(resolution, self.durations)

    def resolution_at_most(self, resolution: str, limit: str) -> bool:
        return RESOLUTION_ORDER.index(resolution) <= RESOLUTION_ORDER.index(limit)
