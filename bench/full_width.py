"""Full-width CPU harness: every engine role on its published architecture, through the production code.

The tiny test checkpoints (tests/generation/neural/tiny_weights.py) shrink every width, so a
mismatch of hidden sizes, head counts, latent channels, VAE compression, patch sizes, text or
image-encoder width, or a config key the production code reads, can hide behind them. This
harness builds each weights folder from the publisher's constructor configs
(``bench/model_configs.py``) with the real widths and cuts only depth:

* transformers: 2 blocks (``--blocks``): the first-block cache needs a first block and a rest,
  and every hook that walks the blocks sees more than one; VACE has ``vace_layers=[0]``, so a
  VACE block and a plain block both run;
* the text encoders (UMT5-XXL, T5-v1.1-XXL) and the CLIP ViT-H/14 image encoder: 1 layer
  (``--encoder-layers``), full width; the text vocabulary is cut to a tiny Unigram vocabulary
  (``build_tokenizer``: the T5 layout, pad 0 / eos 1 / unk 2) and the embedding table to its size;
* the VAEs (Wan 2.2 z48 16x, Wan 2.1 z16 8x, LTX 0.9.7/0.9.8 128-channel 32x) and the LTX latent
  upsampler at full size: they have no blocks to cut.

Weights are random (seeded; parameters are created in place from their shapes, LeCun-normal
for matrices and kernels, ones/zeros for norms and biases, so outputs stay finite) and saved
in bfloat16 with ``save_pretrained(safe_serialization=True)`` under the publishers' folder
names, with ``model_index.json`` class names as published (``T5TokenizerFast`` / ``T5Tokenizer``,
``CLIPImageProcessor``). ``ltxv-spatial-upscaler-0.9.8`` links its ``vae/`` to the LTX folder's.

The newer engines' folders build on request (``--folders LTX-2,HunyuanVideo-1.5-Diffusers-720p_t2v,
HunyuanVideo-1.5-Diffusers-720p_i2v``, roles ``ltx2``, ``hunyuan_text``, ``hunyuan_image``): LTX-2's 19B
transformer and its text connectors cut to the depth, Gemma 3 12B to one layer (the connectors then
take two hidden states, published 49), its video VAE, audio VAE and vocoder whole, and the clip's
sound decoded and checked; HunyuanVideo 1.5's 8.3B transformer cut likewise, ByT5 and SigLIP to one
layer, Qwen2.5-VL 7B to three (the pipeline reads its third hidden state from the end), its VAE whole.
They are not in ``DEFAULT_FOLDERS``: LTX-2's role peaks near 17 GB of host RAM, more than the
suite can give one test beside its parallel workers.

Each role then runs in its own subprocess through ``Settings``, ``WanEngine`` / ``LtxEngine`` and
``engine.generate`` exactly as a worker runs it, on a small grid (96x64, 9 frames at 24 fps by
default; ``DEFAULT_SIZE`` says why). ``fast`` finds the upsampler folder and so runs the engine's two-stage recipe; the
extra role ``upscaler`` loads that folder with diffusers' own pipeline alone. Per role and
option it records the load seconds (the role's folder loaded ahead through the engine's own
pipeline cache, when that seam exists; what the engine loads on its own, such as the
upsampler, counts in generate), the generate seconds, the process's peak RSS (VmHWM) and the
decode's peak RSS over the loaded weights (sampled every 20 ms; decoding starts where the last
denoising step's ``on_step`` report ends), and checks the clip: exactly ``num_frames`` frames
of ``(height, width, 3)`` uint8, not all equal, progress reported up to its total.
A role that raises is a failed row with the exception's type and message; the run goes on and
exits non-zero if any row failed.

    python bench/full_width.py                                   # all roles, baseline
    python bench/full_width.py --roles fast --options baseline,vae_tiling
    python bench/full_width.py --build-only /data/fw             # build the folders, keep them
    python bench/full_width.py --models /data/fw --options cache=first_block,offload=group
    python bench/full_width.py --folders LTX-2 --roles ltx2

Prints a table and writes JSON (``--json``, default ``bench/results/full_width.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import model_configs as mc  # noqa: E402

ROLES = ("text", "first_frame", "first_last", "references", "fast")
#: ``upscaler`` alone: ``ltxv-spatial-upscaler-0.9.8`` loaded with diffusers' own ``LTXLatentUpsamplePipeline``,
#: upsampling random latents (the fast role runs it through the engine whenever the folder is present);
#: ``last_frame`` and ``camera_guide``: the other request shapes the Wan roles take (``ROLE_SPECS``).
EXTRA_ROLES = ("upscaler", "last_frame", "camera_guide", "ltx2", "hunyuan_text", "hunyuan_image")
OPTIONS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "cache=first_block": {"cache": "first_block"},
    # MagCache takes ratios calibrated per model (weights folder or role); flat ones exercise the hook, not its quality.
    "cache=mag": {"cache": "mag", "cache_mag_ratios": {role: [1.0] * 8 for role in ROLES}},
    "cache=taylorseer": {"cache": "taylorseer"},
    "cache=pab": {"cache": "pab"},
    "vae_tiling": {"vae_tiling": True},
    "compile": {"compile": "blocks"},
    "offload=model": {"offload": "model"},
    "offload=group": {"offload": "group"},
}
#: Small and not square (a swapped width and height cannot pass): 3 x 2 transformer tokens a frame on Wan 2.2, 6 x 4
#: on Wan 2.1; LTX's two-stage recipe runs 64x32 then 128x64. The VAE decode costs in proportion to the pixels: at
#: 256x256 the five roles take about 25 minutes on two cores instead of 3 (``--width 256 --height 256``).
DEFAULT_SIZE = (96, 64)
#: Options that only act above some size run there unless --width/--height say otherwise: the VAEs tile a frame
#: only when a side exceeds their tile (Wan: 256 px, so 416 gives Wan 2.2 26 and Wan 2.1 52 latent columns against
#: tiles of 16 and 32; LTX: 512 px at the refine size, 4/3 of the request rounded to 64 px: 576). One wide side
#: is enough, and costs a fraction of a square frame.
OPTION_SIZES: dict[str, tuple[int, int]] = {"vae_tiling": (416, 96)}
#: Denoising steps per role: 2 for the Wan roles (a multistep solver's second step, and a cache hook something to
#: skip), the distilled 8-step timestep list for LTX (one block over a few hundred tokens: cheap).
DEFAULT_STEPS = {
    "text": 2, "first_frame": 2, "first_last": 2, "references": 2, "fast": 8, "last_frame": 2, "camera_guide": 2,
    "ltx2": 2, "hunyuan_text": 2, "hunyuan_image": 2,
}  # fmt: skip
PROMPT = "a red fox runs over the river at sunset, cinematic"
#: Seconds per folder, written next to the folders by ``--build-only``.
BUILD_REPORT = "full_width_build.json"


@dataclass(frozen=True)
class Depth:
    """What the build cuts: transformer blocks, and text / image encoder layers."""

    blocks: int = 2
    encoder_layers: int = 1


@dataclass(frozen=True)
class RoleSpec:
    """Which engine serves a case, from which folder and weights role (``weights_role``: the
    ``Settings`` role whose folder it loads and whose steps it runs), with which inputs."""

    engine: str
    folder: str
    images: tuple[str, ...] = ()
    weights_role: str = ""
    camera_movement: str | None = None


ROLE_SPECS: dict[str, RoleSpec] = {
    "text": RoleSpec("wan", "Wan2.2-TI2V-5B-Diffusers"),
    "first_frame": RoleSpec("wan", "Wan2.2-TI2V-5B-Diffusers", ("first_frame",)),
    "first_last": RoleSpec("wan", "Wan2.1-FLF2V-14B-720P-diffusers", ("first_frame", "last_frame")),
    "references": RoleSpec("wan", "Wan2.1-VACE-14B-diffusers", ("reference_images",)),
    "fast": RoleSpec("ltx", "LTX-Video-0.9.8-13B-distilled", ("first_frame", "last_frame")),
    "upscaler": RoleSpec("diffusers", "ltxv-spatial-upscaler-0.9.8"),
    # Two more paths of the engines' roles: a last frame alone (generated as a first frame, played backwards), and a
    # first frame with a camera movement (steered by the preview engine's render through VACE's control video).
    "last_frame": RoleSpec("wan", "Wan2.2-TI2V-5B-Diffusers", ("last_frame",), "first_frame"),
    "camera_guide": RoleSpec("wan", "Wan2.1-VACE-14B-diffusers", ("first_frame",), "references", "zoom_in"),
    # The newer engines, built on request (``--folders LTX-2,...``; not in DEFAULT_FOLDERS: the suite's CPU time).
    # LTX-2 runs keyframes (a first and a last frame) with its sound, in one pass (the folder has no upsampler).
    "ltx2": RoleSpec("ltx2", "LTX-2", ("first_frame", "last_frame"), "ltx2"),
    "hunyuan_text": RoleSpec("hunyuan", "HunyuanVideo-1.5-Diffusers-720p_t2v", (), "hunyuan_text"),
    "hunyuan_image": RoleSpec("hunyuan", "HunyuanVideo-1.5-Diffusers-720p_i2v", ("first_frame",), "hunyuan_image"),
}
DEFAULT_FOLDERS = (
    "Wan2.2-TI2V-5B-Diffusers",
    "Wan2.1-FLF2V-14B-720P-diffusers",
    "Wan2.1-VACE-14B-diffusers",
    "LTX-Video-0.9.8-13B-distilled",
    "ltxv-spatial-upscaler-0.9.8",
)


# ----------------------------------------------------------------------------------------------------------------------
# Tokenizer (the few lines of tests/generation/neural/tiny_weights.py build_tokenizer "t5-unigram": bench must not
# import from tests)
# ----------------------------------------------------------------------------------------------------------------------

WORDS = (
    "a", "an", "the", "red", "blue", "green", "yellow", "black", "white", "fox", "cat", "dog", "bird", "man", "woman",
    "car", "boat", "runs", "walks", "jumps", "flies", "over", "under", "at", "night", "day", "city", "forest", "river",
    "sea", "mountain", "camera", "pans", "zooms", "slowly", "fast", "in", "on", "of", "and", "with", "video",
    "cinematic", "style", "anime", "watercolor", "portrait", "landscape", "sunset", "snow", "rain", "neon",
)  # fmt: skip
SPECIALS = ("<pad>", "</s>", "<unk>")  # T5 layout: pad 0, eos 1, unk 2
TEXT_VOCAB_SIZE = 64  # >= specials + the "▁" piece + words


def build_tokenizer(model_max_length: int) -> Any:
    """A T5 (Unigram) tokenizer over ``WORDS``: transformers 5 saves it as ``T5Tokenizer`` and loads
    it under the published names ``T5TokenizerFast`` (Wan) and ``T5Tokenizer`` (LTX)."""
    from transformers import T5Tokenizer

    pieces = [(s, 0.0) for s in SPECIALS] + [("\u2581", -2.0)] + [("\u2581" + w, -1.0) for w in WORDS]
    assert len(pieces) <= TEXT_VOCAB_SIZE
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)


# ----------------------------------------------------------------------------------------------------------------------
# Building the folders
# ----------------------------------------------------------------------------------------------------------------------


@contextmanager
def _empty_weights() -> Iterator[None]:
    """Parameters on the meta device, buffers real (Wan's RoPE tables, LTX's latent statistics):
    nothing is initialised twice."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        yield


class NoiseTape:
    """Seeded standard-normal values, cut into parameters at pseudo-random offsets.

    Drawing a fresh normal for each of ~5e9 parameters costs a minute on two cores; slicing one
    seeded draw of ``TAPE_PERIOD`` values (a prime length, so no two parameters share a phase
    pattern) costs a copy. The values stay i.i.d.-looking within any row the models read.
    """

    TAPE_PERIOD = 16_777_259

    def __init__(self, seed: int, dtype: Any) -> None:
        import torch

        self.dtype = dtype
        self.generator = torch.Generator().manual_seed(seed)
        self.period = torch.empty(self.TAPE_PERIOD, dtype=torch.float32).normal_(generator=self.generator).to(dtype)
        self.tape = self.period

    def take(self, numel: int) -> Any:
        """``numel`` values starting at a seeded offset into the tape."""
        import torch

        offset = int(torch.randint(self.TAPE_PERIOD, (1,), generator=self.generator))
        while self.tape.numel() < offset + numel:  # grow by whole periods, once per size
            self.tape = torch.cat([self.tape, self.period])
        return self.tape[offset : offset + numel]


def materialize(model: Any, dtype: Any, seed: int) -> Any:
    """Give every meta parameter of ``model`` real, seeded values in ``dtype``.

    LeCun-normal (std 1/sqrt(fan_in)) for matrices and kernels keeps activations of order one
    through the cut stacks; other vectors (Wan's modulation tables) N(0, 0.02); norm weights
    ones and biases zeros; a scalar parameter (LTX's ``timestep_scale_multiplier``) takes its
    class's documented value. Returns ``model`` in eval mode.
    """
    import torch

    tape = NoiseTape(seed, dtype)
    for module in model.modules():
        norm = "norm" in type(module).__name__.lower()
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            if param.device.type != "meta":
                value = param.detach().to(dtype)
            elif param.dim() == 0:
                value = torch.tensor(SCALAR_PARAMETERS.get(name, 1.0), dtype=dtype)
            elif name == "bias":
                value = torch.zeros(param.shape, dtype=dtype)
            elif norm or name == "gamma":
                value = torch.ones(param.shape, dtype=dtype)
            else:
                std = 0.02 if param.dim() == 1 else param[0].numel() ** -0.5
                value = (tape.take(param.numel()) * std).view(param.shape)
            module._parameters[name] = torch.nn.Parameter(value, requires_grad=False)
    return model.eval()


#: Scalar parameters and their constructor values (diffusers 0.42.1 autoencoder_kl_ltx.py: ``torch.tensor(1000.0)``).
SCALAR_PARAMETERS = {"timestep_scale_multiplier": 1000.0}


def _build(cls: Any, config: dict[str, Any], dtype: Any, seed: int) -> Any:
    with _empty_weights():
        model = cls(**config)
    return materialize(model, dtype, seed)


def _text_encoder(kind: str, layers: int, dtype: Any, seed: int) -> Any:
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    if kind == "umt5":
        config: Any = UMT5Config(**{**mc.UMT5_XXL, "num_layers": layers, "vocab_size": TEXT_VOCAB_SIZE})
        cls: Any = UMT5EncoderModel
    else:
        config = T5Config(**{**mc.T5_V1_1_XXL, "num_layers": layers, "vocab_size": TEXT_VOCAB_SIZE})
        cls = T5EncoderModel
    with _empty_weights():
        model = cls(config)
    return materialize(model, dtype, seed)


def _clip(layers: int, dtype: Any, seed: int) -> tuple[Any, Any]:
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    with _empty_weights():
        encoder = CLIPVisionModel(CLIPVisionConfig(**{**mc.CLIP_VIT_H_14, "num_hidden_layers": layers}))
    return materialize(encoder, dtype, seed), CLIPImageProcessor(**mc.CLIP_IMAGE_PROCESSOR)


def _scheduler(cls_name: str, config: dict[str, Any]) -> Any:
    import diffusers

    return getattr(diffusers, cls_name)(**config)


def _rewrite_json(path: Path, update: dict[str, Any]) -> None:
    data = json.loads(path.read_text())
    data.update(update)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def publish_names(folder: Path, spec: mc.PublishedFolder) -> None:
    """transformers 5 saves the tokenizer as ``T5Tokenizer`` and, without torchvision, the image
    processor as ``CLIPImageProcessorPil``; diffusers copies ``type(obj).__name__`` into
    model_index.json. Rewrite those entries to the names the published folders carry."""
    update: dict[str, Any] = {}
    for name in ("tokenizer", "image_processor"):
        entry = spec.components.get(name)
        if entry is not None:
            update[name] = list(entry)
    if update:
        _rewrite_json(folder / "model_index.json", update)
    if (folder / "tokenizer" / "tokenizer_config.json").is_file():
        # the published Wan and LTX folders' tokenizer_config.json name T5Tokenizer
        _rewrite_json(folder / "tokenizer" / "tokenizer_config.json", {"tokenizer_class": "T5Tokenizer"})
    if (folder / "image_processor" / "preprocessor_config.json").is_file():
        _rewrite_json(
            folder / "image_processor" / "preprocessor_config.json", {"image_processor_type": "CLIPImageProcessor"}
        )


def _save(pipe: Any, folder: Path, spec: mc.PublishedFolder) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    publish_names(folder, spec)
    return folder


def build_wan22_ti2v(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    import diffusers

    name = "Wan2.2-TI2V-5B-Diffusers"
    spec = mc.FOLDERS[name]
    pipe = diffusers.WanPipeline(
        tokenizer=build_tokenizer(mc.WAN_TEXT_TOKENS),
        text_encoder=_text_encoder("umt5", depth.encoder_layers, dtype, seed),
        vae=_build(diffusers.AutoencoderKLWan, mc.WAN22_VAE, dtype, seed),
        scheduler=_scheduler("UniPCMultistepScheduler", mc.WAN22_SCHEDULER),
        transformer=_build(
            diffusers.WanTransformer3DModel, {**mc.WAN22_TRANSFORMER, "num_layers": depth.blocks}, dtype, seed
        ),
        transformer_2=None,
        boundary_ratio=None,
        expand_timesteps=True,
    )
    return _save(pipe, root / name, spec)


def build_wan21_flf2v(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    import diffusers

    name = "Wan2.1-FLF2V-14B-720P-diffusers"
    spec = mc.FOLDERS[name]
    image_encoder, image_processor = _clip(depth.encoder_layers, dtype, seed)
    pipe = diffusers.WanImageToVideoPipeline(
        tokenizer=build_tokenizer(mc.WAN_TEXT_TOKENS),
        text_encoder=_text_encoder("umt5", depth.encoder_layers, dtype, seed),
        vae=_build(diffusers.AutoencoderKLWan, mc.WAN21_VAE, dtype, seed),
        scheduler=_scheduler("UniPCMultistepScheduler", mc.WAN21_FLF2V_SCHEDULER),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=_build(
            diffusers.WanTransformer3DModel, {**mc.WAN21_FLF2V_TRANSFORMER, "num_layers": depth.blocks}, dtype, seed
        ),
    )
    return _save(pipe, root / name, spec)


def _build_vace(root: Path, name: str, config: dict[str, Any], depth: Depth, dtype: Any, seed: int) -> Path:
    import diffusers

    spec = mc.FOLDERS[name]
    # One VACE block on the first of (at least) two blocks: the hint path and a plain block both run.
    transformer = {**config, "num_layers": max(depth.blocks, 2), "vace_layers": [0]}
    pipe = diffusers.WanVACEPipeline(
        tokenizer=build_tokenizer(mc.WAN_TEXT_TOKENS),
        text_encoder=_text_encoder("umt5", depth.encoder_layers, dtype, seed),
        vae=_build(diffusers.AutoencoderKLWan, mc.WAN21_VAE, dtype, seed),
        scheduler=_scheduler("UniPCMultistepScheduler", mc.WAN21_VACE_SCHEDULER),
        transformer=_build(diffusers.WanVACETransformer3DModel, transformer, dtype, seed),
    )
    return _save(pipe, root / name, spec)


def build_wan21_vace_14b(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    return _build_vace(root, "Wan2.1-VACE-14B-diffusers", mc.WAN21_VACE_14B_TRANSFORMER, depth, dtype, seed)


def build_wan21_vace_1_3b(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    return _build_vace(root, "Wan2.1-VACE-1.3B-diffusers", mc.WAN21_VACE_1_3B_TRANSFORMER, depth, dtype, seed)


def build_ltx_distilled(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    import diffusers

    name = "LTX-Video-0.9.8-13B-distilled"
    spec = mc.FOLDERS[name]
    pipe = diffusers.LTXConditionPipeline(
        scheduler=_scheduler("FlowMatchEulerDiscreteScheduler", mc.LTX_SCHEDULER),
        vae=_build(diffusers.AutoencoderKLLTXVideo, mc.LTX_VAE, dtype, seed),
        text_encoder=_text_encoder("t5", depth.encoder_layers, dtype, seed),
        tokenizer=build_tokenizer(mc.LTX_TEXT_TOKENS),
        transformer=_build(
            diffusers.LTXVideoTransformer3DModel, {**mc.LTX_13B_TRANSFORMER, "num_layers": depth.blocks}, dtype, seed
        ),
    )
    return _save(pipe, root / name, spec)


def build_ltx_upscaler(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    """The upsampler's weights and model_index.json; ``vae/`` links to the LTX folder's (the
    pipeline shares the denoiser's VAE), built first if missing."""
    import diffusers
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    name = "ltxv-spatial-upscaler-0.9.8"
    ltx = root / "LTX-Video-0.9.8-13B-distilled"
    if not (ltx / "vae").is_dir():
        build_ltx_distilled(root, depth, dtype, seed)
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    upsampler = _build(LTXLatentUpsamplerModel, mc.LTX_LATENT_UPSAMPLER, dtype, seed)
    with _empty_weights():  # only its class and config reach model_index.json
        vae = diffusers.AutoencoderKLLTXVideo(**mc.LTX_VAE)
    pipe = diffusers.LTXLatentUpsamplePipeline(vae=vae, latent_upsampler=upsampler)
    folder.mkdir(parents=True)
    pipe.save_config(folder)  # model_index.json as diffusers writes it
    upsampler.save_pretrained(folder / "latent_upsampler", safe_serialization=True)
    (folder / "vae").symlink_to(Path("..") / ltx.name / "vae", target_is_directory=True)
    return folder


def _word_tokenizer(model_max_length: int) -> Any:
    """A WordLevel tokenizer over ``WORDS`` (Gemma's layout: pad 0, eos 1, unk 2, bos 3): the
    cut vocabulary of LTX-2's Gemma, saved as ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate([*SPECIALS, "<bos>"])}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<bos>",
        model_max_length=model_max_length,
    )  # fmt: skip


#: LTX-2's prompt length here: the connectors' 128 learnable registers tile the padded prompt (the published
#: tokenizer takes 1024).
LTX2_TEXT_TOKENS = 128


def build_ltx2(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    """``LTX-2`` at full width: the 19B transformer and the connectors cut to ``depth``; Gemma 3
    with ``depth.encoder_layers`` layers (so the connectors take ``layers + 1`` hidden states,
    published 49) and the cut vocabulary; both VAEs and the vocoder whole. No latent upsampler."""
    import diffusers
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    name = "LTX-2"
    layers = depth.encoder_layers
    gemma = mc.GEMMA3_12B
    config = Gemma3Config(**{
        **gemma,
        "text_config": {**gemma["text_config"], "num_hidden_layers": layers, "vocab_size": TEXT_VOCAB_SIZE},
        "vision_config": {**gemma["vision_config"], "num_hidden_layers": layers},
        # the special image tokens inside the cut vocabulary
        "image_token_index": TEXT_VOCAB_SIZE - 1, "boi_token_index": TEXT_VOCAB_SIZE - 2,
        "eoi_token_index": TEXT_VOCAB_SIZE - 3,
    })  # fmt: skip
    with _empty_weights():
        text_encoder = Gemma3ForConditionalGeneration(config)
    connectors = {
        **mc.LTX2_CONNECTORS, "text_proj_in_factor": layers + 1,
        "video_connector_num_layers": layers, "audio_connector_num_layers": layers,
    }  # fmt: skip
    pipe = diffusers.LTX2Pipeline(
        scheduler=_scheduler("FlowMatchEulerDiscreteScheduler", mc.LTX2_SCHEDULER),
        vae=_build(diffusers.AutoencoderKLLTX2Video, mc.LTX2_VAE, dtype, seed),
        audio_vae=_build(diffusers.AutoencoderKLLTX2Audio, mc.LTX2_AUDIO_VAE, dtype, seed),
        text_encoder=materialize(text_encoder, dtype, seed),
        tokenizer=_word_tokenizer(LTX2_TEXT_TOKENS),
        connectors=_build(LTX2TextConnectors, connectors, dtype, seed),
        transformer=_build(
            diffusers.LTX2VideoTransformer3DModel, {**mc.LTX2_TRANSFORMER, "num_layers": depth.blocks}, dtype, seed
        ),
        vocoder=_build(LTX2Vocoder, mc.LTX2_VOCODER, dtype, seed),
    )
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    _rewrite_json(folder / "model_index.json", {"tokenizer": ["transformers", "PreTrainedTokenizerFast"]})
    return folder


def _qwen_tokenizer() -> Any:
    """Qwen's byte-level BPE with no merges (each byte a token), its special tokens and chat
    markup: the cut vocabulary of HunyuanVideo 1.5's Qwen2.5-VL."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2Tokenizer

    vocab = {char: index for index, char in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for token in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        vocab[token] = len(vocab)
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=bpe, pad_token="<|endoftext|>", eos_token="<|im_end|>", unk_token=None, bos_token=None
    )
    tokenizer.chat_template = (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    return tokenizer


def _build_hunyuan(root: Path, name: str, depth: Depth, dtype: Any, seed: int) -> Path:
    """A HunyuanVideo 1.5 720p folder at full width: the 8.3B transformer cut to ``depth`` (one
    refiner block), ByT5's encoder with ``depth.encoder_layers`` layers and Qwen2.5-VL 7B's text
    model with three at least (its vocabulary cut to bytes), SigLIP likewise for image to video,
    the VAE whole."""
    import diffusers
    from transformers import (
        ByT5Tokenizer,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLTextModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
        T5Config,
        T5EncoderModel,
    )

    spec = mc.FOLDERS[name]
    image = "image_encoder" in spec.components
    layers = depth.encoder_layers
    # The pipeline reads Qwen's third hidden state from the end (``num_hidden_layers_to_skip`` 2):
    # three layers at least (published: 28).
    qwen_layers = max(layers, 3)
    tokenizer = _qwen_tokenizer()
    vocab = len(tokenizer)
    qwen = Qwen2_5_VLTextConfig(**{
        **mc.QWEN25_VL_7B_TEXT, "num_hidden_layers": qwen_layers, "vocab_size": vocab,
        "bos_token_id": None, "eos_token_id": vocab - 1, "pad_token_id": vocab - 3,
    })  # fmt: skip
    byt5 = T5Config(**{**mc.BYT5_GLYPH, "num_layers": layers, "is_encoder_decoder": False, "use_cache": False})
    with _empty_weights():
        text_encoder, text_encoder_2 = Qwen2_5_VLTextModel(qwen), T5EncoderModel(byt5)
    transformer = {**spec.configs["transformer"], "num_layers": depth.blocks, "num_refiner_layers": 1}
    parts: dict[str, Any] = {
        "transformer": _build(diffusers.HunyuanVideo15Transformer3DModel, transformer, dtype, seed),
        "vae": _build(diffusers.AutoencoderKLHunyuanVideo15, mc.HUNYUAN15_VAE, dtype, seed),
        "text_encoder": materialize(text_encoder, dtype, seed),
        "tokenizer": tokenizer,
        "text_encoder_2": materialize(text_encoder_2, dtype, seed),
        "tokenizer_2": ByT5Tokenizer(),
        "scheduler": _scheduler("FlowMatchEulerDiscreteScheduler", spec.configs["scheduler"]),
        "guider": diffusers.ClassifierFreeGuidance(**spec.configs["guider"]),
    }
    if image:
        with _empty_weights():
            siglip = SiglipVisionModel(SiglipVisionConfig(**{**mc.SIGLIP_SO400M, "num_hidden_layers": layers}))
        parts["image_encoder"] = materialize(siglip, dtype, seed)
        size = mc.SIGLIP_SO400M["image_size"]
        parts["feature_extractor"] = SiglipImageProcessor(size={"height": size, "width": size})
        pipe = diffusers.HunyuanVideo15ImageToVideoPipeline(**parts)
    else:
        pipe = diffusers.HunyuanVideo15Pipeline(**parts)
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    names: dict[str, Any] = {"tokenizer": ["transformers", "Qwen2TokenizerFast"]}
    if image:
        names["feature_extractor"] = ["transformers", "SiglipImageProcessor"]
        _rewrite_json(
            folder / "feature_extractor" / "preprocessor_config.json", {"image_processor_type": "SiglipImageProcessor"}
        )
    _rewrite_json(folder / "model_index.json", names)
    return folder


def build_hunyuan_t2v(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    return _build_hunyuan(root, "HunyuanVideo-1.5-Diffusers-720p_t2v", depth, dtype, seed)


def build_hunyuan_i2v(root: Path, depth: Depth, dtype: Any, seed: int) -> Path:
    return _build_hunyuan(root, "HunyuanVideo-1.5-Diffusers-720p_i2v", depth, dtype, seed)


BUILDERS: dict[str, Callable[[Path, Depth, Any, int], Path]] = {
    "Wan2.2-TI2V-5B-Diffusers": build_wan22_ti2v,
    "Wan2.1-FLF2V-14B-720P-diffusers": build_wan21_flf2v,
    "Wan2.1-VACE-14B-diffusers": build_wan21_vace_14b,
    "Wan2.1-VACE-1.3B-diffusers": build_wan21_vace_1_3b,
    "LTX-Video-0.9.8-13B-distilled": build_ltx_distilled,
    "ltxv-spatial-upscaler-0.9.8": build_ltx_upscaler,
    "LTX-2": build_ltx2,
    "HunyuanVideo-1.5-Diffusers-720p_t2v": build_hunyuan_t2v,
    "HunyuanVideo-1.5-Diffusers-720p_i2v": build_hunyuan_i2v,
}


def build_folders(
    root: Path, folders: tuple[str, ...] = DEFAULT_FOLDERS, depth: Depth = Depth(), seed: int = 0
) -> dict[str, float]:
    """Write ``folders`` under ``root``; returns seconds per folder. Seeded: identical builds."""
    import diffusers
    import torch
    import transformers

    # Build-time notices (the Pil image processor stand-in, shard progress bars) are noise here.
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    root.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    for name in folders:
        started = time.perf_counter()
        BUILDERS[name](root, depth, torch.bfloat16, seed)
        seconds[name] = round(time.perf_counter() - started, 2)
        print(f"built {name} in {seconds[name]:.1f} s", flush=True)
    return seconds


# ----------------------------------------------------------------------------------------------------------------------
# One role in its own process
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One role under one option: timings, memory, the clip's geometry, or the failure."""

    role: str
    option: str
    ok: bool = False
    folder: str = ""
    width: int = 0
    height: int = 0
    num_frames: int = 0
    fps: int = 0
    steps: int = 0
    frames: int = 0
    frame_shape: list[int] = field(default_factory=list)
    frame_dtype: str = ""
    pixel_min: int = 0
    pixel_max: int = 0
    pixel_mean: float = 0.0
    load_seconds: float | None = None
    generate_seconds: float = 0.0
    first_step_seconds: float | None = None
    denoise_seconds: float = 0.0
    decode_seconds: float = 0.0
    wall_seconds: float = 0.0
    peak_rss_mib: float = 0.0
    rss_after_load_mib: float = 0.0
    decode_peak_rss_mib: float = 0.0
    decode_over_weights_mib: float = 0.0
    error: str | None = None
    traceback: str | None = None
    notes: list[str] = field(default_factory=list)


def _proc_status(key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process, MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """This process's RSS, sampled every ``interval`` seconds with a timestamp, in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        self.samples.append((time.perf_counter(), _proc_status("VmRSS")))

    def peak_since(self, since: float) -> float:
        return max((rss for t, rss in self.samples if t >= since), default=0.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


def _image(seed: int, width: int, height: int) -> Any:
    """A smooth RGB test image (gradients and a disc) of its own aspect, so the engines resize it."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    disc = ((x - cx) ** 2 + (y - cy) ** 2 < (0.2 * min(width, height)) ** 2) * 120.0
    image = np.stack([x / width * 255, y / height * 255, np.full_like(x, 60.0 * (seed % 3))], axis=-1)
    image[..., seed % 3] += disc
    return np.clip(image, 0, 255).astype(np.uint8)


def _request(role: str, width: int, height: int, num_frames: int, fps: int) -> Any:
    from cinefuse.generation.base import GenerationRequest
    from cinefuse.media.audio import Soundtrack

    images: dict[str, Any] = {}
    for kind in ROLE_SPECS[role].images:
        if kind == "reference_images":
            images[kind] = (_image(3, 320, 240), _image(4, 200, 300))
        else:
            images[kind] = _image(1 if kind == "first_frame" else 2, 320, 240)
    camera = ROLE_SPECS[role].camera_movement
    return GenerationRequest(
        prompt=PROMPT,
        width=width,
        height=height,
        fps=fps,
        num_frames=num_frames,
        seed=0,
        camera_movement=camera,
        # LTX-2 makes the clip's sound too: decoded through the audio VAE and the vocoder at full width.
        soundtrack=Soundtrack() if ROLE_SPECS[role].engine == "ltx2" else None,
        **images,
    )


def _preload(engine: Any, role: str) -> bool:
    """Load the role's folder through the engine's own pipeline cache (``cache.load(weights)``,
    or the older ``cache.get(pipeline_class, weights)``), so loading is timed apart from
    generating; the engine then finds it loaded. False where the engine has neither seam
    (generate then includes loading)."""
    import diffusers

    from cinefuse.generation.neural.weights import find_role

    cache = getattr(engine, "cache", None)
    weights = find_role(engine.settings, ROLE_SPECS[role].weights_role or role)
    if hasattr(cache, "load"):
        cache.load(weights)
        return True
    if hasattr(cache, "get"):
        classes = {
            "text": diffusers.WanPipeline,
            "first_frame": diffusers.WanImageToVideoPipeline,
            "first_last": diffusers.WanImageToVideoPipeline,
            "references": diffusers.WanVACEPipeline,
            "fast": diffusers.LTXConditionPipeline,
        }
        cache.get(classes[ROLE_SPECS[role].weights_role or role], weights)
        return True
    return False


def run_role(args: argparse.Namespace) -> Row:
    """Build the engine from settings, generate one clip for ``args.role``, measure and check it."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    row = Row(role=args.role, option=args.option, folder=ROLE_SPECS[args.role].folder)
    row.width, row.height, row.num_frames, row.fps = args.width, args.height, args.frames, args.fps
    row.steps = args.steps_for[args.role]
    if args.role == "upscaler":
        return run_upscaler(args, row)
    from cinefuse.settings import Settings

    steps_role = ROLE_SPECS[args.role].weights_role or args.role
    settings = Settings.model_validate(
        {"models_dir": args.models, "steps": {steps_role: row.steps}, **OPTIONS[args.option]}
    )
    if ROLE_SPECS[args.role].engine == "ltx":
        from cinefuse.generation.neural.ltx import LtxEngine

        engine: Any = LtxEngine(settings)
    elif ROLE_SPECS[args.role].engine == "ltx2":
        from cinefuse.generation.neural.ltx2 import Ltx2Engine

        engine = Ltx2Engine(settings)
    elif ROLE_SPECS[args.role].engine == "hunyuan":
        from cinefuse.generation.neural.hunyuan import HunyuanEngine

        engine = HunyuanEngine(settings)
    else:
        from cinefuse.generation.neural.wan import WanEngine

        engine = WanEngine(settings)
    request = _request(args.role, args.width, args.height, args.frames, args.fps)
    marks: list[tuple[int, int, float]] = []
    frames: list[Any] = []
    first_frame_at = 0.0
    with RssSampler() as rss:
        started = time.perf_counter()
        if _preload(engine, args.role):
            row.load_seconds = round(time.perf_counter() - started, 2)
        else:
            row.notes.append("no cache seam: load_seconds is part of generate_seconds")
        row.rss_after_load_mib = round(_proc_status("VmRSS"), 1)

        def on_step(step: int, total: int) -> None:
            marks.append((step, total, time.perf_counter()))

        generate_started = time.perf_counter()
        for frame in engine.generate(request, on_step):
            if not frames:
                first_frame_at = time.perf_counter()
            frames.append(frame)
        row.generate_seconds = round(time.perf_counter() - generate_started, 2)
    row.peak_rss_mib = round(_proc_status("VmHWM"), 1)
    # The engine's own account of the run (engine.last_run: model, steps, guidance, shift, why a cache hook stayed
    # off ...): the note says whether an option acted at all.
    account = {k: v for k, v in dict(getattr(engine, "last_run", {}) or {}).items() if k not in ("prompt", "plan")}
    row.notes.append("engine: " + json.dumps(account, default=str)[:600])

    if marks:
        row.first_step_seconds = round(marks[0][2] - generate_started, 2)
    # The engines report each decoded chunk through on_step just before its frames leave, so the
    # call before the one that preceded the first frame ends the last denoising step: decoding
    # (and the latents' preparation for it) runs from there.
    reported = [t for _, _, t in marks if t <= first_frame_at] if frames else []
    decode_started = reported[-2] if len(reported) >= 2 else generate_started
    row.denoise_seconds = round(decode_started - generate_started, 2)
    row.decode_seconds = round(generate_started + row.generate_seconds - decode_started, 2)
    row.decode_peak_rss_mib = round(rss.peak_since(decode_started), 1)
    row.decode_over_weights_mib = round(max(0.0, row.decode_peak_rss_mib - row.rss_after_load_mib), 1)
    row.frames = len(frames)
    problems = []
    if frames:
        clip = np.stack(frames)
        row.frame_shape, row.frame_dtype = list(frames[0].shape), str(frames[0].dtype)
        row.pixel_min, row.pixel_max, row.pixel_mean = int(clip.min()), int(clip.max()), round(float(clip.mean()), 2)
        shapes = sorted({tuple(f.shape) for f in frames})
        if shapes != [(args.height, args.width, 3)]:
            problems.append(f"frame shapes {shapes}, expected {(args.height, args.width, 3)}")
        if {str(f.dtype) for f in frames} != {"uint8"}:
            problems.append(f"frame dtypes {sorted({str(f.dtype) for f in frames})}, expected uint8")
        if row.pixel_min == row.pixel_max:
            problems.append(f"every pixel is {row.pixel_min}: no finite output")
    if row.frames != args.frames:
        problems.append(f"{row.frames} frames, expected {args.frames}")
    if request.soundtrack is not None:
        audio = request.soundtrack.audio
        if audio is None or not np.isfinite(audio.samples).all():
            problems.append("no finite sound in the soundtrack")
        else:
            row.notes.append(f"sound: {audio.samples.shape[0]} channels, {audio.duration:.3f} s at {audio.rate} Hz")
    if not marks or marks[-1][0] != marks[-1][1]:
        problems.append(f"on_step ended at {marks[-1][:2] if marks else None}, not at its total")
    if problems:
        row.error = "CheckFailed: " + "; ".join(problems)
    row.ok = not problems
    return row


def run_upscaler(args: argparse.Namespace, row: Row) -> Row:
    """Load the upsampler folder with diffusers' own pipeline and upsample random latents 2x."""
    import diffusers
    import torch

    folder = Path(args.models) / ROLE_SPECS["upscaler"].folder
    started = time.perf_counter()
    pipe = diffusers.LTXLatentUpsamplePipeline.from_pretrained(str(folder), dtype=torch.float32)
    row.load_seconds = round(time.perf_counter() - started, 2)
    row.rss_after_load_mib = round(_proc_status("VmRSS"), 1)
    latent_frames = (args.frames - 1) // pipe.vae.config.temporal_compression_ratio + 1
    h, w = args.height // 32, args.width // 32
    latents = torch.randn(1, pipe.vae.config.latent_channels, latent_frames, h, w)
    started = time.perf_counter()
    with torch.inference_mode():
        out = pipe(latents=latents, adain_factor=1.0, output_type="latent").frames
    row.generate_seconds = round(time.perf_counter() - started, 2)
    row.peak_rss_mib = round(_proc_status("VmHWM"), 1)
    row.frame_shape = list(out.shape)
    expected = [1, pipe.vae.config.latent_channels, latent_frames, 2 * h, 2 * w]
    row.ok = list(out.shape) == expected and bool(torch.isfinite(out).all())
    if not row.ok:
        row.error = f"CheckFailed: upsampled latents {list(out.shape)} (finite: {bool(torch.isfinite(out).all())})"
    row.notes.append("checked with diffusers' LTXLatentUpsamplePipeline, not through an engine")
    return row


def child_main(args: argparse.Namespace) -> int:
    """``--child``: run one role, write its Row as JSON to ``--out``. Never raises."""
    import torch

    torch.set_num_threads(args.threads or torch.get_num_threads())
    try:
        row = run_role(args)
    except BaseException as exc:  # a failed row, whatever broke: the harness goes on with the next one
        row = Row(role=args.role, option=args.option, folder=ROLE_SPECS[args.role].folder)
        row.error = f"{type(exc).__name__}: {exc}"
        row.traceback = traceback.format_exc()[-6000:]
        row.peak_rss_mib = round(_proc_status("VmHWM"), 1)
    Path(args.out).write_text(json.dumps(asdict(row), indent=2) + "\n")
    return 0 if row.ok else 1


# ----------------------------------------------------------------------------------------------------------------------
# The parent: build, run every role x option in a subprocess, report
# ----------------------------------------------------------------------------------------------------------------------


def run_child(args: argparse.Namespace, role: str, option: str, work: Path) -> Row:
    """``role`` under ``option`` in a subprocess (``--child``): its Row, or a failed one saying
    why the child left none (a crash, the memory killer, the timeout)."""
    width, height = args.width, args.height
    if args.size_given is False and option in OPTION_SIZES:
        width, height = OPTION_SIZES[option]
    out = work / f"{role}.{option.replace('=', '-')}.json"
    log = work / f"{role}.{option.replace('=', '-')}.log"
    steps = json.dumps(args.steps_for)
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", "--role", role, "--option", option,
        "--models", str(args.models), "--out", str(out), "--width", str(width), "--height", str(height),
        "--frames", str(args.frames), "--fps", str(args.fps), "--steps-json", steps, "--threads", str(args.threads),
    ]  # fmt: skip
    started = time.perf_counter()
    with open(log, "w") as stream:
        try:
            done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, timeout=args.timeout, check=False)
            returncode: int | None = done.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    wall = round(time.perf_counter() - started, 2)
    if out.is_file():
        row = Row(**json.loads(out.read_text()))
    else:
        tail = log.read_text()[-3000:] if log.is_file() else ""
        why = f"timed out after {args.timeout} s" if returncode is None else f"exited {returncode} without a report"
        row = Row(role=role, option=option, folder=ROLE_SPECS[role].folder, error=f"ChildFailed: {why}")
        row.traceback = tail
    row.wall_seconds = wall
    if not row.width:  # a child that died before it could say
        row.width, row.height, row.num_frames, row.fps = width, height, args.frames, args.fps
    return row


def build_in_child(args: argparse.Namespace, root: Path, folders: tuple[str, ...]) -> dict[str, float]:
    """``--build-only root`` in a subprocess, so this process never holds the built models'
    memory while the roles run; returns seconds per folder."""
    command = [sys.executable, str(Path(__file__).resolve()), "--build-only", str(root), "--folders", ",".join(folders)]
    depth = ["--blocks", str(args.blocks), "--encoder-layers", str(args.encoder_layers)]
    subprocess.run([*command, *depth], check=True, timeout=args.timeout)
    seconds: dict[str, float] = json.loads((root / BUILD_REPORT).read_text())
    return seconds


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'role':12} {'option':18} {'size':>11} {'ok':4} {'load s':>7} {'gen s':>7} {'(denoise':>8} {'decode)':>7} "
        f"{'wall s':>7} {'peak MiB':>9} {'decode+MiB':>10} {'frames':>7}  error"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        load = f"{row.load_seconds:7.1f}" if row.load_seconds is not None else f"{'-':>7}"
        frames = f"{row.frames}/{row.num_frames}" if row.num_frames else "-"
        print(
            f"{row.role:12} {row.option:18} {f'{row.width}x{row.height}x{row.num_frames}':>11} "
            f"{'yes' if row.ok else 'NO':4} {load} {row.generate_seconds:7.1f} {row.denoise_seconds:8.1f} "
            f"{row.decode_seconds:7.1f} {row.wall_seconds:7.1f} {row.peak_rss_mib:9.0f} "
            f"{row.decode_over_weights_mib:10.0f} {frames:>7}  {(row.error or '')[:160]}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--roles", default=",".join(ROLES), help=f"comma-separated, from {', '.join(ROLES + EXTRA_ROLES)}"
    )
    parser.add_argument("--options", default="baseline", help=f"comma-separated, from {', '.join(OPTIONS)}")
    parser.add_argument("--build-only", type=Path, metavar="DIR", help="build the folders into DIR and stop")
    parser.add_argument("--models", type=Path, metavar="DIR", help="reuse folders built into DIR (no build)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "full_width.json")
    parser.add_argument("--folders", default=",".join(DEFAULT_FOLDERS), help=f"to build, from {', '.join(BUILDERS)}")
    parser.add_argument("--blocks", type=int, default=Depth.blocks, help="transformer blocks (VACE: at least 2)")
    parser.add_argument("--encoder-layers", type=int, default=Depth.encoder_layers, help="text / image encoder layers")
    parser.add_argument("--width", type=int, default=None, help=f"default {DEFAULT_SIZE[0]} (vae_tiling: larger)")
    parser.add_argument("--height", type=int, default=None, help=f"default {DEFAULT_SIZE[1]}")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument(
        "--steps", default="", help="denoising steps: N for every role, or role=N,... over the defaults (DEFAULT_STEPS)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads per role (0: torch's default)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per role and option")
    # internal: one role in a child process
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--option", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--steps-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.size_given = args.width is not None or args.height is not None
    args.width, args.height = args.width or DEFAULT_SIZE[0], args.height or DEFAULT_SIZE[1]
    if args.steps_json:
        args.steps_for = json.loads(args.steps_json)
    else:
        args.steps_for = {role: DEFAULT_STEPS.get(role, 1) for role in ROLES + EXTRA_ROLES}
        for item in filter(None, args.steps.split(",")):
            role, _, steps = item.rpartition("=")
            for name in [role] if role else args.steps_for:
                args.steps_for[name] = int(steps)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    roles = [r for r in args.roles.split(",") if r]
    options = [o for o in args.options.split(",") if o]
    unknown = [r for r in roles if r not in ROLE_SPECS] + [o for o in options if o not in OPTIONS]
    if unknown:
        print(f"unknown roles or options: {', '.join(unknown)}", file=sys.stderr)
        return 2
    folders = tuple(f for f in args.folders.split(",") if f)
    started = time.perf_counter()
    geometry = {"width": args.width, "height": args.height, "frames": args.frames, "fps": args.fps}
    depth = Depth(args.blocks, args.encoder_layers)
    report: dict[str, Any] = {"geometry": geometry, "steps": args.steps_for, "depth": asdict(depth)}
    if args.build_only:
        seconds = build_folders(args.build_only, folders, depth)
        (args.build_only / BUILD_REPORT).write_text(json.dumps(seconds, indent=2) + "\n")
        print(f"built into {args.build_only} in {time.perf_counter() - started:.1f} s")
        return 0
    temporary: Path | None = None
    rows: list[Row] = []
    try:
        if args.models is None:
            temporary = Path(tempfile.mkdtemp(prefix="cinefuse-full-width-"))
            args.models = temporary
            report["build_seconds"] = build_in_child(args, temporary, folders)
        report["models"] = str(args.models)
        with tempfile.TemporaryDirectory(prefix="cinefuse-full-width-run-") as work:
            for option in options:
                for role in roles:
                    row = run_child(args, role, option, Path(work))
                    rows.append(row)
                    status = "ok" if row.ok else f"FAILED ({row.error})"
                    print(f"{role} [{option}] {status} in {row.wall_seconds:.1f} s", flush=True)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    report["rows"] = [asdict(row) for row in rows]
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    print()
    print_table(rows)
    if "build_seconds" in report:
        print(f"build {sum(report['build_seconds'].values()):.1f} s: {report['build_seconds']}")
    print(f"total {report['total_seconds']:.1f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if rows and all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
