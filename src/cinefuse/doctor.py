"""``cinefuse doctor``: what this machine can run, checked for real (imports, codecs, connections)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from cinefuse.settings import Settings

Check = tuple[str, bool, str]


def engine_checks(settings: Settings) -> list[Check]:
    """Each registered engine's own health check, and which engine this server would use."""
    from cinefuse.generation.registry import EngineUnavailable, choose_engine, engine_specs

    checks: list[Check] = []
    for name, spec in sorted(engine_specs().items()):
        try:
            health = spec.check(settings)
            checks.append((f"engine {name}", health.ok, health.detail))
        except Exception as exc:  # a doctor reports, it never crashes
            checks.append((f"engine {name}", False, f"{type(exc).__name__}: {exc}"))
    try:
        checks.append(("engine in use", True, f"{choose_engine(settings).name} (CINEFUSE_ENGINE={settings.engine})"))
    except EngineUnavailable as exc:
        checks.append(("engine in use", False, str(exc)))
    return checks + weights_checks(settings)


def weights_checks(settings: Settings) -> list[Check]:
    """The neural engines' weights, role by role: the folder found, or what is missing."""
    from cinefuse.generation.neural.loras import discover_loras
    from cinefuse.generation.neural.weights import find_weights

    checks: list[Check] = []
    for role, found in find_weights(settings).items():
        if found.ok and found.path is not None:
            checks.append((f"weights {role}", True, f"{found.path} ({found.pipeline})"))
        else:
            checks.append((f"weights {role}", False, found.problem or "missing"))
    try:
        loras = discover_loras(settings.weights_dir)
        names = ", ".join(
            f"{name} ({', '.join(info.trigger_words) or 'no trigger words'})" for name, info in loras.items()
        )
        checks.append(("loras", True, names or "none"))
    except ValueError as exc:
        checks.append(("loras", False, str(exc)))
    return checks


def _try(name: str, probe: Callable[[], str]) -> Check:
    try:
        return name, True, probe()
    except Exception as exc:  # a doctor reports, it never crashes
        return name, False, f"{type(exc).__name__}: {exc}"


def report(settings: Settings) -> list[Check]:
    def codecs() -> str:
        import av

        names = ("libx264", "libvpx-vp9", "prores_ks")
        found = [n for n in names if n in av.codecs_available]
        missing = set(names) - set(found)
        if missing:
            raise RuntimeError(f"missing encoders: {', '.join(sorted(missing))}")
        return ", ".join(found)

    def database() -> str:
        from sqlalchemy import text

        from cinefuse.jobs.db import make_engine

        engine = make_engine(settings.resolved_database_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return engine.url.render_as_string(hide_password=True)

    def gpu() -> str:
        if importlib.util.find_spec("torch") is None:
            raise RuntimeError("torch not installed (extra 'gpu')")
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device")
        return str(torch.cuda.get_device_name(0))

    def safety() -> str:
        if importlib.util.find_spec("nudenet") is None:
            raise RuntimeError("nudenet not installed (extra 'safety')")
        return "nudenet"

    def quantization() -> str:
        """The GPU profile row and the quantization and offload it leads to, and whether the
        backends can run on this device."""
        from cinefuse.generation.neural.pipelines import gpu_gib
        from cinefuse.generation.neural.quantize import backend_problem
        from cinefuse.generation.neural.runtime import resolve_device

        device = resolve_device(settings)
        row = settings.profile_row(gpu_gib(device))
        effective = settings.with_gpu_profile(row)
        problem = backend_problem(effective, device)
        if problem:
            raise RuntimeError(problem)
        where = f"GPU profile {row.gib} GiB" if row else f"no GPU profile (CINEFUSE_GPU_PROFILE={settings.gpu_profile})"
        return (
            f"{where}: transformers {effective.quantization}, text encoders {effective.text_encoder_quantization},"
            f" offload {effective.offload} on {device}"
        )

    def context_parallel() -> str:
        from cinefuse.worker_processes import gpu_groups, visible_gpus

        groups = gpu_groups(visible_gpus(), settings.context_parallel)
        where = ", ".join(f"GPUs {g}" for g in groups) if groups else "one group of CPU processes (gloo)"
        return f"{settings.context_parallel} per clip: {where}"

    checks = [_try("codecs", codecs), _try("database", database)]
    checks += engine_checks(settings)
    checks += [_try("gpu", gpu), _try("safety", safety)]
    if importlib.util.find_spec("torch") is not None:
        checks.append(_try("quantization", quantization))
    if settings.context_parallel > 1:
        checks.append(_try("context parallel", context_parallel))
    return checks + distributed_checks(settings)


def distributed_checks(settings: Settings) -> list[Check]:
    """Broker and bucket (when configured) and the workers' heartbeats, as ``/readyz`` sees them."""
    try:
        from sqlalchemy import inspect

        from cinefuse.distributed import probes
        from cinefuse.jobs.db import make_engine
        from cinefuse.jobs.store import JobStore
        from cinefuse.services import build_media_store

        db = make_engine(settings.resolved_database_url)
        migrated = inspect(db).has_table("workers")
        found = probes(settings, JobStore(db), build_media_store(settings))
    except Exception as exc:  # a doctor reports, it never crashes
        return [("distributed", False, f"{type(exc).__name__}: {exc}")]
    checks = [(p.name, p.ok, p.detail) for p in found if p.name != "database"]
    if not migrated:  # not an error: nothing has run against this job store yet
        empty = "no job store yet: the first cinefuse serve or worker creates it"
        checks = [(name, ok, empty if name == "workers" else detail) for name, ok, detail in checks]
    return checks
