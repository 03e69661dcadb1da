"""The streaming decode (``decode.py``) against the VAEs' own decode: bit-identical, tiled
when tiling is on, and LTX's decode noise drawn where its generator lives."""

from __future__ import annotations

import pytest
import torch
from tests.generation.neural.tiny_weights import tiny_ltx_vae, tiny_wan21_vae, tiny_wan22_vae

from cinefuse.generation.neural.decode import iter_decode_ltx, iter_decode_wan, ltx_prepare_decode


def streamed(vae: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    return torch.cat(list(iter_decode_wan(vae, z)), dim=2)


@pytest.mark.parametrize("make_vae", [tiny_wan21_vae, tiny_wan22_vae], ids=["wan2.1", "wan2.2"])
def test_the_streaming_decode_is_the_vae_s_own_decode(make_vae) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    vae = make_vae()
    z = torch.randn(1, vae.config.z_dim, 3, 6, 8)
    with torch.inference_mode():
        expected = vae.decode(z).sample
    assert torch.equal(streamed(vae, z), expected)


@pytest.mark.parametrize("make_vae", [tiny_wan21_vae, tiny_wan22_vae], ids=["wan2.1", "wan2.2"])
def test_with_tiling_on_the_streaming_decode_tiles_as_the_vae_does(make_vae) -> None:  # type: ignore[no-untyped-def]
    """The review's finding 9: the stream ignored ``CINEFUSE_VAE_TILING`` (it decoded whole
    frames, the only memory lever at 720p and above doing nothing). Tiles of 64 px with a
    stride of 48 make a tiny latent span several tiles."""
    torch.manual_seed(0)
    vae = make_vae()
    ratio = vae.spatial_compression_ratio
    z = torch.randn(1, vae.config.z_dim, 2, 112 // ratio, 144 // ratio)  # 2 x 3 tiles of 64 at a stride of 48
    with torch.inference_mode():
        whole = vae.decode(z).sample
    vae.enable_tiling(
        tile_sample_min_height=64, tile_sample_min_width=64, tile_sample_stride_height=48, tile_sample_stride_width=48
    )
    with torch.inference_mode():
        tiled = vae.decode(z).sample  # diffusers' tiled_decode
    assert not torch.equal(tiled, whole)  # the tiles show: tiling is in effect
    assert torch.equal(streamed(vae, z), tiled)


def test_ltx_decode_noise_is_drawn_on_the_generator_s_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's finding 1 (LTX): under model offload the latents reached the decode on
    the host while the generator was the GPU's, and ``randn_tensor`` refused (``Cannot
    generate a cpu tensor from a generator of type cuda``). The noise is drawn on the
    generator's device, then moved to the latents' (here: a CPU generator, latents on meta)."""
    import diffusers.utils.torch_utils as torch_utils

    asked: list[torch.device] = []
    original = torch_utils.randn_tensor

    def recording(shape: tuple[int, ...], **kwargs: object) -> torch.Tensor:
        asked.append(torch.device(kwargs["device"]))  # type: ignore[arg-type]
        return original(shape, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch_utils, "randn_tensor", recording)
    torch.manual_seed(0)
    vae = tiny_ltx_vae()
    z, _ = ltx_prepare_decode(vae, torch.randn(1, 16, 2, 2, 3).to("meta"), 0.05, 0.025, torch.Generator())
    assert asked == [torch.device("cpu")] and z.device.type == "meta"


def test_ltx_streaming_decode_is_the_vae_s_framewise_decode() -> None:
    torch.manual_seed(0)
    vae = tiny_ltx_vae()
    vae.use_framewise_decoding = True
    vae.tile_sample_min_num_frames, vae.tile_sample_stride_num_frames = 16, 8
    z, temb = ltx_prepare_decode(vae, torch.randn(1, 16, 5, 2, 3), 0.05, 0.025, torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = vae.decode(z, temb).sample
        got = torch.cat(list(iter_decode_ltx(vae, z, temb)), dim=2)
    assert torch.equal(got, expected.clamp(-1, 1))


def test_ltx_decodes_in_tiles_that_overlap_less_than_diffusers_defaults() -> None:
    """The review's finding 13: 16-frame tiles with a stride of 8 decoded each latent frame
    about three times; 32 with a stride of 24 keep the 8-frame blend and decode 1.7 times."""
    from cinefuse.generation.neural.decode import ltx_tiles, prepare_ltx_decode

    vae = tiny_ltx_vae()
    assert ltx_tiles(vae, 16) == 15  # diffusers' defaults: 121 frames, a stride of 8
    prepare_ltx_decode(vae)
    assert vae.use_framewise_decoding and ltx_tiles(vae, 16) == 5
    assert vae.tile_sample_min_num_frames - vae.tile_sample_stride_num_frames == 8
    z, temb = ltx_prepare_decode(vae, torch.randn(1, 16, 9, 2, 3), 0.05, 0.025, torch.Generator().manual_seed(1))
    with torch.inference_mode():
        chunks = list(iter_decode_ltx(vae, z, temb))
        expected = vae.decode(z, temb).sample.clamp(-1, 1)
    # Every chunk that holds frames is counted (a tile past the clip's end yields an empty one).
    assert len([c for c in chunks if c.shape[2]]) == ltx_tiles(vae, 9)
    assert torch.equal(torch.cat(chunks, dim=2), expected)
