"""Decoding latents into frames a few at a time, so a clip streams to the encoder.

The whole clip never exists as float tensors: frames leave as ``uint8`` as soon as their
chunk is decoded, and a cancelled job never starts decoding (engines decode themselves,
after asking the pipelines for latents).

* Wan's VAE is causal: ``AutoencoderKLWan._decode`` already decodes one latent frame per
  decoder call, carrying a feature cache. ``iter_decode_wan`` runs the same loop and yields
  after each latent frame (1 frame, then 4): bit-identical to ``vae.decode`` (verified on
  diffusers 0.42.1; it uses the VAE's cache internals, hence the pinned version). With
  tiling on (``CINEFUSE_VAE_TILING``), each latent frame is decoded tile by tile, every
  tile with its own feature cache, and the tiles blended as ``AutoencoderKLWan.tiled_decode``
  blends them: bit-identical to it, and the decoder's activations are a tile's, not a
  frame's.
* LTX-Video's VAE is not causal: ``iter_decode_ltx`` runs diffusers' own temporal tiling
  (``use_framewise_decoding``) and yields each blended chunk as soon as the next tile is
  decoded: bit-identical to ``vae.decode`` with framewise decoding.
* HunyuanVideo 1.5's VAE is causal too (causal convolutions, replicate-padded in front; the
  mid-block's attention masked to earlier frames; the first frame upsampled alone), but its
  decoder keeps no cache. ``iter_decode_hunyuan`` walks the same decoder one latent frame at
  a time with one: each causal convolution keeps the last frames of its input, each
  attention the keys and values of the frames before (a frame then attends to all of them,
  which is the causal mask). Equal to ``vae.decode`` up to float rounding (a convolution
  over a few frames may sum in another order than over the whole clip; in float64 the two
  agree to 1e-13, verified on diffusers 0.42.1), tiled (``CINEFUSE_VAE_TILING``:
  diffusers' spatial tiles, each with its own cache, blended as ``tiled_decode`` blends
  them) or not. It reads the decoder's modules, not a cache API, hence the pinned version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cinefuse.media.frames import Frame

Tensor = torch.Tensor


def wan_denormalize(vae: Any, latents: Tensor) -> Tensor:
    """What the Wan pipelines do to latents before ``vae.decode``."""
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape).to(latents.device, vae.dtype)
    std = torch.tensor(vae.config.latents_std).view(shape).to(latents.device, vae.dtype)
    return latents.to(vae.dtype) * std + mean


@torch.inference_mode()
def iter_decode_wan(vae: Any, z: Tensor) -> Iterator[Tensor]:
    """Pixel chunks ``[B, 3, t, H, W]`` in [-1, 1] of denormalized latents ``[B, C, T, h, w]``,
    on ``z``'s device (the VAE must be there). Tiled when the VAE's tiling is on and the
    latents are larger than a tile, as ``vae.decode`` would."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    tile_h = vae.tile_sample_min_height // vae.spatial_compression_ratio
    tile_w = vae.tile_sample_min_width // vae.spatial_compression_ratio
    if vae.use_tiling and (z.shape[-1] > tile_w or z.shape[-2] > tile_h):
        yield from _iter_decode_wan_tiled(vae, z)
        return
    cache: list[Any] = [None] * vae._cached_conv_counts["decoder"]
    for i in range(z.shape[2]):
        x = vae.post_quant_conv(z[:, :, i : i + 1])
        out = vae.decoder(x, feat_cache=cache, feat_idx=[0], first_chunk=(i == 0))
        if vae.config.patch_size is not None:
            out = unpatchify(out, patch_size=vae.config.patch_size)
        yield out.clamp_(-1.0, 1.0)


def blend_tiles(vae: Any, rows: list[list[Tensor]], blend: tuple[int, int], keep: tuple[int, int]) -> Tensor:
    """One decoded frame chunk from its grid of pixel tiles, as the diffusers VAEs'
    ``tiled_decode`` joins them: each tile blended into the one above (``blend[0]`` rows) and
    the one to its left (``blend[1]`` columns) with the VAE's ``blend_v`` / ``blend_h``, in
    that order (the blends write into the tiles), then cut to ``keep`` and concatenated."""
    result_rows = []
    for i, row in enumerate(rows):
        result_row = []
        for j, tile in enumerate(row):
            if i > 0:
                tile = vae.blend_v(rows[i - 1][j], tile, blend[0])
            if j > 0:
                tile = vae.blend_h(row[j - 1], tile, blend[1])
            result_row.append(tile[:, :, :, : keep[0], : keep[1]])
        result_rows.append(torch.cat(result_row, dim=-1))
    return torch.cat(result_rows, dim=-2)


def _iter_decode_wan_tiled(vae: Any, z: Tensor) -> Iterator[Tensor]:
    """``AutoencoderKLWan.tiled_decode`` one latent frame at a time (its loops, in its order:
    the blends write into the tiles in place, so the order is part of the result)."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    _, _, num_frames, height, width = z.shape
    ratio, patch = vae.spatial_compression_ratio, vae.config.patch_size
    sample_h, sample_w = height * ratio, width * ratio
    tile_h, tile_w = vae.tile_sample_min_height // ratio, vae.tile_sample_min_width // ratio
    stride_h, stride_w = vae.tile_sample_stride_height // ratio, vae.tile_sample_stride_width // ratio
    out_stride_h, out_stride_w = vae.tile_sample_stride_height, vae.tile_sample_stride_width
    if patch is not None:
        sample_h, sample_w = sample_h // patch, sample_w // patch
        out_stride_h, out_stride_w = out_stride_h // patch, out_stride_w // patch
        blend_h = vae.tile_sample_min_height // patch - out_stride_h
        blend_w = vae.tile_sample_min_width // patch - out_stride_w
    else:
        blend_h = vae.tile_sample_min_height - out_stride_h
        blend_w = vae.tile_sample_min_width - out_stride_w
    origins_h, origins_w = range(0, height, stride_h), range(0, width, stride_w)
    count = vae._cached_conv_counts["decoder"]
    caches: dict[tuple[int, int], list[Any]] = {(i, j): [None] * count for i in origins_h for j in origins_w}
    for k in range(num_frames):
        rows: list[list[Tensor]] = []
        for i in origins_h:
            row = []
            for j in origins_w:
                tile = vae.post_quant_conv(z[:, :, k : k + 1, i : i + tile_h, j : j + tile_w])
                row.append(vae.decoder(tile, feat_cache=caches[(i, j)], feat_idx=[0], first_chunk=(k == 0)))
            rows.append(row)
        out = blend_tiles(vae, rows, (blend_h, blend_w), (out_stride_h, out_stride_w))[:, :, :, :sample_h, :sample_w]
        if patch is not None:
            out = unpatchify(out, patch_size=patch)
        yield out.clamp_(-1.0, 1.0)


def ltx_prepare_decode(
    vae: Any, latents: Tensor, decode_timestep: float, decode_noise_scale: float, generator: torch.Generator
) -> tuple[Tensor, Tensor | None]:
    """The tail of ``LTXConditionPipeline.__call__``: denormalize, and for the timestep-
    conditioned VAE mix in ``decode_noise_scale`` of noise; returns ``(z, temb)``. The noise
    is drawn on ``generator``'s device (where the pipeline drew its own) and moved to the
    latents', so a GPU generator serves latents on any device."""
    from diffusers.utils.torch_utils import randn_tensor

    mean = vae.latents_mean.view(1, -1, 1, 1, 1).to(latents.device, latents.dtype)
    std = vae.latents_std.view(1, -1, 1, 1, 1).to(latents.device, latents.dtype)
    z = latents * std / vae.config.scaling_factor + mean
    if not vae.config.timestep_conditioning:
        return z.to(vae.dtype), None
    noise = randn_tensor(z.shape, generator=generator, device=generator.device, dtype=z.dtype).to(z.device)
    z = (1 - decode_noise_scale) * z + decode_noise_scale * noise
    temb = torch.full((z.shape[0],), decode_timestep, device=z.device, dtype=z.dtype)
    return z.to(vae.dtype), temb.to(vae.dtype)


#: LTX-Video's temporal decode tiles, in frames: diffusers' 16 with a stride of 8 (2 and 1
#: latent frames) decode each latent frame about three times; 32 with a stride of 24 (4 and
#: 3) about 1.7 times, with the same 8-frame blend. A 33-frame chunk's widest activations
#: (256 channels at a quarter of 720p) are about 1 GB in bfloat16.
LTX_TILE_FRAMES, LTX_TILE_STRIDE = 32, 24


def prepare_ltx_decode(vae: Any) -> None:
    """Decode LTX-Video in temporal tiles of ``LTX_TILE_FRAMES`` (frames leave a tile at a
    time); ``vae.decode`` would tile the same way."""
    vae.use_framewise_decoding = True
    vae.tile_sample_min_num_frames = LTX_TILE_FRAMES
    vae.tile_sample_stride_num_frames = LTX_TILE_STRIDE


def ltx_tiles(vae: Any, latent_frames: int) -> int:
    """How many chunks of ``iter_decode_ltx`` hold frames, for ``latent_frames`` latent
    frames: the first brings a stride and one frame, each later one a stride, until the
    clip's frames are out (the tiles after that yield empty chunks, which nobody reads)."""
    frames = (latent_frames - 1) * int(vae.temporal_compression_ratio) + 1
    stride = int(vae.tile_sample_stride_num_frames)
    return 1 + max(0, -(-(frames - stride - 1) // stride))


@torch.inference_mode()
def iter_decode_ltx(vae: Any, z: Tensor, temb: Tensor | None) -> Iterator[Tensor]:
    """Pixel chunks of denormalized LTX latents, diffusers' temporal tiles blended in order:
    one chunk per tile (``ltx_tiles``), the last ones possibly empty."""
    num_frames = z.shape[2]
    tcr = vae.temporal_compression_ratio
    total = (num_frames - 1) * tcr + 1
    tile = vae.tile_sample_min_num_frames // tcr
    stride = vae.tile_sample_stride_num_frames // tcr
    blend = vae.tile_sample_min_num_frames - vae.tile_sample_stride_num_frames
    min_h = vae.tile_sample_min_height // vae.spatial_compression_ratio
    min_w = vae.tile_sample_min_width // vae.spatial_compression_ratio
    emitted = 0
    previous: Tensor | None = None
    for start in range(0, num_frames, stride):
        part = z[:, :, start : start + tile + 1]
        if vae.use_tiling and (part.shape[-1] > min_w or part.shape[-2] > min_h):
            decoded = vae.tiled_decode(part, temb, return_dict=True).sample
        else:
            decoded = vae.decoder(part, temb)
        if start > 0:
            decoded = decoded[:, :, :-1]
        if previous is None:
            out = decoded[:, :, : vae.tile_sample_stride_num_frames + 1]
        else:
            decoded = vae.blend_t(previous, decoded, blend)
            out = decoded[:, :, : vae.tile_sample_stride_num_frames]
        previous = decoded
        out = out[:, :, : max(0, total - emitted)]
        emitted += out.shape[2]
        yield out.clamp(-1.0, 1.0)


def _hunyuan_conv(conv: Any, x: Tensor, state: dict[int, Any]) -> Tensor:
    """``HunyuanVideo15CausalConv3d`` on the next frames ``x``: its input's last frames from
    ``state`` (the replicated first frame before the first chunk), then the convolution."""
    pad = conv.time_causal_padding
    keep = pad[4]
    previous = state.get(id(conv))
    if previous is None:
        frames = F.pad(x, (0, 0, 0, 0, keep, 0), mode=conv.pad_mode) if keep else x
    else:
        frames = torch.cat([previous, x], dim=2)
    if keep:
        state[id(conv)] = frames[:, :, -keep:]
    out: Tensor = conv.conv(F.pad(frames, (*pad[:4], 0, 0), mode=conv.pad_mode))
    return out


def _hunyuan_resnet(block: Any, x: Tensor, state: dict[int, Any]) -> Tensor:
    h = _hunyuan_conv(block.conv1, block.nonlinearity(block.norm1(x)), state)
    h = _hunyuan_conv(block.conv2, block.nonlinearity(block.norm2(h)), state)
    shortcut: Tensor = x if block.conv_shortcut is None else block.conv_shortcut(x)
    return h + shortcut


def _hunyuan_attention(block: Any, x: Tensor, state: dict[int, Any]) -> Tensor:
    """The mid-block's attention for one latent frame: its queries against the keys and
    values of every frame so far (the causal mask's rows for that frame)."""
    normed = block.norm(x)
    batch, channels, frames, height, width = normed.shape

    def tokens(t: Tensor) -> Tensor:
        return t.reshape(batch, channels, frames * height * width).permute(0, 2, 1).unsqueeze(1)

    query, key, value = tokens(block.to_q(normed)), tokens(block.to_k(normed)), tokens(block.to_v(normed))
    previous = state.get(id(block))
    if previous is not None:
        key, value = torch.cat([previous[0], key], dim=2), torch.cat([previous[1], value], dim=2)
    state[id(block)] = (key, value)
    out = F.scaled_dot_product_attention(query, key, value)
    out = out.squeeze(1).reshape(batch, frames, height, width, channels).permute(0, 4, 1, 2, 3)
    result: Tensor = block.proj_out(out) + x
    return result


def _hunyuan_upsample(up: Any, x: Tensor, state: dict[int, Any]) -> Tensor:
    """``HunyuanVideo15Upsample``: the clip's first frame is upsampled alone in space (as the
    module does for frame 0), every later one in space and time."""
    first = id(up) not in state
    state[id(up)] = True
    h = _hunyuan_conv(up.conv, x, state)
    rearrange = up._dcae_upsample_rearrange
    if up.add_temporal_upsample and first:
        h_first = rearrange(h[:, :, :1], r1=1, r2=2, r3=2)
        h = torch.cat([h_first[:, : h_first.shape[1] // 2], rearrange(h[:, :, 1:], r1=2, r2=2, r3=2)], dim=2)
        x_first = rearrange(x[:, :, :1], r1=1, r2=2, r3=2).repeat_interleave(repeats=up.repeats // 2, dim=1)
        x_next = rearrange(x[:, :, 1:], r1=2, r2=2, r3=2).repeat_interleave(repeats=up.repeats, dim=1)
        return h + torch.cat([x_first, x_next], dim=2)
    r1 = 2 if up.add_temporal_upsample else 1
    shortcut = rearrange(x.repeat_interleave(repeats=up.repeats, dim=1), r1=r1, r2=2, r3=2)
    result: Tensor = rearrange(h, r1=r1, r2=2, r3=2) + shortcut
    return result


def _hunyuan_decoder(decoder: Any, z: Tensor, state: dict[int, Any]) -> Tensor:
    """``HunyuanVideo15Decoder3D.forward`` on the next latent frame, carrying ``state``."""
    h = _hunyuan_conv(decoder.conv_in, z, state) + z.repeat_interleave(repeats=decoder.repeat, dim=1)
    mid = decoder.mid_block
    h = _hunyuan_resnet(mid.resnets[0], h, state)
    for attention, resnet in zip(mid.attentions, mid.resnets[1:], strict=True):
        if attention is not None:
            h = _hunyuan_attention(attention, h, state)
        h = _hunyuan_resnet(resnet, h, state)
    for block in decoder.up_blocks:
        for resnet in block.resnets:
            h = _hunyuan_resnet(resnet, h, state)
        for upsampler in block.upsamplers or ():
            h = _hunyuan_upsample(upsampler, h, state)
    return _hunyuan_conv(decoder.conv_out, decoder.conv_act(decoder.norm_out(h)), state)


@torch.inference_mode()
def iter_decode_hunyuan(vae: Any, z: Tensor) -> Iterator[Tensor]:
    """Pixel chunks ``[B, 3, t, H, W]`` of HunyuanVideo 1.5 latents ``[B, C, T, h, w]``
    (already divided by the scaling factor), one per latent frame (1 frame, then 4), on
    ``z``'s device (the VAE must be there). Tiled when the VAE's tiling is on and the latents
    are larger than a tile, as ``vae.decode`` would."""
    height, width = z.shape[-2:]
    if vae.use_tiling and (width > vae.tile_latent_min_width or height > vae.tile_latent_min_height):
        yield from _iter_decode_hunyuan_tiled(vae, z)
        return
    state: dict[int, Any] = {}
    for index in range(z.shape[2]):
        yield _hunyuan_decoder(vae.decoder, z[:, :, index : index + 1], state)


def _iter_decode_hunyuan_tiled(vae: Any, z: Tensor) -> Iterator[Tensor]:
    """``AutoencoderKLHunyuanVideo15.tiled_decode`` one latent frame at a time: its tiles,
    each with its own state, blended in its order (the blends write into the tiles)."""
    _, _, frames, height, width = z.shape
    tile_h, tile_w = vae.tile_latent_min_height, vae.tile_latent_min_width
    stride_h = int(tile_h * (1 - vae.tile_overlap_factor))
    stride_w = int(tile_w * (1 - vae.tile_overlap_factor))
    blend_h = int(vae.tile_sample_min_height * vae.tile_overlap_factor)
    blend_w = int(vae.tile_sample_min_width * vae.tile_overlap_factor)
    limit_h, limit_w = vae.tile_sample_min_height - blend_h, vae.tile_sample_min_width - blend_w
    origins_h, origins_w = range(0, height, stride_h), range(0, width, stride_w)
    states: dict[tuple[int, int], dict[int, Any]] = {(i, j): {} for i in origins_h for j in origins_w}
    for k in range(frames):
        rows = [
            [
                _hunyuan_decoder(vae.decoder, z[:, :, k : k + 1, i : i + tile_h, j : j + tile_w], states[(i, j)])
                for j in origins_w
            ]
            for i in origins_h
        ]
        yield blend_tiles(vae, rows, (blend_h, blend_w), (limit_h, limit_w))


def to_frames(chunk: Tensor) -> Iterator[Frame]:
    """``[1, 3, t, H, W]`` in [-1, 1] -> ``t`` RGB ``uint8`` frames (``VideoProcessor``'s math)."""
    pixels = ((chunk[0].float() / 2 + 0.5).clamp_(0, 1) * 255).round_().to(torch.uint8)
    array = pixels.permute(1, 2, 3, 0).cpu().numpy()
    for frame in array:
        yield np.ascontiguousarray(frame)
