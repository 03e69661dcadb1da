"""The catalogue of weights folders (hub/catalogue.py, catalogue.json)."""

from __future__ import annotations

from cinefuse.generation.neural.weights import ROLE_FOLDERS
from cinefuse.generation.registry import engine_specs
from cinefuse.hub.catalogue import GPU_SIZES, catalogue, find, for_gpu, smallest_gpu
from cinefuse.settings import DEFAULT_GGUF_FOLDERS


def test_every_entry_is_a_folder_the_engines_look_for() -> None:
    import fnmatch

    for entry in catalogue():
        if entry.gguf_for:  # a GGUF transformer: where quantization=gguf looks for it
            assert DEFAULT_GGUF_FOLDERS[entry.gguf_for] == entry.name and entry.allow_patterns == ("*Q8_0.gguf",)
            assert find(entry.gguf_for) is not None and not entry.roles
            continue
        for role in entry.roles:
            names = ROLE_FOLDERS[role]  # type: ignore[index]
            assert any(fnmatch.fnmatchcase(entry.name, name) for name in names), (entry.name, role, names)
        assert "model_index.json" in entry.allow_patterns and entry.engine in engine_specs()
        assert entry.repo.count("/") == 1 and entry.revision


def test_find_by_folder_or_repo_any_case() -> None:
    ti2v = find("wan2.2-ti2v-5b-diffusers")
    assert ti2v is not None and find("Wan-AI/Wan2.2-TI2V-5B-Diffusers") == ti2v
    assert find("nothing") is None


def test_allow_patterns_take_the_diffusers_folders_only() -> None:
    flf2v = find("Wan2.1-FLF2V-14B-720P-diffusers")
    assert flf2v is not None
    assert flf2v.wants("transformer/diffusion_pytorch_model-00001-of-00012.safetensors")
    assert flf2v.wants("image_encoder/model.safetensors") and flf2v.wants("model_index.json")
    assert not flf2v.wants("README.md") and not flf2v.wants("Wan2.1_VAE.pth") and not flf2v.wants("assets/a.png")


def test_each_gpu_size_gets_its_profile_rows_folders() -> None:
    names = {gib: [e.name for e in for_gpu(gib)] for gib in GPU_SIZES}
    assert names[12] == ["Wan2.2-TI2V-5B-Diffusers", "Wan2.1-VACE-1.3B-diffusers"]
    assert names[16] == ["Wan2.2-TI2V-5B-Diffusers", "Wan2.1-FLF2V-14B-720P-diffusers", "Wan2.1-VACE-1.3B-diffusers"]
    assert names[24] == [
        "Wan2.2-TI2V-5B-Diffusers",
        "Wan2.1-FLF2V-14B-720P-diffusers",
        "Wan2.1-VACE-14B-diffusers",
        "LTX-Video-0.9.8-13B-distilled",
        "ltxv-spatial-upscaler-0.9.7",
    ]
    a14b = ["Wan2.2-T2V-A14B-Diffusers", "Wan2.2-I2V-A14B-Diffusers"]
    hunyuan = ["HunyuanVideo-1.5-Diffusers-720p_t2v", "HunyuanVideo-1.5-Diffusers-720p_i2v"]
    assert names[48] == names[80] == [*names[24], *a14b, *hunyuan]
    assert for_gpu(8) == []
    assert [e.name for e in for_gpu(22.5)] == names[24]  # a "24 GB" card that shows 22.5 GiB


def test_licences_other_than_apache_are_flagged() -> None:
    others = {e.name for e in catalogue() if not e.apache}
    assert {"LTX-Video-0.9.8-13B-distilled", "ltxv-spatial-upscaler-0.9.7", "LTX-2", "LTX-2-19b-distilled"} <= others
    assert all(e.licence.startswith(("LTX", "Tencent", "tencent")) for e in catalogue() if e.name in others)
    assert all(e.licence_url for e in catalogue() if not e.apache)


def test_the_hunyuanvideo_folders_carry_tencent_s_licence_and_the_720p_ones_a_row() -> None:
    folders = [e for e in catalogue() if e.engine == "hunyuan"]
    assert sorted(e.name.rsplit("-", 1)[1] for e in folders) == ["480p_i2v", "480p_t2v", "720p_i2v", "720p_t2v"]
    for entry in folders:
        assert not entry.apache and entry.licence == "Tencent Hunyuan Community License" and entry.licence_url
        assert entry.repo == f"hunyuanvideo-community/{entry.name}" and "guider/*" in entry.allow_patterns
        assert entry.wants("tokenizer_2/tokenizer_config.json") and entry.wants("text_encoder_2/model.safetensors")
        assert entry.wants("image_encoder/model.safetensors") == entry.name.endswith("i2v")
        assert smallest_gpu(entry) == (48 if "720p" in entry.name else None)  # 480p: pulled by name


def test_the_docs_table_lists_every_folder_with_its_repo() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text()
    for entry in catalogue():
        row = next((line for line in page.splitlines() if line.startswith(f"| `{entry.name}` |")), None)
        assert row is not None and f"`{entry.repo}`" in row, entry.name
        smallest = smallest_gpu(entry)
        where = f"| {smallest} GiB |" if smallest else "| quantization=gguf |" if entry.gguf_for else "| by name |"
        assert entry.licence in row and where in row, row
