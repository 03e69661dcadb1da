"""The LTX-2 engines on tiny real-class folders (loaded through the production code): text,
keyframes and an effect LoRA give exactly the requested clip; a camera movement loads its
LTX-2 camera-control LoRA (a video-only LoRA counts as LTX-2's by its folder name), and with a
first frame and the Canny IC-LoRA the preview engine's camera render steers stage 1 as a
reference video; the two-stage recipe runs both
stages (upsampling between them, the stage-2 LoRA on in stage 2 only); the sound is decoded
into the soundtrack, of the clip's duration, only when one is asked for; a cancel in
either stage stops there and never decodes; a folder missing a component's weights answers
``inferenceError`` naming the file."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.generation.neural.test_engines import Steps, picture, request, run, settings_for

from cinefuse.errors import InferenceError
from cinefuse.generation.base import GenerationInterrupted
from cinefuse.generation.neural.ltx2 import STAGE_2_ADAPTER, Ltx2DistilledEngine, Ltx2Engine
from cinefuse.media.audio import Soundtrack

STEPS = 2
#: A LoRA for the tiny LTX-2 transformer (it touches the audio attention: an LTX-2 LoRA).
LORA = "inflate"
#: Video-only LoRAs: one named as Lightricks publishes its camera LoRAs, one under a short name
#: with no ``lora.json`` (so nothing says it is LTX-2's rather than LTX-Video's).
DOLLY_IN = "LTX-2-19b-LoRA-Camera-Control-Dolly-In"
DOLLY_OUT = "camera-dolly-out"
CANNY = "LTX-2-19b-IC-LoRA-Canny-Control"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.generation.neural.tiny_ltx2 import build_ltx2, tiny_components, write_stage2_lora

    root = tmp_path_factory.mktemp("ltx2") / "models"
    root.mkdir()
    build_ltx2(root)
    build_ltx2(root, distilled=True)
    lora = root / "loras" / LORA
    lora.mkdir(parents=True)
    write_stage2_lora(tiny_components()["transformer"], lora / "lora.safetensors", seed=5, audio=True)
    (lora / "lora.json").write_text(json.dumps({"trigger_words": ["watercolor"]}))
    for seed, name in enumerate((DOLLY_IN, DOLLY_OUT, CANNY), start=7):
        (root / "loras" / name).mkdir()
        write_stage2_lora(tiny_components()["transformer"], root / "loras" / name / "w.safetensors", seed=seed)
    return root


@pytest.fixture(scope="module")
def engine(models: Path) -> Ltx2Engine:
    return Ltx2Engine(
        settings_for(models, data_dir="/tmp/cinefuse-ltx2", steps={"ltx2": STEPS, "ltx2_distilled": STEPS})
    )


class DecodeCalls:
    """Counts the video VAE decoder's calls and the latent upsampler's."""

    def __init__(self, engine: Ltx2Engine) -> None:
        self.decoder = 0
        self.upsampler = 0
        run(engine, request(width=64, height=64, num_frames=9))  # loaded
        for model in engine.cache.loaded():
            modules = model.modules()
            if "vae" in modules:
                modules["vae"].decoder.register_forward_hook(lambda *_: self._count("decoder"))
            if "latent_upsampler" in modules:
                modules["latent_upsampler"].register_forward_hook(lambda *_: self._count("upsampler"))

    def _count(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)


@pytest.fixture(scope="module")
def calls(engine: Ltx2Engine) -> DecodeCalls:
    return DecodeCalls(engine)


@pytest.mark.parametrize(
    "images",
    [
        {},
        {"first_frame": picture(1)},
        {"last_frame": picture(2)},
        {"first_frame": picture(1), "last_frame": picture(2)},
    ],
    ids=["text", "first_frame", "last_frame", "first_last"],
)
def test_each_request_gives_exactly_the_requested_clip(engine: Ltx2Engine, images: dict) -> None:
    steps = Steps()
    frames = run(engine, request(width=120, height=90, num_frames=16, fps=16, **images), steps)
    assert len(frames) == 16
    assert all(f.shape == (90, 120, 3) and f.dtype == np.uint8 for f in frames)
    assert steps.calls[-1][0] == steps.calls[-1][1]  # progress reached its total
    # Two stages: half the size, then the full size with the 3 published sigmas.
    (w1, h1, s1), (w2, h2, s2) = engine.last_run["stages"]
    assert (w1 * 2, h1 * 2, s1, s2) == (w2, h2, STEPS, 3)


def test_the_stage_2_lora_acts_in_stage_2_only_and_the_upsampler_runs_between(
    engine: Ltx2Engine, calls: DecodeCalls
) -> None:
    before = calls.upsampler
    run(engine, request(width=64, height=64, num_frames=9))
    assert calls.upsampler == before + 1
    assert engine.last_run["adapters"] == [[], [STAGE_2_ADAPTER]]


def test_an_effect_lora_acts_in_both_stages_with_its_trigger_words(engine: Ltx2Engine) -> None:
    plain = run(engine, request(width=64, height=64, num_frames=9))
    inflated = run(engine, request(width=64, height=64, num_frames=9, effect="balloon belly"))
    assert engine.last_run["loras"] == [LORA]
    assert [sorted(names) for names in engine.last_run["adapters"]] == [[LORA], sorted([LORA, STAGE_2_ADAPTER])]
    assert "watercolor" in engine.last_run["prompt"]
    assert len(inflated) == 9 and not all(np.array_equal(a, b) for a, b in zip(plain, inflated, strict=True))


def test_a_camera_movement_loads_its_ltx2_camera_lora(engine: Ltx2Engine) -> None:
    run(engine, request(width=64, height=64, num_frames=9, camera_movement="zoom_in"))
    assert engine.last_run["loras"] == [DOLLY_IN]
    assert engine.last_run["adapters"][0] == [DOLLY_IN] and "zooms in" in engine.last_run["prompt"]
    # The short-named one has LTX-Video's keys and nothing naming LTX-2: phrasing only.
    run(engine, request(width=64, height=64, num_frames=9, camera_movement="zoom_out"))
    assert engine.last_run["loras"] == [] and "zooms out" in engine.last_run["prompt"]


def test_a_first_frame_with_a_camera_move_is_steered_by_the_canny_edges_of_the_camera_render(
    engine: Ltx2Engine, models: Path
) -> None:
    asked = request(width=64, height=64, num_frames=9, first_frame=picture(3), camera_movement="zoom_in")
    tokens: list[int] = []

    def count(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        tokens.append(int(kwargs["hidden_states"].shape[1]))

    run(engine, asked)  # loaded
    transformer = next(m.modules()["transformer"] for m in engine.cache.loaded() if m.folder.name == "LTX-2")
    handle = transformer.register_forward_pre_hook(count, with_kwargs=True)
    try:
        guided = run(engine, asked)
        guided_tokens, tokens[:] = list(tokens), []
        run(engine, replace(asked, camera_movement=None))
    finally:
        handle.remove()
    # The reference video's tokens ride along with stage 1's (as many again: same size, same frames).
    assert guided_tokens[0] == 2 * tokens[0] and guided_tokens[-1] == tokens[-1]
    assert engine.last_run["guide"] is None
    run(engine, asked)
    assert engine.last_run["guide"] == CANNY
    # Stage 1 with the IC-LoRA (and the move's camera LoRA), stage 2 refines without it.
    (stage_1, stage_2) = [sorted(names) for names in engine.last_run["adapters"]]
    assert stage_1 == sorted([CANNY, DOLLY_IN]) and CANNY not in stage_2
    (w1, h1, _), _ = engine.last_run["stages"]
    assert engine.last_run["reference"] == (w1, h1, engine.last_run["plan"].frames)
    unguided_engine = Ltx2Engine(
        settings_for(models, data_dir="/tmp/cinefuse-ltx2", steps={"ltx2": STEPS}, motion_guide_strength=0)
    )
    unguided = run(unguided_engine, asked)
    assert unguided_engine.last_run["guide"] is None
    assert len(guided) == len(unguided) == 9
    assert not all(np.array_equal(a, b) for a, b in zip(guided, unguided, strict=True))
    # Text alone has no first frame to render the camera path on: no guide.
    run(engine, request(width=64, height=64, num_frames=9, camera_movement="zoom_in"))
    assert engine.last_run["guide"] is None


def test_canny_edges_are_white_on_black_where_the_picture_has_edges() -> None:
    from cinefuse.generation.neural.ltx2 import canny

    frame = np.zeros((32, 32, 3), np.uint8)
    frame[:, 16:] = 255
    edges = canny(frame)
    assert edges.shape == (32, 32, 3) and set(np.unique(edges)) == {0, 255}
    assert edges[:, 15:17].any() and not edges[:, :12].any() and not edges[:, 20:].any()


def test_the_reference_downscale_factor_comes_from_the_ic_loras_metadata(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from cinefuse.generation.neural.ltx2 import reference_downscale_factor

    save_file({"a": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    save_file({"a": torch.zeros(1)}, str(tmp_path / "half.safetensors"), metadata={"reference_downscale_factor": "2"})
    assert reference_downscale_factor(tmp_path / "plain.safetensors") == 1
    assert reference_downscale_factor(tmp_path / "half.safetensors") == 2


def test_the_sound_fills_the_soundtrack_with_the_clips_duration(engine: Ltx2Engine) -> None:
    soundtrack = Soundtrack()
    frames = run(engine, request(width=64, height=64, num_frames=24, fps=24, soundtrack=soundtrack))
    audio = soundtrack.audio
    assert len(frames) == 24 and audio is not None and audio.rate == 1600
    assert audio.samples.shape[0] == 2 and abs(audio.duration - 1.0) <= 1 / 24 + 0.05
    assert np.abs(audio.samples).max() > 0  # a waveform, not silence
    assert engine.last_run["sound"] is True


def test_no_soundtrack_no_audio_decode(engine: Ltx2Engine) -> None:
    run(engine, request(width=64, height=64, num_frames=9))  # loads the folder, when no test did
    vocoder = next(m.modules()["vocoder"] for m in engine.cache.loaded() if "vocoder" in m.modules())
    seen: list[int] = []
    handle = vocoder.register_forward_hook(lambda *_: seen.append(1))
    try:
        run(engine, request(width=64, height=64, num_frames=9))
    finally:
        handle.remove()
    assert seen == [] and engine.last_run["sound"] is False


@pytest.mark.parametrize("stop_at", [1, STEPS + 1], ids=["stage-1", "stage-2"])
def test_a_cancel_in_either_stage_stops_there_and_never_decodes(
    engine: Ltx2Engine, calls: DecodeCalls, stop_at: int
) -> None:
    decoded = calls.decoder
    steps = Steps(stop_at=stop_at)
    with pytest.raises(GenerationInterrupted):
        run(engine, request(width=64, height=64, num_frames=9, prompt="a boat at sea"), steps)
    assert [s for s, _ in steps.calls] == list(range(1, stop_at + 1))
    assert calls.decoder == decoded


def test_fast_mode_runs_the_distilled_folder_and_its_own_engine_too(engine: Ltx2Engine, models: Path) -> None:
    frames = run(engine, request(width=64, height=64, num_frames=9, motion_mode="fast"))
    assert len(frames) == 9 and engine.last_run["folder"] == "LTX-2-19b-distilled"
    assert engine.last_run["adapters"] == [[], []]  # no stage-2 LoRA: the distilled model needs none
    distilled = Ltx2DistilledEngine(engine.settings)
    assert len(run(distilled, request(width=64, height=64, num_frames=9))) == 9
    assert distilled.last_run["folder"] == "LTX-2-19b-distilled"


def test_references_and_edits_are_refused_naming_the_parameter(engine: Ltx2Engine) -> None:
    with pytest.raises(InferenceError) as refused:
        run(engine, request(reference_images=(picture(3),)))
    assert refused.value.parameter == "inputs.referenceImages"
    with pytest.raises(InferenceError) as refused:
        run(engine, request(control_video=(picture(3),), control_required=True))
    assert refused.value.parameter == "video"


def test_a_missing_component_names_the_file(models: Path, tmp_path: Path) -> None:
    broken = tmp_path / "models"
    broken.mkdir()
    folder = broken / "LTX-2"
    shutil.copytree(models / "LTX-2", folder)
    weights = next((folder / "vocoder").glob("*.safetensors"))
    weights.unlink()
    engine = Ltx2Engine(settings_for(broken, steps={"ltx2": STEPS}))
    with pytest.raises(InferenceError, match="vocoder"):
        run(engine, request(width=64, height=64, num_frames=9))


def test_same_seed_same_clip_and_sound(engine: Ltx2Engine) -> None:
    tracks = [Soundtrack(), Soundtrack()]
    first = run(engine, request(width=64, height=64, num_frames=9, seed=3, soundtrack=tracks[0]))
    second = run(engine, request(width=64, height=64, num_frames=9, seed=3, soundtrack=tracks[1]))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert tracks[0].audio is not None and tracks[1].audio is not None
    assert torch.equal(torch.from_numpy(tracks[0].audio.samples), torch.from_numpy(tracks[1].audio.samples))
