"""The stored form of a task: a validated ``VideoInferenceTask`` <-> the JSON in ``jobs.request``.

The record keeps the dataclass's field names, so rows written by earlier versions load
unchanged; keys this version does not know are ignored (a field that was dropped), and
fields a record lacks take their defaults (a field that was added).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cinefuse.schemas.tasks import FrameImage, ImageInput, VideoInferenceTask

_FIELDS = frozenset(f.name for f in dataclasses.fields(VideoInferenceTask))


def task_to_record(task: VideoInferenceTask) -> dict[str, Any]:
    """The JSON-safe record of ``task``, inverse of :func:`task_from_record`.

    Built by hand rather than with ``dataclasses.asdict``: this runs for every submission,
    and asdict's recursive deep copy costs more than the rest of it.
    """
    record = dict(task.__dict__)
    record["frame_images"] = [
        {"image": {"value": f.image.value, "parameter": f.image.parameter}, "position": f.position}
        for f in task.frame_images
    ]
    record["reference_images"] = [{"value": r.value, "parameter": r.parameter} for r in task.reference_images]
    return record


def task_from_record(record: dict[str, Any]) -> VideoInferenceTask:
    values = {k: v for k, v in record.items() if k in _FIELDS}
    values["frame_images"] = tuple(
        FrameImage(ImageInput(**item["image"]), item["position"]) for item in values.get("frame_images", ())
    )
    values["reference_images"] = tuple(ImageInput(**item) for item in values.get("reference_images", ()))
    return VideoInferenceTask(**values)
