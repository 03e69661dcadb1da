"""``GET /v1/models``: what every model of this server accepts, as public JSON.

The web studio builds its form from this document, so it never offers a value the chosen
model refuses; any client may read it. It is public (no API key: it holds nothing but the
capabilities that ``docs/api.md`` documents) and the same for every caller, so it is built
once. It does not collide with the task endpoint: ``POST /v1`` is answered in front of
FastAPI (``api/rest.py``) and ``GET /v1`` is the WebSocket route.

Shape (camelCase, like the wire contract)::

    {"models": [<model>, ...],            # in the registry's order; the first is the default
     "limits": {"seed": {"min", "max"}, "ttl": {"min", "max"}, "safetyModes": [...],
                "framePositions": [...], "image": {"minSide", "maxSide", "maxBytes", "formats"}}}

Each ``<model>`` is :func:`model_json` of one ``ModelCapabilities`` value, with
``available`` (whether this server runs it now) and ``missing`` (when it does not: what to
run so that it does; ``api/availability.py``).
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi import APIRouter, Response

from cinefuse.api.availability import ModelAvailability, Snapshot
from cinefuse.media.images import MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE
from cinefuse.models.capabilities import ModelCapabilities
from cinefuse.models.registry import MODELS
from cinefuse.schemas.tasks import SAFETY_MODES, SEED_MAX, TTL_MAX, TTL_MIN

MODELS_PATH = "/v1/models"
#: Image formats ``imageUpload`` decodes (docs/api.md 3.1).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
FRAME_POSITIONS = ("first", "last")


def _range(bounds: tuple[int, int], default: int | None = None) -> dict[str, int]:
    out = {"min": bounds[0], "max": bounds[1]}
    if default is not None:
        out["default"] = default
    return out


def model_json(caps: ModelCapabilities, missing: str | None = None) -> dict[str, Any]:
    """One model's capabilities as JSON: every value a ``videoInference`` task may use with
    it, its defaults, and the cross-field limits ``schemas/parser.py`` enforces.

    ``sizes`` is resolution -> aspect -> ``{"width", "height"}`` (the first aspect is what
    ``resolution`` alone gives); ``engine`` is null when the model runs on the best engine
    the server has. Durations are seconds, as the task's ``duration`` takes them.
    ``missing``: why the server cannot run it now, and what to do (None: it can).
    """
    return {
        "id": caps.model_id,
        "description": caps.description,
        "available": missing is None,
        "missing": missing,
        "engine": caps.engine,
        "provider": caps.provider,
        "resolutions": list(caps.resolutions),
        "aspectRatios": list(caps.aspects),
        "sizes": {
            resolution: {aspect: {"width": w, "height": h} for aspect, (w, h) in caps.sizes[resolution].items()}
            for resolution in caps.resolutions
        },
        "durations": list(caps.durations),
        "durationsByResolution": {res: list(values) for res, values in caps.durations_by_resolution.items()},
        "fps": list(caps.fps),
        "defaults": {
            "resolution": caps.default_resolution,
            "aspectRatio": caps.aspects[0],
            "duration": caps.default_duration,
            "fps": caps.default_fps,
            "numberResults": caps.number_results[0],
            "outputFormat": caps.output_formats[0],
            "outputQuality": caps.default_output_quality,
            "outputType": caps.output_types[0],
            "deliveryMethod": caps.delivery_methods[0],
            "motionMode": "normal",
        },
        "cameraMovements": list(caps.camera_movements),
        "effects": list(caps.effects),
        "styles": list(caps.styles),
        "motionModes": list(caps.motion_modes),
        "outputFormats": list(caps.output_formats),
        "outputTypes": list(caps.output_types),
        "deliveryMethods": list(caps.delivery_methods),
        "outputQuality": _range(caps.output_quality, caps.default_output_quality),
        "numberResults": _range(caps.number_results),
        "promptLength": _range(caps.prompt_length),
        "maxFrameImages": caps.max_frame_images,
        "maxReferenceImages": caps.max_reference_images,
        # With cameraMovement, effect or style: these durations only, and sizes up to this tier.
        "providerSettingDurations": list(caps.provider_setting_durations),
        "providerSettingMaxResolution": caps.provider_setting_max_resolution,
        # motionMode "fast" silently becomes "normal" at these durations / resolutions.
        "fastModeExcludedDurations": list(caps.fast_mode_excluded_durations),
        "fastModeExcludedResolutions": list(caps.fast_mode_excluded_resolutions),
        "priceScale": caps.price_scale,
    }


def models_json(models: dict[str, ModelCapabilities] | None = None, snapshot: Snapshot | None = None) -> dict[str, Any]:
    """The whole ``GET /v1/models`` document for ``models`` (default: the registry), each
    model ``available`` as ``snapshot`` says (default: all)."""
    missing = snapshot or {}
    listed = MODELS if models is None else models
    return {
        "models": [model_json(caps, missing.get(caps.model_id)) for caps in listed.values()],
        "limits": {
            "seed": {"min": 0, "max": SEED_MAX},
            "ttl": {"min": TTL_MIN, "max": TTL_MAX},
            "safetyModes": list(SAFETY_MODES),
            "framePositions": list(FRAME_POSITIONS),
            "image": {
                "minSide": MIN_SIDE,
                "maxSide": MAX_SIDE,
                "maxBytes": MAX_IMAGE_BYTES,
                "formats": list(IMAGE_FORMATS),
            },
        },
    }


def models_router(
    models: dict[str, ModelCapabilities] | None = None, availability: ModelAvailability | None = None
) -> APIRouter:
    """The router answering ``GET /v1/models`` with :func:`models_json` of ``models``, as
    ``availability`` says now (default: every model available)."""
    router = APIRouter()
    availability = availability or ModelAvailability.everything()
    built: dict[str, Any] = {"snapshot": None, "body": b""}
    lock = threading.Lock()

    def body() -> bytes:
        snapshot = availability.snapshot()
        with lock:
            if built["snapshot"] is not snapshot:  # a new snapshot: rebuild the document once
                built["body"] = orjson.dumps(models_json(models, snapshot))
                built["snapshot"] = snapshot
            return bytes(built["body"])

    @router.get(
        MODELS_PATH,
        tags=["models"],
        summary="Model capabilities",
        description="Every model this server answers for, with the values and limits a videoInference task "
        "may use with it, and whether this server can run it now. Public: no API key needed.",
        response_class=Response,
    )
    def list_models() -> Response:
        # A plain endpoint: a fresh snapshot reads the weights folders, in the thread pool.
        # Revalidated on every use: a restarted server with other models is seen at once.
        return Response(body(), media_type="application/json", headers={"Cache-Control": "no-cache"})

    return router
