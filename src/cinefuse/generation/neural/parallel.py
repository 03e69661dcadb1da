"""Context parallelism: one clip on several GPUs (``CINEFUSE_CONTEXT_PARALLEL``).

A group of ``N`` processes renders each clip together. Rank 0, the *leader*, is an ordinary
worker process: it claims jobs, renews leases, sees cancels, decodes and encodes. Ranks
1..N-1, the *followers*, are processes the leader spawns; each loads the same pipelines
and, for every clip, makes the same pipeline call in lockstep, so diffusers' context-parallel
hooks (Ulysses attention: ``ContextParallelConfig(ulysses_degree=N)``) split the video's
tokens across the group inside every transformer forward.

How the ranks stay in step:

- the leader hands each follower the request (engine name + ``GenerationRequest``) over a
  multiprocessing queue, never a collective, so an idle follower can wait for hours
  without tripping the process group's timeout;
- after every denoising step the ranks agree on stopping (``agree``: an all-reduce of a
  flag), so a cancel, a lost lease or the time limit seen by the leader interrupts every
  rank at the same step;
- before each pipeline call the ranks agree that all of them prepared it (``preparing``),
  so missing weights fail the job on every rank rather than stalling one;
- a pipeline whose transformer is not ``SHARDABLE`` runs on the leader alone, and the
  followers, which read that from the folder's config, do not even load it;
- a sharded clip's grid is grown by a token row or column where needed so that its token
  count divides by ``N`` (``grid.shard_plan``): diffusers splits the sequence into equal
  parts and does not pad;
- the latents are complete on every rank (the plan gathers the transformer's output), so
  only the leader decodes; followers skip the VAE.

A group whose follower died, or that failed inside a pipeline call (where the other ranks
wait in a collective), is a crashed worker: its processes exit (the job's lease runs out and
the sweeper queues it again) and the worker pool starts a whole new group. While a pipeline
call runs, the leader watches its followers (``FOLLOWER_CHECK``): a follower that dies
mid-call would otherwise leave the leader in a collective until its timeout (minutes),
renewing the job's lease all the while.

On a CPU (the tests; a host without GPUs) the group talks gloo; on GPUs, NCCL, with rank
``r`` on the ``r``-th GPU of the group's ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.context import SpawnProcess
from typing import TYPE_CHECKING, Any

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationInterrupted, GenerationRequest
from cinefuse.settings import Settings

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: The leader's exit status when its group broke; the worker pool starts a new group.
GROUP_BROKEN_EXIT = 75
#: Seconds a collective may wait for a peer before the group counts as broken. One
#: transformer forward of a 720p clip takes seconds: minutes of silence mean a dead peer.
COLLECTIVE_TIMEOUT = timedelta(minutes=10)

#: Transformers whose diffusers context-parallel plan renders correctly here (tested: the
#: sharded clip matches the unsharded one). LTX-Video's plan fails under the condition
#: pipeline in diffusers 0.42.1 (the cross-attention mask's shape after the all-to-all), and
#: VACE has no plan; LTX-2's plan splits the video tokens and not the audio stream that
#: attends to them: those run on the leader alone.
SHARDABLE = frozenset({"WanTransformer3DModel"})

#: Seconds between a waiting follower's checks that its leader still lives.
IDLE_CHECK = 2.0
#: Seconds between the leader's checks, during a pipeline call, that its followers live.
FOLLOWER_CHECK = 1.0

#: (engine name, request), or None: stop.
Message = tuple[str, GenerationRequest] | None


@dataclass
class ParallelGroup:
    """This process's place in a context-parallel group."""

    rank: int
    world: int
    device: torch.device
    #: Leader only: one queue and one process per follower.
    queues: list[Any] = field(default_factory=list)
    followers: list[SpawnProcess] = field(default_factory=list)

    @property
    def leads(self) -> bool:
        return self.rank == 0

    def apply(self, transformer: Any) -> bool:
        """Shard ``transformer``'s attention across the group (diffusers' context-parallel
        hooks) when it is ``SHARDABLE``; returns whether it did. Call after the attention
        backend is set, before caches and compiling."""
        from diffusers import ContextParallelConfig

        if type(transformer).__name__ not in SHARDABLE:
            return False
        with _one_device_on_cpu(self.device):
            transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=self.world))
        return True

    def announce(self, engine: str, request: GenerationRequest) -> None:
        """Leader: make every follower start ``request`` on ``engine``; exit the process
        when a follower is gone (a broken group cannot render)."""
        self.exit_if_broken()
        for q in self.queues:
            q.put((engine, request))

    def agree(self, stop: bool) -> bool:
        """Every rank, after each denoising step: True when any rank wants to stop."""
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1 if stop else 0], dtype=torch.int32, device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def ready(self, ok: bool) -> bool:
        """Every rank, before a pipeline call: True when every rank prepared it."""
        return not self.agree(not ok)

    def exit_if_broken(self) -> None:
        dead = [(i + 1, p.exitcode) for i, p in enumerate(self.followers) if not p.is_alive()]
        if dead:
            log.error("context-parallel group lost rank(s) %s: restarting the whole group", dead)
            self._abandon()

    def _abandon(self) -> None:
        """Leave a broken group: the leader takes its followers with it."""
        for process in self.followers:
            if process.is_alive():
                process.kill()
        os._exit(GROUP_BROKEN_EXIT)

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Every rank, around what it does before a pipeline call (loading, prompts,
        inputs): a failure on any rank fails the clip on all of them, before any collective
        of the call could wait for the one that failed."""
        try:
            yield
        except BaseException:
            self.ready(False)
            raise
        if not self.ready(True):
            raise InferenceError("Another rank of the context-parallel group could not prepare this clip (its log).")

    @contextlib.contextmanager
    def lockstep(self) -> Iterator[None]:
        """Every rank, around a pipeline call: a failure inside it leaves the other ranks
        waiting in a collective that never completes. The group is broken: exit (the
        leader's job goes back to the queue when its lease runs out) so the pool restarts
        the whole group. The leader also leaves when a follower dies during the call."""
        stop = threading.Event()
        watch = None
        if self.followers:
            watch = threading.Thread(target=self._watch_followers, args=(stop,), name="cp-followers", daemon=True)
            watch.start()
        try:
            yield
        except BaseException:
            log.exception("context-parallel rank %d failed inside a pipeline call: leaving the group", self.rank)
            self._abandon()
        finally:
            stop.set()
            if watch is not None:
                watch.join()

    def _watch_followers(self, stop: threading.Event) -> None:
        while not stop.wait(FOLLOWER_CHECK):
            self.exit_if_broken()

    def close(self) -> None:
        import torch.distributed as dist

        for q in self.queues:
            q.put(None)
        for process in self.followers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        if dist.is_initialized():
            dist.destroy_process_group()


_current: ParallelGroup | None = None


def current_group() -> ParallelGroup | None:
    """The group this process renders in, or None (one device per clip)."""
    return _current


def shardable(transformer_class: str) -> bool:
    """Whether a transformer of this class is sharded across a group (``SHARDABLE``)."""
    return transformer_class in SHARDABLE


def is_follower() -> bool:
    """This process is a follower rank: it denoises in lockstep and leaves the rest to the
    leader."""
    return _current is not None and not _current.leads


def lockstep_group(engine: str, request: GenerationRequest) -> ParallelGroup | None:
    """An engine, as it starts a clip: the group it renders in (None without one); the
    leader first hands ``request`` to the followers, which start the same clip."""
    if _current is not None and _current.leads:
        _current.announce(engine, request)
    return _current


def preparing(group: ParallelGroup | None) -> contextlib.AbstractContextManager[None]:
    """``ParallelGroup.preparing``, or nothing without a group."""
    return group.preparing() if group is not None else contextlib.nullcontext()


def running(group: ParallelGroup | None) -> contextlib.AbstractContextManager[None]:
    """``ParallelGroup.lockstep``, or nothing without a group."""
    return group.lockstep() if group is not None else contextlib.nullcontext()


def start_group(settings: Settings) -> ParallelGroup | None:
    """In a freshly started worker process, before any engine loads: with
    ``context_parallel`` > 1, spawn the followers, join the group as its leader and return
    it (engines then shard their transformers); otherwise None."""
    global _current
    world = settings.context_parallel
    if world <= 1:
        return None
    context = multiprocessing.get_context("spawn")
    address = f"tcp://127.0.0.1:{_free_port()}"
    values = settings.model_dump()
    queues: list[Any] = []
    followers: list[SpawnProcess] = []
    for rank in range(1, world):
        q = context.Queue()
        process = context.Process(
            target=follower_main,
            args=(values, rank, world, address, q),
            name=f"cinefuse-cp-rank-{rank}",
            daemon=True,
        )
        process.start()
        queues.append(q)
        followers.append(process)
    _current = _join(settings, 0, world, address)
    _current.queues, _current.followers = queues, followers
    log.info("context-parallel group of %d ranks on %s (leader pid %s)", world, _current.device, os.getpid())
    return _current


def _join(settings: Settings, rank: int, world: int, address: str) -> ParallelGroup:
    import torch
    import torch.distributed as dist

    # ``settings.device`` as ``runtime.resolve_device`` reads it without a group (this module
    # sits below runtime: runtime asks it for the group's device).
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(auto if settings.device == "auto" else settings.device)
    if device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=address, rank=rank, world_size=world, timeout=COLLECTIVE_TIMEOUT)
    return ParallelGroup(rank, world, device)


def follower_main(values: dict[str, Any], rank: int, world: int, address: str, inbox: Any) -> None:
    """A follower rank (a spawned process): join the group, then run each request the
    leader sends through the same engine, skipping what only the leader does. A failure
    while preparing a clip is the leader's too (``preparing``): logged, and the follower
    waits for the next; a failure inside the pipeline call ends the process (``lockstep``).
    Returns when the leader says stop or is gone."""
    global _current
    from cinefuse.generation.registry import engine_specs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the leader, which says stop
    settings = Settings.model_validate(values)
    _current = _join(settings, rank, world, address)
    specs = engine_specs()
    engines: dict[str, Any] = {}
    leader = os.getppid()
    while True:
        try:
            message: Message = inbox.get(timeout=IDLE_CHECK)
        except queue.Empty:
            if os.getppid() != leader:  # the leader died without a word: so do we
                break
            continue
        except (EOFError, OSError):
            break
        if message is None:
            break
        name, request = message
        try:
            engine = engines.get(name)
            if engine is None:
                engine = engines[name] = specs[name].load(settings)
            for _ in engine.generate(request):  # a follower's iterator ends after denoising
                pass
            if getattr(engine, "last_run", {}).get("sharded"):  # the neural engines record it
                log.info("context-parallel rank %d of %d denoised its share of a clip (%s)", rank, world, name)
            else:
                log.info("context-parallel rank %d of %d left a clip to the leader (%s)", rank, world, name)
        except GenerationInterrupted:
            log.info("context-parallel rank %d of %d stopped with its group", rank, world)
            continue
        except Exception as exc:  # failed while preparing, as the leader did (``preparing``)
            log.warning("context-parallel rank %d: %s", rank, exc)
    _current.close()


@contextlib.contextmanager
def _one_device_on_cpu(device: torch.device) -> Iterator[None]:
    """diffusers places rank ``r`` on accelerator ``r % torch.accelerator.device_count()``,
    which divides by zero where there is no accelerator; a CPU group (gloo) has one device,
    the CPU, so count one while the hooks are set up."""
    import torch

    if device.type != "cpu":
        yield
        return
    original = torch.accelerator.device_count
    torch.accelerator.device_count = lambda: 1
    try:
        yield
    finally:
        torch.accelerator.device_count = original


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
