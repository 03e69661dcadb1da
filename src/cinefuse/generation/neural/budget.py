"""One GPU memory budget per process: which model components sit on the device.

Every neural engine of a worker process shares one ``Residency``: the pipelines of every
engine and role are built from components (transformers, text encoders, VAEs, image
encoders), each registered once even where several pipelines share it. A job asks for the
components of one stage at a time (``use``: the text encoder to encode the prompt, then
the transformer with the VAE and image encoder to denoise, then the VAE to decode); what
the stage needs moves to the device and, past the budget, the least recently used others
move to host memory. So a 24 GB card runs Wan 2.2 TI2V-5B (10 GB transformer, 11 GB
text encoder) without offload hooks: the text encoder visits the GPU for a moment per job.

``strict`` (``CINEFUSE_OFFLOAD=model``) moves every component a stage does not need off the
device: diffusers' model CPU offload, one stage at a time, done here so the decode (which
calls the VAE's submodules directly) runs on the device too.

A stage that alone exceeds the budget is refused before anything moves (and the engines
ask ``fits`` before loading anything, from the folders' safetensors headers); a move that
runs out of memory is rolled back, so the budget's books always match the device.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from cinefuse.errors import InferenceError

log = logging.getLogger(__name__)

GIB = 1024**3
#: Share of the GPU the components may keep when no budget is set (the rest: activations).
DEFAULT_BUDGET_SHARE = 0.9
HOST = torch.device("cpu")


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's parameters and buffers. A quantized weight (a torchao tensor
    subclass) counts the tensors it holds (int8 data and scales), not the dtype it shows."""
    return sum(tensor_bytes(t) for t in (*module.parameters(), *module.buffers()))


def tensor_bytes(tensor: torch.Tensor) -> int:
    from torch.utils._python_dispatch import is_traceable_wrapper_subclass

    if is_traceable_wrapper_subclass(tensor):
        names, _ = tensor.__tensor_flatten__()
        return sum(tensor_bytes(getattr(tensor, name)) for name in names)
    return tensor.numel() * tensor.element_size()


@dataclass
class _Entry:
    name: str
    module: torch.nn.Module
    bytes: int


class Residency:
    """Components on ``device`` under ``limit`` bytes (None: no limit); see the module
    docstring. Safe to call from several threads (one lock)."""

    def __init__(self, device: torch.device, limit: int | None, strict: bool = False) -> None:
        self.device = device
        self.limit = limit
        self.strict = strict
        self._on_device: OrderedDict[int, _Entry] = OrderedDict()  # least recently used first
        self._sizes: dict[int, int] = {}
        #: Modules whose placement diffusers' hooks own (group offloading): never moved here.
        self._hooked: set[int] = set()
        self._lock = threading.RLock()

    @property
    def moves_weights(self) -> bool:
        """Whether components ever change device (False on a CPU: device and host are one)."""
        return self.device != HOST

    def hooked(self, module: torch.nn.Module) -> None:
        """``module`` is placed by diffusers' hooks (group offloading); leave it alone."""
        with self._lock:
            self._hooked.add(id(module))

    def size_of(self, module: torch.nn.Module) -> int:
        key = id(module)
        if key not in self._sizes:
            self._sizes[key] = module_bytes(module)
        return self._sizes[key]

    def on_device(self) -> list[str]:
        """Names of the components on the device, least recently used first."""
        with self._lock:
            return [entry.name for entry in self._on_device.values()]

    def bytes_on_device(self) -> int:
        with self._lock:
            return sum(entry.bytes for entry in self._on_device.values())

    def fits(self, needed: int, what: str) -> None:
        """Raise ``InferenceError`` when ``needed`` bytes at once exceed the budget."""
        if self.limit is not None and needed > self.limit:
            raise InferenceError(
                f"{what} needs {needed / GIB:.1f} GiB of GPU memory at once, more than the budget of"
                f" {self.limit / GIB:.1f} GiB (CINEFUSE_GPU_MEMORY_BUDGET; by default 90% of the GPU): set"
                " CINEFUSE_OFFLOAD=group (the transformer streams through the GPU block by block), or use a"
                " smaller model."
            )

    def use(self, components: Iterable[tuple[str, torch.nn.Module]], what: str) -> None:
        """Put ``components`` on the device for the stage ``what``: the least recently used
        others move to host memory while the budget would be exceeded (all of them when
        ``strict``). Raises ``InferenceError`` when the stage alone exceeds the budget, or
        when a move runs out of memory (that component goes back to host memory)."""
        with self._lock:
            wanted = {id(m): _Entry(name, m, self.size_of(m)) for name, m in components if id(m) not in self._hooked}
            self.fits(sum(entry.bytes for entry in wanted.values()), what)
            for key in [k for k in self._on_device if k not in wanted]:
                if not self.strict and self._within_limit(wanted):
                    break
                self._to_host(self._on_device.pop(key))
            for key, entry in wanted.items():
                if key not in self._on_device:
                    self._to_device(entry, what)
                self._on_device[key] = entry
                self._on_device.move_to_end(key)

    def forget(self, modules: Iterable[torch.nn.Module]) -> None:
        """Modules leaving the process (a pipeline dropped): off the device and the books."""
        with self._lock:
            for module in modules:
                entry = self._on_device.pop(id(module), None)
                if entry is not None:
                    self._to_host(entry)
                self._sizes.pop(id(module), None)

    def _within_limit(self, wanted: dict[int, _Entry]) -> bool:
        if self.limit is None:
            return True
        resident = sum(entry.bytes for entry in self._on_device.values())
        arriving = sum(entry.bytes for key, entry in wanted.items() if key not in self._on_device)
        return resident + arriving <= self.limit

    def _to_device(self, entry: _Entry, what: str) -> None:
        if not self.moves_weights:
            return
        log.info("moving %s (%.1f GiB) to %s for %s", entry.name, entry.bytes / GIB, self.device, what)
        try:
            entry.module.to(self.device)
        except torch.OutOfMemoryError as exc:
            # Part of the module may already be on the device: put all of it back, so the
            # memory is freed and the books (which never counted it) stay true.
            message = str(exc).splitlines()[0] if str(exc) else "out of memory"
            entry.module.to(HOST)
            del exc
            empty_device_cache()
            raise InferenceError(
                f"Out of GPU memory moving {entry.name} to {self.device} for {what} ({message}): lower"
                " CINEFUSE_GPU_MEMORY_BUDGET or set CINEFUSE_OFFLOAD."
            ) from None

    def _to_host(self, entry: _Entry) -> None:
        if not self.moves_weights:
            return
        log.info("moving %s (%.1f GiB) off %s (GPU memory budget)", entry.name, entry.bytes / GIB, self.device)
        entry.module.to(HOST)


def empty_device_cache() -> None:
    """Give cached, unused GPU memory back to the driver (nothing without a GPU)."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def default_limit(device: torch.device, budget_gib: float | None) -> int | None:
    """The budget in bytes: ``budget_gib`` when set, else 90% of a GPU; None (no limit) on a
    CPU without a set budget."""
    if budget_gib is not None:
        return int(budget_gib * GIB)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * DEFAULT_BUDGET_SHARE)
    return None
