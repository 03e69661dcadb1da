"""The Wan 2.2 A14B engine on tiny real-class folders (two experts each, loaded through the
production code): both experts run, switching where the boundary puts it (forward hooks
count each expert's calls), a cancel in the second expert stops there and skips the
decode, a budget that holds one expert runs both, the roles without an A14B folder go to
the Wan folders, a LoRA loads into both experts, and a folder missing an expert's weights
answers ``inferenceError`` naming the file."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.generation.neural.test_engines import Steps, picture, request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationInterrupted
from cinefuse.generation.neural.wan_a14b import RECIPES, WanA14BEngine

STEPS = 6


def linked_models(root: Path, tiny_models_dir: Path, *extra: Path) -> Path:
    """A models dir holding the tiny Wan folders and LoRAs (symlinked) and ``extra``."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in tiny_models_dir.iterdir():
        (root / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for folder in extra:
        if not (root / folder.name).exists():
            (root / folder.name).symlink_to(folder, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def a14b_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.generation.neural.tiny_weights import build_wan22_a14b

    root = tmp_path_factory.mktemp("a14b")
    return {"text": build_wan22_a14b(root), "image": build_wan22_a14b(root, image=True)}


@pytest.fixture(scope="module")
def models(tiny_models_dir: Path, a14b_folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linked_models(tmp_path_factory.mktemp("a14b-models") / "m", tiny_models_dir, *a14b_folders.values())


@pytest.fixture(scope="module")
def engine(models: Path) -> WanA14BEngine:
    return WanA14BEngine(
        settings_for(models, data_dir="/tmp/cinefuse-a14b", steps={"a14b_text": STEPS, "a14b_image": STEPS})
    )


class ExpertCalls:
    """Counts the forward calls of each expert of a loaded A14B model."""

    def __init__(self, pipe: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.order: list[str] = []
        self._handles = [
            getattr(pipe, name).register_forward_pre_hook(lambda *_, name=name: self._seen(name))
            for name in ("transformer", "transformer_2")
        ]

    def _seen(self, name: str) -> None:
        self.calls[name] += 1
        self.order.append(name)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.fixture
def experts(engine: WanA14BEngine) -> Iterator[dict[str, ExpertCalls]]:
    run(engine, request(num_frames=5))  # loads the text folder
    run(engine, request(num_frames=5, first_frame=picture(1)))  # and the image folder
    hooks = {
        model.folder.name: ExpertCalls(model.pipe)
        for model in engine.cache.loaded()
        if model.pipe.components.get("transformer_2") is not None
    }
    yield hooks
    for hook in hooks.values():
        hook.close()


def expected_high_steps(engine: WanA14BEngine, role: str) -> int:
    """How many of the run's timesteps are at or above the boundary (diffusers' rule)."""
    (model,) = [m for m in engine.cache.loaded() if m.folder.name.startswith(f"Wan2.2-{role}-A14B")]
    pipe = model.pipe
    boundary = pipe.config.boundary_ratio * pipe.scheduler.config.num_train_timesteps
    schedule = type(pipe.scheduler).from_config(pipe.scheduler.config)
    schedule.set_timesteps(STEPS)
    return sum(1 for t in schedule.timesteps if float(t) >= boundary)


@pytest.mark.parametrize(("role", "folder"), [("text", "T2V"), ("first_frame", "I2V")])
def test_both_experts_run_and_switch_at_the_boundary(
    engine: WanA14BEngine, experts: dict[str, ExpertCalls], role: str, folder: str
) -> None:
    extra = {"first_frame": picture(2)} if role == "first_frame" else {}
    frames = run(engine, request(width=200, height=150, num_frames=16, **extra))
    assert len(frames) == 16 and frames[0].shape == (150, 200, 3)
    recipe = RECIPES[role]  # type: ignore[index]
    assert engine.last_run["shift"] == recipe.shift and engine.last_run["guidance"] == recipe.guidance
    high = expected_high_steps(engine, folder)
    assert 0 < high < STEPS, "the published shift and boundary put steps on both sides"
    hook = experts[f"Wan2.2-{folder}-A14B-Diffusers"]
    # Classifier-free guidance: two calls a step (both experts' guidance is above 1).
    assert hook.calls == Counter({"transformer": 2 * high, "transformer_2": 2 * (STEPS - high)})
    assert hook.order == ["transformer"] * (2 * high) + ["transformer_2"] * (2 * (STEPS - high))
    assert engine.last_run["experts"] == "high+low" and engine.last_run["boundary_step"] == high


def test_a_cancel_in_the_second_expert_stops_there_and_skips_the_decode(
    engine: WanA14BEngine, experts: dict[str, ExpertCalls]
) -> None:
    high = expected_high_steps(engine, "T2V")
    steps = Steps(stop_at=high + 1)  # the first low-noise step
    with pytest.raises(GenerationInterrupted):
        run(engine, request(num_frames=16), steps)
    hook = experts["Wan2.2-T2V-A14B-Diffusers"]
    assert hook.calls["transformer_2"] == 2  # one low-noise step ran, then the loop stopped
    assert max(step for step, _ in steps.calls) == high + 1  # no decode step reported


def test_a_budget_for_one_expert_runs_both(models: Path) -> None:
    from cinefuse.generation.neural.pipelines import PipelineCache

    probe = PipelineCache(settings_for(models, data_dir="/tmp/cinefuse-a14b-probe"))
    sizes = probe.component_bytes(models / "Wan2.2-T2V-A14B-Diffusers")
    one_expert = sizes["transformer"] + sizes["vae"]
    budget = (one_expert + sizes["transformer_2"] // 2) / 1024**3  # one expert fits, not both
    engine = WanA14BEngine(
        settings_for(models, data_dir="/tmp/cinefuse-a14b-budget", gpu_memory_budget=budget, steps={"a14b_text": 4})
    )
    assert len(run(engine, request(num_frames=5))) == 5
    on_device = engine.cache.residency.on_device()
    # The low-noise expert ran last: it is on the device, the high-noise one went back.
    assert "Wan2.2-T2V-A14B-Diffusers/transformer_2" in on_device
    assert "Wan2.2-T2V-A14B-Diffusers/transformer" not in on_device


def test_first_and_last_frames_go_to_flf2v_and_references_to_vace(engine: WanA14BEngine) -> None:
    run(engine, request(num_frames=16, first_frame=picture(1), last_frame=picture(2)))
    assert engine.last_run["role"] == "first_last" and engine.last_run["model"] == "Wan 2.1 1.3B"
    assert "experts" not in engine.last_run
    run(engine, request(num_frames=16, reference_images=(picture(3),)))
    assert engine.last_run["role"] == "references"


def test_without_the_i2v_folder_a_first_frame_runs_on_ti2v(
    tiny_models_dir: Path, a14b_folders: dict[str, Path], tmp_path: Path
) -> None:
    models = linked_models(tmp_path / "m", tiny_models_dir, a14b_folders["text"])
    engine = WanA14BEngine(settings_for(models, data_dir="/tmp/cinefuse-a14b-no-i2v"))
    run(engine, request(num_frames=16, first_frame=picture(1)))
    assert engine.last_run["model"] == "Wan 2.2 TI2V-5B"


def test_a_lora_loads_into_both_experts(engine: WanA14BEngine) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    frames = run(engine, request(num_frames=16, effect="balloon belly"))
    assert len(frames) == 16 and engine.last_run["loras"] == ["inflate"]
    (model,) = [m for m in engine.cache.loaded() if m.folder.name == "Wan2.2-T2V-A14B-Diffusers"]
    for expert in (model.pipe.transformer, model.pipe.transformer_2):
        layers = [m for m in expert.modules() if isinstance(m, BaseTunerLayer)]
        assert layers and all(not layer.disable_adapters for layer in layers)
        assert "inflate" in expert.peft_config
    plain = run(engine, request(num_frames=16))
    assert engine.last_run["loras"] == []
    assert not np.array_equal(np.stack(frames), np.stack(plain))


def test_a_missing_expert_file_answers_inference_error_naming_it(
    tiny_models_dir: Path, a14b_folders: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "Wan2.2-T2V-A14B-Diffusers"
    shutil.copytree(a14b_folders["text"], broken)
    for weights in (broken / "transformer_2").glob("*.safetensors"):
        weights.unlink()
    models = linked_models(tmp_path / "m", tiny_models_dir, broken)
    engine = WanA14BEngine(settings_for(models, data_dir="/tmp/cinefuse-a14b-broken"))
    with pytest.raises(InferenceError, match="transformer_2"):
        run(engine, request(num_frames=5))


def test_step_caches_are_off_for_two_experts_with_the_reason(models: Path) -> None:
    engine = WanA14BEngine(settings_for(models, data_dir="/tmp/cinefuse-a14b-cache", cache="taylorseer"))
    assert len(run(engine, request(num_frames=5))) == 5
    assert "two-expert" in str(engine.last_run["cache_off"])
