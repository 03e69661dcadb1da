"""The engine registry (``generation.registry``): the installed specs, the choice of engine
(``auto`` takes the available spec of highest rank; a named one must be available, or the
server refuses to start with that engine's own reason), and the provider that loads the
chosen engine once and shares it across model ids.

Fake specs stand beside the real preview spec: ``engine_specs`` is replaced for the choice
tests only; the preview spec and the settings are real.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cinefuse.errors import InferenceError
from cinefuse.generation import registry
from cinefuse.generation.base import Engine, GenerationRequest, StepCallback, no_progress
from cinefuse.generation.preview import PreviewEngine
from cinefuse.generation.registry import (
    Availability,
    EngineSpec,
    EngineUnavailable,
    choose_engine,
    engine_provider,
    engine_specs,
)
from cinefuse.media.frames import Frame
from cinefuse.settings import Settings, registered_engines

PREVIEW = engine_specs()["preview"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``CINEFUSE_*`` variables: none from the caller's shell leak in."""
    for name in list(os.environ):
        if name.startswith("CINEFUSE_"):
            monkeypatch.delenv(name)


class NamedEngine:
    """A fake engine that is only ever compared by identity."""

    def __init__(self, name: str) -> None:
        self.name = name

    def generate(self, request: GenerationRequest, on_step: StepCallback = no_progress) -> Iterator[Frame]:
        raise NotImplementedError

    def after_job(self) -> None:
        raise NotImplementedError


def fake_spec(
    name: str, rank: int, ok: bool, detail: str = "", load: Callable[[Settings], Engine] | None = None
) -> EngineSpec:
    return EngineSpec(
        name=name,
        rank=rank,
        check=lambda settings: Availability(ok, detail or ("ready" if ok else "not here")),
        load=load or (lambda settings: NamedEngine(name)),
    )


def use_specs(monkeypatch: pytest.MonkeyPatch, *specs: EngineSpec) -> None:
    monkeypatch.setattr(registry, "engine_specs", lambda: {spec.name: spec for spec in specs})


# ------------------------------------------------------------------------------- the specs


def test_the_preview_engine_is_registered_available_and_ranked() -> None:
    specs = engine_specs()
    assert "preview" in specs
    assert set(specs) == set(registered_engines())  # the settings read the same entry points
    assert all(name == spec.name for name, spec in specs.items())
    health = PREVIEW.check(Settings())
    assert health.ok is True and "CPU" in health.detail
    assert isinstance(PREVIEW.load(Settings()), PreviewEngine)


def test_with_the_installed_engines_auto_takes_the_best_available_one() -> None:
    chosen = choose_engine(Settings(engine="auto"))
    assert chosen.check(Settings()).ok
    assert all(spec.rank <= chosen.rank for spec in engine_specs().values() if spec.check(Settings()).ok)
    assert choose_engine(Settings(engine="preview")).name == "preview"


# ------------------------------------------------------------------------------ the choice


def test_auto_skips_an_unavailable_engine_of_higher_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    use_specs(monkeypatch, PREVIEW, fake_spec("neural", 10, ok=False, detail="no CUDA device"))
    assert choose_engine(Settings(engine="auto")) is PREVIEW


def test_auto_takes_an_available_engine_of_higher_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    neural = fake_spec("neural", 10, ok=True)
    use_specs(
        monkeypatch, fake_spec("bigger-but-broken", 20, ok=False), PREVIEW, neural, fake_spec("small", 5, ok=True)
    )
    assert choose_engine(Settings(engine="auto")) is neural


def test_auto_with_nothing_available_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    use_specs(monkeypatch, fake_spec("preview", 0, ok=False), fake_spec("neural", 10, ok=False))
    with pytest.raises(EngineUnavailable, match="no engine can run here"):
        choose_engine(Settings(engine="auto"))


def test_a_named_engine_that_cannot_run_is_refused_with_its_own_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # "preview" (a name the settings accept) unavailable, and a better engine available:
    # naming an engine means that engine, never a substitute.
    reason = "depth model /models/depth/midas_small.onnx is corrupt"
    use_specs(monkeypatch, fake_spec("preview", 0, ok=False, detail=reason), fake_spec("neural", 10, ok=True))
    with pytest.raises(EngineUnavailable) as info:
        choose_engine(Settings(engine="preview"))
    assert "preview" in str(info.value) and reason in str(info.value)
    with pytest.raises(EngineUnavailable, match="corrupt"):
        engine_provider(Settings(engine="preview"))  # a worker that cannot run fails at start


def test_a_named_engine_is_taken_even_when_a_better_one_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    use_specs(monkeypatch, PREVIEW, fake_spec("neural", 10, ok=True))
    assert choose_engine(Settings(engine="preview")) is PREVIEW


# ---------------------------------------------------------------------------- the provider


def test_the_provider_loads_once_on_first_use_and_shares_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Settings] = []

    def load(settings: Settings) -> Engine:
        loads.append(settings)
        return NamedEngine(f"neural #{len(loads)}")

    use_specs(monkeypatch, PREVIEW, fake_spec("neural", 10, ok=True, load=load))
    settings = Settings(engine="auto")
    engine_for = engine_provider(settings)
    assert loads == []  # chosen now, loaded on first use
    first = engine_for("pixverse:1@3")
    assert first.name == "neural #1"
    assert engine_for("pixverse:1@3") is first
    assert loads == [settings]
    with pytest.raises(InferenceError, match="engine wan"):
        engine_for("cinefuse:wan@1")  # names its own engine, which this server lacks: never another


def test_a_model_naming_its_engine_gets_that_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    use_specs(monkeypatch, PREVIEW, fake_spec("wan", 20, ok=True, load=lambda s: NamedEngine("wan")))
    engine_for = engine_provider(Settings(engine="auto"))
    assert engine_for("cinefuse:preview@1").name == "preview"
    assert engine_for("cinefuse:wan@1").name == "wan"
    assert engine_for("pixverse:1@3").name == "wan"  # auto: the best engine present


def test_the_provider_loads_once_under_concurrent_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []

    def slow_load(settings: Settings) -> Engine:
        loads.append(1)
        time.sleep(0.05)
        return NamedEngine("slow")

    use_specs(monkeypatch, fake_spec("preview", 0, ok=True, load=slow_load))
    engine_for = engine_provider(Settings(engine="preview"))
    got: list[Engine] = []
    threads = [threading.Thread(target=lambda: got.append(engine_for("pixverse:1@3"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert len(got) == 4 and all(engine is got[0] for engine in got)


def test_the_real_provider_gives_the_preview_engine() -> None:
    engine_for = engine_provider(Settings(engine="preview"))
    engine = engine_for("pixverse:1@3")
    assert isinstance(engine, PreviewEngine) and engine.name == "preview"
    assert engine_for("pixverse:1@3") is engine
