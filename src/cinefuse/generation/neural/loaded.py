"""A loaded weights folder (``LoadedModel``) and its pipelines of other classes (``view``):
what the pipeline cache hands the engines, and the LoRA and speed code works on."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cinefuse.generation.neural.loras import LoraBase, LoraInfo


def view(pipeline_class: type[Any], base: Any) -> Any:
    """``pipeline_class`` on ``base``'s components and settings (``expand_timesteps`` ...),
    absent optional components as None. Unlike ``from_pipe`` this never casts: the
    components are the same objects, in their own dtypes."""
    expected, optional = pipeline_class._get_signature_keys(pipeline_class)
    parameters = inspect.signature(pipeline_class.__init__).parameters
    components = base.components
    kwargs: dict[str, Any] = {name: components.get(name) for name in expected if name in parameters}
    kwargs.update({name: base.config[name] for name in optional if name in base.config and name in parameters})
    pipe = pipeline_class(**kwargs)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@dataclass
class LoadedModel:
    """One weights folder, loaded once per process, and what the engines need to know of it."""

    folder: Path
    pipe: Any
    #: pipeline class name -> the pipeline of that class on these components.
    views: dict[str, Any] = field(default_factory=dict)
    #: Adapter names loaded into the transformer (the views share it).
    loras: set[str] = field(default_factory=set)
    #: The step-distillation LoRA, when it fits this model and loaded.
    distill: LoraInfo | None = None
    #: The transformer a LoRA must have been trained on.
    base: LoraBase | None = None
    #: Its transformer is sharded across the context-parallel group.
    parallel: bool = False
    #: The cache hook on the transformer now: (kind, steps) or None (``speed.run_cache``).
    cache: tuple[str, int] | None = None
    #: The pipeline (view) running now, while it runs.
    running: Any = None

    def as_pipeline(self, pipeline_class: type[Any]) -> Any:
        name = pipeline_class.__name__
        if name not in self.views:
            self.views[name] = view(pipeline_class, self.pipe)
        return self.views[name]

    def running_timestep(self) -> Any:
        """The running pipeline's current timestep (pyramid attention broadcast asks)."""
        return self.running.current_timestep if self.running is not None else None

    @property
    def transformer(self) -> Any:
        return self.pipe.transformer

    def modules(self) -> dict[str, torch.nn.Module]:
        return {name: m for name, m in self.pipe.components.items() if isinstance(m, torch.nn.Module)}
