"""LoRAs matched to the models they were trained on (``loras.py``, ``adapters.py``): the base
read from the weights' keys, only fitting LoRAs offered to a role, a LoRA that still fails to
load skipped for its prompt template, and the distill LoRA only where it fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from tests.generation.neural.test_engines import request, run, settings_for

from cinefuse.generation.neural.loras import LoraBase, pick_lora, read_base, read_lora, transformer_base
from cinefuse.generation.neural.wan import WanEngine


def write_lora(folder: Path, keys: dict[str, tuple[int, ...]], meta: dict[str, object] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({key: torch.zeros(shape) for key, shape in keys.items()}, str(folder / "lora.safetensors"))
    if meta is not None:
        (folder / "lora.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize(
    ("key", "shape", "base"),
    [
        ("transformer.blocks.0.attn1.to_q.lora_A.weight", (16, 5120), LoraBase("wan", 5120)),  # diffusers
        ("diffusion_model.blocks.0.self_attn.q.lora_down.weight", (32, 3072), LoraBase("wan", 3072)),  # Wan code
        ("lora_unet_blocks_0_self_attn_q.lora_down.weight", (8, 1536), LoraBase("wan", 1536)),  # kohya
        ("transformer.transformer_blocks.0.attn1.to_q.lora_A.weight", (64, 4096), LoraBase("ltx", 4096)),  # LTX
        ("something.else.weight", (4, 4), None),
    ],
)
def test_the_base_model_is_read_from_the_keys(
    tmp_path: Path, key: str, shape: tuple[int, ...], base: LoraBase | None
) -> None:
    folder = write_lora(tmp_path / "l", {key: shape})
    assert read_base(folder / "lora.safetensors") == base


def test_a_lora_is_offered_only_to_roles_whose_model_it_fits(tmp_path: Path) -> None:
    """The review's finding 6: the Apache-2.0 Wan effect LoRAs are Wan 2.1 I2V-14B LoRAs
    (hidden size 5120); offered to the 5B (3072) roles they failed the job."""
    key = "diffusion_model.blocks.0.self_attn.q.lora_down.weight"
    info = read_lora(write_lora(tmp_path / "inflate", {key: (16, 5120)}))
    assert info is not None and info.base == LoraBase("wan", 5120)
    library = {"inflate": info}
    assert pick_lora(library, ("inflate",), "first_last", LoraBase("wan", 5120)) is info
    assert pick_lora(library, ("inflate",), "text", LoraBase("wan", 3072)) is None
    assert pick_lora(library, ("inflate",), "fast", LoraBase("ltx", 4096)) is None


def test_the_transformer_base_comes_from_the_folder_s_config(tiny_models_dir: Path) -> None:
    assert transformer_base(tiny_models_dir / "Wan2.2-TI2V-5B-Diffusers") == LoraBase("wan", 24)
    assert transformer_base(tiny_models_dir / "LTX-Video-0.9.7-distilled") == LoraBase("ltx", 16)


def test_a_lora_of_another_model_falls_back_to_the_effect_s_template(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    for entry in tiny_models_dir.iterdir():
        if entry.name != "loras":
            (models / entry.name).symlink_to(entry)
    key = "transformer.blocks.0.attn1.to_q.lora_A.weight"
    write_lora(models / "loras" / "inflate", {key: (4, 5120), key.replace("lora_A", "lora_B"): (5120, 4)},
               {"trigger_words": ["inflate it"]})  # fmt: skip
    engine = WanEngine(settings_for(models))
    frames = run(engine, request(effect="balloon belly"))
    assert len(frames) == 16
    assert engine.last_run["loras"] == [] and "belly inflates" in engine.last_run["prompt"]
    assert "inflate it" not in engine.last_run["prompt"]


def test_a_lora_that_fails_to_load_is_skipped_and_leaves_nothing_behind(tiny_models_dir: Path, tmp_path: Path) -> None:
    """A LoRA whose base cannot be read is tried; when it does not load, the run goes on with
    the template (it failed the job before) and no half-loaded adapter stays."""
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    for entry in tiny_models_dir.iterdir():
        if entry.name != "loras":
            (models / entry.name).symlink_to(entry)
    write_lora(models / "loras" / "inflate", {"transformer.blocks.0.attn1.to_q.lora_A.weight.bogus": (4, 24)},
               {"trigger_words": ["inflate it"]})  # fmt: skip
    engine = WanEngine(settings_for(models))
    assert len(run(engine, request(effect="balloon belly"))) == 16
    assert engine.last_run["loras"] == []
    model = engine.cache.loaded()[0]
    assert model.loras == set() and not model.pipe.get_list_adapters().get("transformer")
    assert len(run(engine, request())) == 16  # and the next job runs as if it had never been


def test_a_distill_lora_for_another_model_leaves_that_model_on_its_full_recipe(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    """The review's finding 6 (distill): one distillation LoRA went into every Wan pipeline;
    the ones it was not trained for failed every job, re-reading the weights each time."""
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    for entry in tiny_models_dir.iterdir():
        if entry.name != "loras":
            (models / entry.name).symlink_to(entry)
    key = "transformer.blocks.0.attn1.to_q.lora_A.weight"
    write_lora(models / "loras" / "lightx2v", {key: (4, 5120), key.replace("lora_A", "lora_B"): (5120, 4)},
               {"steps": 4, "guidance": 1.0})  # fmt: skip
    engine = WanEngine(settings_for(models, distill_lora="lightx2v"))
    assert len(run(engine, request())) == 16
    assert (engine.last_run["steps"], engine.last_run["guidance"]) == (2, 5.0)  # the full recipe
    assert engine.cache.loaded()[0].distill is None
