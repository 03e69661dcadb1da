"""The stored task (``jobs.codec``): a validated ``VideoInferenceTask`` survives the trip to
the JSON of ``jobs.request`` and back, including its frame and reference images; records
written by other versions load (an unknown key is ignored, a missing field with a default
takes it). Also through a real job store, whose column is JSON on both backends.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from tests.factories import new_job, video_task

from cinefuse.jobs.codec import task_from_record, task_to_record
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.schemas.tasks import FrameImage, ImageInput, VideoInferenceTask

IMAGE_UUID = "0b4e3a52-9d43-4f0e-8a3c-1f2d3c4b5a69"


def rich_task() -> VideoInferenceTask:
    """A task that sets every kind of field: images of each role, nested settings, options."""
    return video_task(
        resolution="540p",
        duration=5,
        fps=24,
        numberResults=3,
        negativePrompt="blurry",
        outputFormat="WEBM",
        outputQuality=80,
        webhookURL="https://hooks.example.com/x?token=1",
        uploadEndpoint="https://bucket.example.com/put?sig=abc",
        ttl=3_600,
        includeCost=True,
        safety={"mode": "full", "checkInputs": True, "tolerance": True},
        inputs={
            "frameImages": [{"image": "https://images.example.com/last.png", "frame": "last"}, IMAGE_UUID],
            "referenceImages": ["https://images.example.com/ref.png", IMAGE_UUID],
        },
        providerSettings={"pixverse": {"cameraMovement": "zoom_in", "style": "clay", "motionMode": "fast"}},
    )


def through_json(record: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(record))
    return loaded


def test_a_task_with_images_round_trips_through_json() -> None:
    task = rich_task()
    assert task.frame_images == (
        FrameImage(ImageInput("https://images.example.com/last.png", "inputs.frameImages[0].image"), "last"),
        FrameImage(ImageInput(IMAGE_UUID, "inputs.frameImages[1]"), "first"),
    )
    record = task_to_record(task)
    assert task_from_record(through_json(record)) == task
    assert task_from_record(record) == task


def test_the_record_is_plain_json_with_the_fields_names() -> None:
    task = rich_task()
    record = through_json(task_to_record(task))
    assert record["task_uuid"] == task.task_uuid
    assert record["frame_images"] == [
        {"image": {"value": "https://images.example.com/last.png", "parameter": "inputs.frameImages[0].image"},
         "position": "last"},
        {"image": {"value": IMAGE_UUID, "parameter": "inputs.frameImages[1]"}, "position": "first"},
    ]  # fmt: skip
    assert record["reference_images"] == [
        {"value": "https://images.example.com/ref.png", "parameter": "inputs.referenceImages[0]"},
        {"value": IMAGE_UUID, "parameter": "inputs.referenceImages[1]"},
    ]
    assert (record["motion_mode"], record["safety_mode"], record["output_format"]) == ("fast", "full", "WEBM")


def test_a_plain_task_round_trips() -> None:
    task = video_task()
    assert task.frame_images == () and task.reference_images == ()
    assert task_from_record(through_json(task_to_record(task))) == task


def test_encoding_does_not_change_the_task() -> None:
    task = rich_task()
    record = task_to_record(task)
    record["frame_images"].clear()
    record["positive_prompt"] = "changed"
    assert task.positive_prompt != "changed" and len(task.frame_images) == 2


def test_a_record_from_an_older_version_with_an_extra_key_loads() -> None:
    task = rich_task()
    record = through_json(task_to_record(task))
    record["task_type"] = "videoInference"
    record["legacy_priority"] = {"level": 3}
    assert task_from_record(record) == task


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("motion_mode", "normal"),
        ("safety_mode", "none"),
        ("safety_check_inputs", False),
        ("include_cost", False),
        ("ttl", None),
        ("webhook_url", None),
        ("frame_images", ()),
        ("reference_images", ()),
        ("negative_prompt", None),
        ("safety_tolerance", False),
    ],
)
def test_a_record_missing_a_field_with_a_default_loads_with_the_default(field: str, default: Any) -> None:
    task = rich_task()
    record = through_json(task_to_record(task))
    del record[field]
    loaded = task_from_record(record)
    assert getattr(loaded, field) == default
    assert getattr(task, field) != default  # the record really lost something
    assert loaded == dataclasses.replace(task, **{field: default})  # and nothing else


def test_a_record_missing_a_required_field_is_refused() -> None:
    record = through_json(task_to_record(video_task()))
    del record["positive_prompt"]
    with pytest.raises(TypeError, match="positive_prompt"):
        task_from_record(record)


def test_the_job_store_keeps_the_task_exactly(repo: JobStore) -> None:
    key_id = repo.keys.ensure(["k"])[hash_key("k")]
    job = dataclasses.replace(new_job(key_id), task=rich_task())
    repo.jobs.insert([job])
    claim = repo.leases.claim(job.id, "worker", 30.0)
    assert claim is not None
    assert claim.task == job.task
