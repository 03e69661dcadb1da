"""From a validated task to the engine's request (``engine.requests``): the output size
rule (explicit sizes kept; frame-image tasks follow the first image's aspect, or the last
image's when it is the only frame image, snapped to the model's five ratios at the task's
tier), seeds, the effective motion mode, and the task's
images handed over by role (``engine.inputs.TaskImages.of``).

Expected sizes are docs/api.md's size table.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from tests.factories import video_task

from cinefuse.engine.inputs import TaskImages
from cinefuse.engine.requests import generation_request, output_size
from cinefuse.media.frames import Frame
from cinefuse.models.registry import require_model
from cinefuse.schemas.tasks import SEED_MAX, ImageInput, VideoInferenceTask

CAPS = require_model("pixverse:1@3")
FIRST_URL = "https://images.example.com/first.png"
LAST_URL = "https://images.example.com/last.png"
REF_URLS = ("https://images.example.com/ref-a.png", "https://images.example.com/ref-b.png")


def image(width: int, height: int, value: int = 128) -> Frame:
    return np.full((height, width, 3), value, np.uint8)


def loader(frames: dict[str, Frame]) -> tuple[list[ImageInput], Any]:
    """A ``load`` for ``TaskImages.of`` that looks images up by value and records each call."""
    calls: list[ImageInput] = []

    def load(item: ImageInput) -> Frame:
        calls.append(item)
        return frames[item.value]

    return calls, load


def images_of(task: VideoInferenceTask, frames: dict[str, Frame]) -> TaskImages:
    _, load = loader(frames)
    return TaskImages.of(task, load)


def first_frame_task(resolution: str, width: int, height: int) -> tuple[VideoInferenceTask, TaskImages]:
    task = video_task(resolution=resolution, inputs={"frameImages": [FIRST_URL]})
    return task, images_of(task, {FIRST_URL: image(width, height)})


# ------------------------------------------------------------------------------ output size


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"width": 480, "height": 360}, (480, 360)),
        ({"width": 1080, "height": 1920}, (1080, 1920)),
        ({"resolution": "540p"}, (960, 540)),  # text to video: 16:9 at the tier
        ({"resolution": "1080p"}, (1920, 1080)),
    ],
)
def test_a_size_fixed_by_the_task_is_kept(fields: dict[str, Any], size: tuple[int, int]) -> None:
    raw: dict[str, Any] = {"resolution": None, **fields}
    task = video_task(**raw)
    assert output_size(task, CAPS, TaskImages()) == size
    request = generation_request(task, TaskImages(), task.seed)
    assert (request.width, request.height) == size


@pytest.mark.parametrize(
    ("resolution", "image_size", "size"),
    [
        ("540p", (1000, 1000), (540, 540)),
        ("540p", (400, 900), (540, 960)),  # 0.44 is nearest to 9:16
        ("540p", (900, 400), (960, 540)),
        ("360p", (1024, 768), (480, 360)),
        ("720p", (768, 1024), (720, 960)),
        ("720p", (1920, 1080), (1280, 720)),
        ("1080p", (3000, 3100), (1080, 1080)),
        ("360p", (4000, 300), (640, 360)),  # far beyond 16:9 still snaps to it
    ],
)
def test_a_frame_image_task_takes_the_first_images_aspect_at_its_tier(
    resolution: str, image_size: tuple[int, int], size: tuple[int, int]
) -> None:
    task, images = first_frame_task(resolution, *image_size)
    assert (task.width, task.height) == (None, None)  # decided on decode, not by the parser
    assert output_size(task, CAPS, images) == size
    request = generation_request(task, images, task.seed)
    assert (request.width, request.height) == size


@pytest.mark.parametrize("frame", ["last", -1])
@pytest.mark.parametrize(
    ("resolution", "image_size", "size"),
    [("360p", (1024, 768), (480, 360)), ("720p", (768, 1024), (720, 960)), ("540p", (900, 400), (960, 540))],
)
def test_a_last_frame_alone_decides_the_size(
    frame: str | int, resolution: str, image_size: tuple[int, int], size: tuple[int, int]
) -> None:
    """Regression (issue 20): a last-frame-only task was acknowledged, then failed at run time
    ("has neither a size nor a first frame image"). The contract: the size follows the input's aspect."""
    task = video_task(
        resolution=resolution,
        inputs={"frameImages": [{"image": LAST_URL, "frame": frame}], "referenceImages": [REF_URLS[0]]},
    )
    images = images_of(task, {LAST_URL: image(*image_size), REF_URLS[0]: image(300, 900)})
    assert (task.width, task.height) == (None, None) and images.first is None
    assert output_size(task, CAPS, images) == size
    request = generation_request(task, images, task.seed)
    assert (request.width, request.height) == size
    assert request.first_frame is None and request.last_frame is images.last


def test_with_both_frames_the_last_frame_and_reference_images_do_not_decide_the_size() -> None:
    task = video_task(
        resolution="540p",
        inputs={"frameImages": [{"image": LAST_URL, "frame": "last"}, FIRST_URL], "referenceImages": [REF_URLS[0]]},
    )
    images = images_of(task, {FIRST_URL: image(400, 900), LAST_URL: image(900, 400), REF_URLS[0]: image(900, 400)})
    assert output_size(task, CAPS, images) == (540, 960)


def test_without_a_size_or_a_frame_image_the_size_is_an_error() -> None:
    sized = video_task(inputs={"referenceImages": [REF_URLS[0]]})
    assert output_size(sized, CAPS, images_of(sized, {REF_URLS[0]: image(400, 400)})) == (640, 360)
    unsized = dataclasses.replace(sized, width=None, height=None)
    with pytest.raises(ValueError, match=unsized.task_uuid):
        output_size(unsized, CAPS, images_of(unsized, {REF_URLS[0]: image(400, 400)}))


# ------------------------------------------------------------------------ the rest of it


def test_the_request_carries_the_tasks_fields_and_the_given_seed() -> None:
    task = video_task(
        resolution="540p",
        duration=5,
        fps=24,
        negativePrompt="blurry, low quality",
        providerSettings={"pixverse": {"cameraMovement": "zoom_in", "style": "anime"}},
    )
    request = generation_request(task, TaskImages(), 4242)
    assert request.prompt == task.positive_prompt
    assert request.negative_prompt == "blurry, low quality"
    assert (request.fps, request.num_frames, request.duration) == (24, 120, 5.0)
    assert request.seed == 4242
    assert (request.camera_movement, request.style, request.effect) == ("zoom_in", "anime", None)
    assert (request.first_frame, request.last_frame, request.reference_images) == (None, None, ())


def test_each_result_uses_the_task_seed_plus_its_index_wrapping() -> None:
    task = video_task(seed=SEED_MAX - 1, numberResults=3)
    seeds = [generation_request(task, TaskImages(), task.result_seed(i)).seed for i in range(task.number_results)]
    assert seeds == [SEED_MAX - 1, SEED_MAX, 0]


@pytest.mark.parametrize(
    ("mode", "fields", "effective"),
    [
        ("fast", {"resolution": "540p", "duration": 5}, "fast"),
        ("fast", {"resolution": "720p", "duration": 8}, "normal"),  # fast is 5 s only
        ("fast", {"resolution": "1080p", "duration": 5}, "normal"),  # and never at 1080p
        ("fast", {"width": 1080, "height": 1920, "resolution": None}, "normal"),  # 1080p by size
        ("normal", {"resolution": "540p", "duration": 5}, "normal"),
    ],
)
def test_the_motion_mode_is_the_effective_one(mode: str, fields: dict[str, Any], effective: str) -> None:
    task = video_task(providerSettings={"pixverse": {"motionMode": mode}}, **fields)
    assert task.motion_mode == mode  # the task keeps what the client asked for
    assert generation_request(task, TaskImages(), task.seed).motion_mode == effective


# ------------------------------------------------------------------------- images by role


def test_images_are_handed_over_by_role_and_by_parameter() -> None:
    # The last frame is given first; the unpositioned image becomes the first frame.
    task = video_task(
        inputs={
            "frameImages": [{"image": LAST_URL, "frame": "last"}, FIRST_URL],
            "referenceImages": list(REF_URLS),
        }
    )
    frames = {
        FIRST_URL: image(400, 400, 10),
        LAST_URL: image(400, 400, 20),
        REF_URLS[0]: image(400, 400, 30),
        REF_URLS[1]: image(400, 400, 40),
    }
    calls, load = loader(frames)
    images = TaskImages.of(task, load)

    assert images.first is frames[FIRST_URL] and images.last is frames[LAST_URL]
    assert images.references == (frames[REF_URLS[0]], frames[REF_URLS[1]])
    assert sorted(c.value for c in calls) == sorted(frames)  # each image loaded exactly once
    assert {p: int(f[0, 0, 0]) for p, f in images.by_parameter.items()} == {
        "inputs.frameImages[0].image": 20,
        "inputs.frameImages[1]": 10,
        "inputs.referenceImages[0]": 30,
        "inputs.referenceImages[1]": 40,
    }

    request = generation_request(task, images, task.seed)
    assert request.first_frame is frames[FIRST_URL] and request.last_frame is frames[LAST_URL]
    assert request.reference_images == images.references
    assert (request.width, request.height) == (360, 360)  # the first image is square


def test_one_frame_image_is_the_first_frame_and_there_are_no_others() -> None:
    task = video_task(inputs={"frameImages": [FIRST_URL]})
    images = images_of(task, {FIRST_URL: image(640, 360)})
    assert images.first is not None and images.last is None and images.references == ()
    assert list(images.by_parameter) == ["inputs.frameImages[0]"]


def test_a_failing_load_propagates() -> None:
    task = video_task(inputs={"frameImages": [FIRST_URL]})

    def load(item: ImageInput) -> Frame:
        raise LookupError(item.parameter)

    with pytest.raises(LookupError, match=r"inputs\.frameImages\[0\]"):
        TaskImages.of(task, load)


@pytest.mark.parametrize(
    ("sound", "model", "wanted"),
    [
        ("auto", "cinefuse:ltx2@1", True),
        ("auto", "cinefuse:ltx2-distilled@1", True),
        ("auto", "pixverse:1@3", False),  # silent, as PixVerse's clips are
        ("always", "pixverse:1@3", True),
        ("always", "cinefuse:wan@1", True),  # a soundtrack the Wan engine leaves empty: no stream
        ("off", "cinefuse:ltx2@1", False),
    ],
)
def test_a_soundtrack_goes_with_the_request_where_cinefuse_sound_wants_one(
    sound: Any, model: str, wanted: bool
) -> None:
    task = video_task(model=model, width=640, height=360, duration=5, resolution=None)
    request = generation_request(task, TaskImages(), 1, sound)
    assert (request.soundtrack is not None) is wanted
    assert generation_request(task, TaskImages(), 1).soundtrack is None  # the default: off
