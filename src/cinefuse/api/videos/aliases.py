"""Model names of the OpenAI-style front door: cinefuse's model ids, and aliases for them.

Apps written for the hosted API name ``sora-2`` or ``sora-2-pro`` (and dated snapshots of
them); they run unchanged once those names point at models this server has. By default
(docs/openai.md, "Models"):

* ``sora-2`` (and ``sora-2-<date>``): the fastest neural engine present (LTX-Video
  distilled, else Wan 2.2 TI2V-5B), else the CPU preview;
* ``sora-2-pro`` (and ``sora-2-pro-<date>``): ``pixverse:1@3``, which runs on the best
  engine this server has (``CINEFUSE_ENGINE``).

``CINEFUSE_VIDEO_MODEL_ALIASES`` (JSON, alias -> model id) adds aliases or replaces these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cinefuse.generation.registry import engine_specs
from cinefuse.models.pixverse import MODEL_ID as PIXVERSE_MODEL_ID
from cinefuse.models.registry import MODELS
from cinefuse.settings import Settings

#: The model the SDK sends when the caller names none.
DEFAULT_MODEL = "sora-2"
#: Engine -> its fastest model, fastest engine first.
FAST_MODELS = (("ltx", "cinefuse:ltx-distilled@1"), ("wan", "cinefuse:wan2.2-ti2v@1"))
PREVIEW_MODEL = "cinefuse:preview@1"
_DATED = re.compile(r"^(sora-2(?:-pro)?)-\d{4}-\d{2}-\d{2}$")


def default_aliases(settings: Settings) -> dict[str, str]:
    """``sora-2`` and ``sora-2-pro`` as the module docstring says, for the engines usable here."""
    specs = engine_specs()
    fast = next(
        (model for engine, model in FAST_MODELS if engine in specs and specs[engine].check(settings).ok),
        PREVIEW_MODEL,
    )
    return {"sora-2": fast, "sora-2-pro": PIXVERSE_MODEL_ID}


@dataclass(frozen=True)
class ModelNames:
    """Resolves the ``model`` of a request to a model id."""

    aliases: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelNames:
        """The default aliases with the settings' on top; ``ValueError`` naming an alias whose
        target is not a model of this server."""
        aliases = default_aliases(settings) | settings.video_model_aliases
        for alias, target in aliases.items():
            if target not in MODELS:
                raise ValueError(
                    f"CINEFUSE_VIDEO_MODEL_ALIASES: {alias!r} points at {target!r}, not a model of this server"
                    f" ({', '.join(MODELS)})"
                )
        return cls(aliases)

    def resolve(self, name: str) -> str | None:
        """The model id ``name`` stands for, or None when it is neither a model id nor an alias."""
        if name in MODELS:
            return name
        if name in self.aliases:
            return self.aliases[name]
        dated = _DATED.match(name)
        return self.aliases.get(dated.group(1)) if dated else None

    def names(self) -> list[str]:
        """Every name ``resolve`` accepts but the dated ones: aliases, then model ids."""
        return [*self.aliases, *MODELS]
