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

    checks = [_try("codecs", codecs), _try("database", database)]
    checks += engine_checks(settings)
    checks += [_try("gpu", gpu), _try("safety", safety)]
    if settings.broker_url:
        checks.append(_try("broker", lambda: str(settings.broker_url)))
    return checks
