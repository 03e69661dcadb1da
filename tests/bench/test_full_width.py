"""``bench/full_width.py`` on the CPU: every engine role runs through the production loading code
and engines on the published architectures (full widths, one block), and the folders it builds
carry the publishers' configs where the engines depend on them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
BENCH = BENCH_DIR / "full_width.py"
sys.path.insert(0, str(BENCH_DIR))
import model_configs as mc  # noqa: E402

ROLES = ("text", "first_frame", "first_last", "references", "fast")
#: Keys the harness cuts on purpose (depth and the tokenizer's vocabulary); every other published key must survive.
#: ``tie_word_embeddings``: transformers 5's (U)T5 configs force it to true (configuration_umt5.py: "force it for T5
#: family"), whatever the published file says; the encoder-only models have no head to tie.
CUT_KEYS = frozenset({"num_layers", "num_hidden_layers", "vace_layers", "vocab_size", "tie_word_embeddings"})
CONFIG_FILES = {"scheduler": "scheduler_config.json", "image_processor": "preprocessor_config.json"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default folders, built once for the module."""
    root = tmp_path_factory.mktemp("full-width")
    done = subprocess.run(
        [sys.executable, str(BENCH), "--build-only", str(root)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return root


def _config(root: Path, folder: str, component: str) -> dict[str, Any]:
    name = CONFIG_FILES.get(component, "config.json")
    data: dict[str, Any] = json.loads((root / folder / component / name).read_text())
    return data


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_role_generates_the_exact_clip_on_the_published_architectures(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "full_width.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--models", str(built), "--roles", ",".join(ROLES), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=3300,
        check=False,
    )
    assert out.is_file(), done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(out.read_text())
    geometry = report["geometry"]
    rows = {row["role"]: row for row in report["rows"]}
    assert sorted(rows) == sorted(ROLES)
    for role, row in rows.items():
        assert row["option"] == "baseline"
        assert row["ok"], f"{role}: {row['error']}\n{row['traceback']}"
        assert row["frames"] == row["num_frames"] == geometry["frames"], role
        assert row["frame_shape"] == [geometry["height"], geometry["width"], 3], role
        assert row["frame_dtype"] == "uint8", role
        assert row["pixel_min"] < row["pixel_max"], role  # a NaN clip decodes to one flat value
        assert row["generate_seconds"] > 0 and row["peak_rss_mib"] > 0, role
    assert done.returncode == 0, done.stdout[-4000:]
    assert "total" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_built_folders_carry_the_published_configs(built: Path) -> None:
    # Every published constructor key survives the build, but the cut depth and vocabulary.
    for folder, spec in mc.FOLDERS.items():
        if not (built / folder).is_dir():
            continue  # VACE-1.3B is built on request only
        index = json.loads((built / folder / "model_index.json").read_text())
        assert index["_class_name"] == spec.pipeline_class, folder
        for component, entry in spec.components.items():
            assert index[component] == (list(entry) if entry else [None, None]), (folder, component)
        for key, value in spec.pipeline_config.items():
            assert index[key] == value, (folder, key)
        for component, published in spec.configs.items():
            saved = _config(built, folder, component)
            for key, value in published.items():
                if key not in CUT_KEYS:
                    assert saved[key] == value, (folder, component, key, saved[key], value)

    # Where the engines depend on it, spelled out. Wan 2.2 TI2V-5B: the 48-channel, 16x VAE.
    ti2v = "Wan2.2-TI2V-5B-Diffusers"
    vae = _config(built, ti2v, "vae")
    assert (vae["z_dim"], vae["scale_factor_spatial"], vae["scale_factor_temporal"]) == (48, 16, 4)
    assert (vae["patch_size"], vae["is_residual"], vae["in_channels"]) == (2, True, 12)
    transformer = _config(built, ti2v, "transformer")
    assert (transformer["in_channels"], transformer["out_channels"], transformer["patch_size"]) == (48, 48, [1, 2, 2])
    assert transformer["num_attention_heads"] * transformer["attention_head_dim"] == 3072
    assert transformer["image_dim"] is None and transformer["text_dim"] == 4096
    assert 1 <= transformer["num_layers"] <= 2
    umt5 = _config(built, ti2v, "text_encoder")
    assert (umt5["d_model"], umt5["d_ff"], umt5["num_heads"], umt5["d_kv"]) == (4096, 10240, 64, 64)
    assert umt5["model_type"] == "umt5" and 1 <= umt5["num_layers"] <= 2

    # Wan 2.1 FLF2V-14B: 36 input channels, CLIP ViT-H/14 image tokens of both frames, the 16-channel 8x VAE.
    flf2v = "Wan2.1-FLF2V-14B-720P-diffusers"
    transformer = _config(built, flf2v, "transformer")
    assert (transformer["in_channels"], transformer["out_channels"]) == (36, 16)
    assert (transformer["image_dim"], transformer["added_kv_proj_dim"], transformer["pos_embed_seq_len"]) == (
        1280,
        5120,
        2 * 257,
    )
    assert transformer["num_attention_heads"] * transformer["attention_head_dim"] == 5120
    clip = _config(built, flf2v, "image_encoder")
    assert (clip["hidden_size"], clip["num_attention_heads"], clip["intermediate_size"]) == (1280, 16, 5120)
    assert (clip["patch_size"], clip["image_size"]) == (14, 224)
    processor = _config(built, flf2v, "image_processor")
    assert processor["crop_size"] == {"height": 224, "width": 224}
    assert processor["image_processor_type"] == "CLIPImageProcessor"
    vae = _config(built, flf2v, "vae")
    assert (vae["z_dim"], vae["scale_factor_spatial"], vae["scale_factor_temporal"], vae["base_dim"]) == (16, 8, 4, 96)
    assert _config(built, flf2v, "scheduler")["flow_shift"] == 16.0

    # Wan 2.1 VACE-14B: vace_in_channels 96, VACE layers within the (cut) blocks.
    vace = "Wan2.1-VACE-14B-diffusers"
    transformer = _config(built, vace, "transformer")
    assert transformer["_class_name"] == "WanVACETransformer3DModel"
    assert (transformer["vace_in_channels"], transformer["in_channels"], transformer["ffn_dim"]) == (96, 16, 13824)
    assert transformer["vace_layers"] and max(transformer["vace_layers"]) < transformer["num_layers"]
    assert _config(built, vace, "vae")["z_dim"] == 16

    # LTX-Video 0.9.8 13B distilled: the 128-channel, 32x spatial / 8x temporal VAE with the timestep-conditioned
    # decoder, the 13B transformer's widths, T5-XXL.
    ltx = "LTX-Video-0.9.8-13B-distilled"
    vae = _config(built, ltx, "vae")
    assert (vae["latent_channels"], vae["spatial_compression_ratio"], vae["temporal_compression_ratio"]) == (128, 32, 8)
    assert (vae["patch_size"], vae["timestep_conditioning"]) == (4, True)
    transformer = _config(built, ltx, "transformer")
    assert (transformer["num_attention_heads"], transformer["attention_head_dim"]) == (32, 128)
    assert (transformer["cross_attention_dim"], transformer["caption_channels"], transformer["in_channels"]) == (
        4096,
        4096,
        128,
    )
    t5 = _config(built, ltx, "text_encoder")
    assert (t5["model_type"], t5["d_model"], t5["d_ff"], t5["num_heads"]) == ("t5", 4096, 10240, 64)
    index = json.loads((built / ltx / "model_index.json").read_text())
    assert index["tokenizer"] == ["transformers", "T5Tokenizer"]

    # The latent upsampler: 128 latent channels in, 2x spatial, and the LTX folder's VAE.
    upscaler = built / "ltxv-spatial-upscaler-0.9.8"
    upsampler = _config(built, upscaler.name, "latent_upsampler")
    assert upsampler["in_channels"] == 128
    assert (upsampler["spatial_upsample"], upsampler["temporal_upsample"]) == (True, False)
    assert (upscaler / "vae").resolve() == (built / ltx / "vae").resolve()
