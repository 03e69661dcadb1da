"""Every rule of docs/api.md section 3.2 (videoInference, model ``pixverse:1@3``), one row each.

Each negative row sends a task breaking exactly one rule to ``parse_task`` and checks the
error ``code`` and ``parameter`` (and ``allowedValues`` where docs/api.md's enums apply); the
positive tests pin defaults and normalisation. Enum lists and the size table are copied
from docs/api.md here on purpose, not imported from ``cinefuse.models``: the test is the
spec's side of the contract.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace
from typing import Any

import pytest

from cinefuse.errors import RequestError
from cinefuse.models.pixverse import PIXVERSE_V45
from cinefuse.schemas.parser import parse_task
from cinefuse.schemas.tasks import SEED_MAX, FrameImage, VideoInferenceTask

MODEL = "pixverse:1@3"
#: Every model id the server answers for (docs/api.md, "Models"), sorted.
ALL_MODELS = sorted(
    [
        MODEL,
        "cinefuse:preview@1",
        "cinefuse:wan@1",
        "cinefuse:wan2.2-ti2v@1",
        "cinefuse:wan2.2-a14b@1",
        "cinefuse:ltx-distilled@1",
        "cinefuse:hunyuanvideo1.5@1",
        "cinefuse:ltx2@1",
        "cinefuse:ltx2-distilled@1",
    ]
)
TASK_UUID = "6f1c2e9a-3b4d-4c5e-8f60-718293a4b5c6"
IMG = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"  # an image UUID (parse_task does not look it up)
IMG2 = "https://images.example.com/last.png"
DROP = object()  # sentinel: remove the field

RESOLUTIONS = ["360p", "540p", "720p", "1080p"]
#: docs/api.md "Sizes": resolution -> [16:9, 4:3, 1:1, 3:4, 9:16]
SIZE_TABLE = {
    "360p": [(640, 360), (480, 360), (360, 360), (360, 480), (360, 640)],
    "540p": [(960, 540), (720, 540), (540, 540), (540, 720), (540, 960)],
    "720p": [(1280, 720), (960, 720), (720, 720), (720, 960), (720, 1280)],
    "1080p": [(1920, 1080), (1440, 1080), (1080, 1080), (1080, 1440), (1080, 1920)],
}
ALL_SIZES = [(res, w, h) for res, sizes in SIZE_TABLE.items() for (w, h) in sizes]
CAMERA_MOVEMENTS = [
    "horizontal_left",
    "horizontal_right",
    "vertical_up",
    "vertical_down",
    "zoom_in",
    "zoom_out",
    "auto_camera",
    "crane_up",
    "quickly_zoom_in",
    "quickly_zoom_out",
    "smooth_zoom_in",
    "camera_rotation",
    "robo_arm",
    "super_dolly_out",
    "whip_pan",
    "hitchcock",
    "left_follow",
    "right_follow",
    "pan_left",
    "pan_right",
    "fix_bg",
]
EFFECTS = [
    "bikini up",
    "the tigers touch",
    "jiggle jiggle",
    "hug your love",
    "kiss me ai",
    "subject 3 fever",
    "fin-tastic mermaid",
    "lets ymca",
    "skeleton dance",
    "kungfu club",
    "boom drop",
    "vroom vroom step",
    "creepy devil smile",
    "pubg winner hit",
    "360 microwave",
    "eye zoom challenge",
    "muscle surge",
    "punch face",
    "balloon belly",
    "kiss kiss",
]
STYLES = ["anime", "3d_animation", "clay", "comic", "cyberpunk"]
MOTION_MODES = ["normal", "fast"]
PS = "providerSettings.pixverse"


def task(**fields: Any) -> dict[str, Any]:
    """A valid minimal text-to-video task, with ``fields`` set (``DROP`` removes one)."""
    raw: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": TASK_UUID,
        "model": MODEL,
        "positivePrompt": "a paper boat drifting down a rainy street",
    }
    for name, value in fields.items():
        if value is DROP:
            raw.pop(name, None)
        else:
            raw[name] = value
    return raw


def pix(**settings: Any) -> dict[str, Any]:
    return {"pixverse": settings}


def accept(raw: dict[str, Any]) -> VideoInferenceTask:
    parsed = parse_task(copy.deepcopy(raw))
    assert isinstance(parsed, VideoInferenceTask)
    return parsed


def reject(raw: dict[str, Any]) -> RequestError:
    with pytest.raises(RequestError) as info:
        parse_task(copy.deepcopy(raw))
    return info.value


# ---------------------------------------------------------------------------- one broken rule per row

#: (id, task, code, parameter, allowedValues or None when not checked)
# fmt: off
REJECTIONS: list[tuple[str, dict[str, Any], str, str, list[Any] | None]] = [
    # taskUUID
    ("taskUUID-missing", task(taskUUID=DROP), "missingTaskUUID", "taskUUID", None),
    ("taskUUID-null", task(taskUUID=None), "missingTaskUUID", "taskUUID", None),
    ("taskUUID-garbage", task(taskUUID="not-a-uuid"), "invalidTaskUUID", "taskUUID", None),
    ("taskUUID-v1", task(taskUUID=str(uuid.uuid1())), "invalidTaskUUID", "taskUUID", None),
    ("taskUUID-v5", task(taskUUID=str(uuid.uuid5(uuid.NAMESPACE_DNS, "x"))), "invalidTaskUUID", "taskUUID", None),
    ("taskUUID-hex", task(taskUUID=uuid.UUID(TASK_UUID).hex), "invalidTaskUUID", "taskUUID", None),
    ("taskUUID-braces", task(taskUUID="{" + TASK_UUID + "}"), "invalidTaskUUID", "taskUUID", None),
    ("taskUUID-int", task(taskUUID=42), "invalidTaskUUID", "taskUUID", None),
    ("taskUUID-empty", task(taskUUID=""), "invalidTaskUUID", "taskUUID", None),
    # model
    ("model-missing", task(model=DROP), "missingModel", "model", None),
    ("model-other", task(model="pixverse:1@2"), "unsupportedModel", "model", ALL_MODELS),
    ("model-empty", task(model=""), "unsupportedModel", "model", ALL_MODELS),
    ("model-int", task(model=1), "invalidModel", "model", None),
    # prompts
    ("prompt-missing", task(positivePrompt=DROP), "missingPositivePrompt", "positivePrompt", None),
    ("prompt-null", task(positivePrompt=None), "missingPositivePrompt", "positivePrompt", None),
    ("prompt-1-char", task(positivePrompt="a"), "invalidPositivePrompt", "positivePrompt", None),
    ("prompt-empty", task(positivePrompt=""), "invalidPositivePrompt", "positivePrompt", None),
    ("prompt-2049", task(positivePrompt="x" * 2049), "invalidPositivePrompt", "positivePrompt", None),
    ("prompt-int", task(positivePrompt=12345), "invalidPositivePrompt", "positivePrompt", None),
    ("prompt-list", task(positivePrompt=["a cat"]), "invalidPositivePrompt", "positivePrompt", None),
    ("prompt-spaces", task(positivePrompt="   "), "invalidPositivePrompt", "positivePrompt", None),
    ("prompt-white-space", task(positivePrompt="\t\n \u00a0\u3000\ufeff"), "invalidPositivePrompt",
     "positivePrompt", None),
    ("negative-1-char", task(negativePrompt="b"), "invalidNegativePrompt", "negativePrompt", None),
    ("negative-2049", task(negativePrompt="n" * 2049), "invalidNegativePrompt", "negativePrompt", None),
    ("negative-bool", task(negativePrompt=True), "invalidNegativePrompt", "negativePrompt", None),
    # width / height / resolution
    ("width-alone", task(width=1280), "incompatibleParameters", "height", None),
    ("height-alone", task(height=720), "incompatibleParameters", "width", None),
    ("size-not-in-table", task(width=1000, height=1000), "unsupportedDimensions", "width", None),
    ("size-swapped-aspect", task(width=1280, height=1280), "unsupportedDimensions", "width", None),
    ("size-mixed-tiers", task(width=1280, height=540), "unsupportedDimensions", "width", None),
    ("width-string", task(width="1280", height=720), "invalidWidth", "width", None),
    ("height-float", task(width=1280, height=720.5), "invalidHeight", "height", None),
    ("width-zero", task(width=0, height=720), "invalidWidth", "width", None),
    ("width-negative", task(width=-1280, height=720), "invalidWidth", "width", None),
    ("width-bool", task(width=True, height=720), "invalidWidth", "width", None),
    ("size-with-resolution", task(width=1280, height=720, resolution="720p"), "incompatibleParameters",
     "resolution", None),
    ("size-with-frames", task(width=1280, height=720, inputs={"frameImages": [IMG]}), "incompatibleParameters",
     "width", None),
    ("size-with-legacy-frames", task(width=1280, height=720, frameImages=[IMG]), "incompatibleParameters",
     "width", None),
    ("resolution-4k", task(resolution="4k"), "unsupportedResolution", "resolution", RESOLUTIONS),
    ("resolution-upper", task(resolution="720P"), "unsupportedResolution", "resolution", RESOLUTIONS),
    ("resolution-int", task(resolution=720), "invalidResolution", "resolution", None),
    # duration / fps
    ("duration-6", task(duration=6), "unsupportedDuration", "duration", [5, 8]),
    ("duration-5.5", task(duration=5.5), "unsupportedDuration", "duration", [5, 8]),
    ("duration-string", task(duration="5"), "invalidDuration", "duration", None),
    ("duration-bool", task(duration=True), "invalidDuration", "duration", None),
    ("duration-8-at-1080p", task(duration=8, resolution="1080p"), "unsupportedDuration", "duration", [5]),
    ("duration-8-at-1920x1080", task(duration=8, width=1920, height=1080), "unsupportedDuration", "duration",
     [5]),
    ("duration-8-at-1080x1920", task(duration=8, width=1080, height=1920), "unsupportedDuration", "duration",
     [5]),
    ("fps-30", task(fps=30), "unsupportedFps", "fps", [16, 24]),
    ("fps-string", task(fps="24"), "invalidFps", "fps", None),
    ("fps-bool", task(fps=True), "invalidFps", "fps", None),
    # seed / numberResults
    ("seed-negative", task(seed=-1), "invalidSeed", "seed", None),
    ("seed-too-big", task(seed=2_147_483_648), "invalidSeed", "seed", None),
    ("seed-fraction", task(seed=1.5), "invalidSeed", "seed", None),
    ("seed-bool", task(seed=True), "invalidSeed", "seed", None),
    ("seed-string", task(seed="42"), "invalidSeed", "seed", None),
    ("numberResults-0", task(numberResults=0), "invalidNumberResults", "numberResults", None),
    ("numberResults-5", task(numberResults=5), "invalidNumberResults", "numberResults", None),
    ("numberResults-string", task(numberResults="2"), "invalidNumberResults", "numberResults", None),
    ("numberResults-fraction", task(numberResults=2.5), "invalidNumberResults", "numberResults", None),
    # output
    ("outputType-base64", task(outputType="base64Data"), "unsupportedOutputType", "outputType", ["URL"]),
    ("outputType-int", task(outputType=1), "invalidOutputType", "outputType", None),
    ("outputFormat-gif", task(outputFormat="GIF"), "unsupportedOutputFormat", "outputFormat",
     ["MP4", "WEBM", "MOV"]),
    ("outputFormat-list", task(outputFormat=["MP4"]), "invalidOutputFormat", "outputFormat", None),
    ("outputQuality-19", task(outputQuality=19), "invalidOutputQuality", "outputQuality", None),
    ("outputQuality-100", task(outputQuality=100), "invalidOutputQuality", "outputQuality", None),
    ("outputQuality-string", task(outputQuality="95"), "invalidOutputQuality", "outputQuality", None),
    ("outputQuality-fraction", task(outputQuality=50.5), "invalidOutputQuality", "outputQuality", None),
    ("outputQuality-bool", task(outputQuality=True), "invalidOutputQuality", "outputQuality", None),
    ("deliveryMethod-sync", task(deliveryMethod="sync"), "unsupportedDeliveryMethod", "deliveryMethod", ["async"]),
    ("deliveryMethod-bool", task(deliveryMethod=False), "invalidDeliveryMethod", "deliveryMethod", None),
    # webhookURL / uploadEndpoint
    ("webhook-ftp", task(webhookURL="ftp://example.com/hook"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-garbage", task(webhookURL="not a url"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-no-host", task(webhookURL="http://"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-no-host-path", task(webhookURL="https:///hook"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-space", task(webhookURL="https://exa mple.com/hook"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-javascript", task(webhookURL="javascript:alert(1)"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-int", task(webhookURL=80), "invalidWebhookURL", "webhookURL", None),
    ("webhook-control-char", task(webhookURL="https://example.com/a\x00b"), "invalidWebhookURL", "webhookURL",
     None),
    ("webhook-del", task(webhookURL="https://example.com/\x7f"), "invalidWebhookURL", "webhookURL", None),
    ("webhook-bad-a-label", task(webhookURL="https://xn--zz.example.com/"), "invalidWebhookURL", "webhookURL",
     None),
    ("webhook-unicode-host", task(webhookURL="https://b\u00fccher.example/"), "invalidWebhookURL", "webhookURL",
     None),
    ("webhook-userinfo", task(webhookURL="https://user:pw@example.com/"), "invalidWebhookURL", "webhookURL",
     None),
    ("webhook-port-0", task(webhookURL="https://example.com:0/"), "invalidWebhookURL", "webhookURL", None),
    ("upload-port-too-big", task(uploadEndpoint="https://example.com:65536/"), "invalidUploadEndpoint",
     "uploadEndpoint", None),
    ("upload-bad-ipv4", task(uploadEndpoint="http://10.0.0.256/"), "invalidUploadEndpoint", "uploadEndpoint", None),
    ("webhook-too-long", task(webhookURL="https://example.com/" + "a" * 2100), "invalidWebhookURL",
     "webhookURL", None),
    ("upload-ftp", task(uploadEndpoint="ftp://bucket.example.com/key"), "invalidUploadEndpoint",
     "uploadEndpoint", None),
    ("upload-garbage", task(uploadEndpoint="s3 bucket please"), "invalidUploadEndpoint", "uploadEndpoint", None),
    ("upload-object", task(uploadEndpoint={"url": "https://x.example"}), "invalidUploadEndpoint",
     "uploadEndpoint", None),
    # ttl / includeCost
    ("ttl-59", task(ttl=59), "invalidTtl", "ttl", None),
    ("ttl-negative", task(ttl=-1), "invalidTtl", "ttl", None),
    ("ttl-string", task(ttl="3600"), "invalidTtl", "ttl", None),
    ("ttl-fraction", task(ttl=60.5), "invalidTtl", "ttl", None),
    ("includeCost-yes", task(includeCost="yes"), "invalidIncludeCost", "includeCost", None),
    ("includeCost-1", task(includeCost=1), "invalidIncludeCost", "includeCost", None),
    # safety
    ("safety-unknown-key", task(safety={"checkContent": True, "level": 3}), "unknownParameter", "safety.level",
     None),
    ("safety-mode-invalid", task(safety={"mode": "strict"}), "unsupportedSafetyMode", "safety.mode",
     ["none", "fast", "full"]),
    ("safety-mode-int", task(safety={"mode": 1}), "invalidSafetyMode", "safety.mode", None),
    ("safety-checkContent-string", task(safety={"checkContent": "yes"}), "invalidCheckContent",
     "safety.checkContent", None),
    ("safety-checkInputs-int", task(safety={"checkInputs": 1}), "invalidCheckInputs", "safety.checkInputs", None),
    ("safety-tolerance-string", task(safety={"tolerance": "high"}), "invalidTolerance", "safety.tolerance", None),
    ("safety-not-object", task(safety="fast"), "invalidSafety", "safety", None),
    ("safety-list", task(safety=[{"mode": "fast"}]), "invalidSafety", "safety", None),
    # inputs.frameImages
    ("frames-empty", task(inputs={"frameImages": []}), "invalidFrameImages", "inputs.frameImages", None),
    ("frames-3", task(inputs={"frameImages": [IMG, IMG, IMG]}), "invalidFrameImages", "inputs.frameImages", None),
    ("frames-string", task(inputs={"frameImages": IMG}), "invalidFrameImages", "inputs.frameImages", None),
    ("frames-bad-position", task(inputs={"frameImages": [{"image": IMG, "frame": "first"},
                                                          {"image": IMG2, "frame": "middle"}]}),
     "invalidFramePosition", "inputs.frameImages[1].frame", ["first", "last", 0, -1]),
    ("frames-position-1", task(inputs={"frameImages": [{"image": IMG, "frame": 1}]}),
     "invalidFramePosition", "inputs.frameImages[0].frame", ["first", "last", 0, -1]),
    ("frames-position-bool", task(inputs={"frameImages": [{"image": IMG, "frame": False}]}),
     "invalidFramePosition", "inputs.frameImages[0].frame", ["first", "last", 0, -1]),
    ("frames-position-upper", task(inputs={"frameImages": [{"image": IMG, "frame": "FIRST"}]}),
     "invalidFramePosition", "inputs.frameImages[0].frame", ["first", "last", 0, -1]),
    ("frames-same-position", task(inputs={"frameImages": [{"image": IMG, "frame": "first"},
                                                           {"image": IMG2, "frame": 0}]}),
     "incompatibleParameters", "inputs.frameImages[1].frame", None),
    ("frames-both-last", task(inputs={"frameImages": [{"image": IMG, "frame": -1},
                                                       {"image": IMG2, "frame": "last"}]}),
     "incompatibleParameters", "inputs.frameImages[1].frame", None),
    ("frames-item-int", task(inputs={"frameImages": [42]}), "invalidImage", "inputs.frameImages[0]", None),
    ("frames-item-empty", task(inputs={"frameImages": [""]}), "invalidImage", "inputs.frameImages[0]", None),
    ("frames-item-null", task(inputs={"frameImages": [IMG, None]}), "invalidImage", "inputs.frameImages[1]", None),
    ("frames-item-0", task(inputs={"frameImages": ["0"]}), "invalidImage", "inputs.frameImages[0]", None),
    ("frames-item-bad-base64", task(inputs={"frameImages": ["aGVsbG8"]}), "invalidImage", "inputs.frameImages[0]",
     None),
    ("frames-item-ftp", task(inputs={"frameImages": ["ftp://example.com/a.png"]}), "invalidImage",
     "inputs.frameImages[0]", None),
    ("frames-item-url-space", task(inputs={"frameImages": ["https://example.com/a b.png"]}), "invalidImage",
     "inputs.frameImages[0]", None),
    ("refs-item-data-uri-text", task(inputs={"referenceImages": ["data:text/plain;base64,aGk="]}), "invalidImage",
     "inputs.referenceImages[0]", None),
    ("frames-object-no-image", task(inputs={"frameImages": [{"frame": "first"}]}), "missingImage",
     "inputs.frameImages[0].image", None),
    ("frames-object-image-int", task(inputs={"frameImages": [{"image": 7, "frame": "first"}]}), "invalidImage",
     "inputs.frameImages[0].image", None),
    ("frames-object-image-and-inputImage", task(inputs={"frameImages": [{"image": IMG, "inputImage": IMG2}]}),
     "incompatibleParameters", "inputs.frameImages[0].inputImage", None),
    ("frames-object-unknown-key", task(inputs={"frameImages": [{"image": IMG, "frame": "first", "weight": 1}]}),
     "unknownParameter", "inputs.frameImages[0].weight", None),
    # inputs.referenceImages
    ("refs-4", task(inputs={"referenceImages": [IMG, IMG, IMG, IMG]}), "invalidReferenceImages",
     "inputs.referenceImages", None),
    ("refs-empty", task(inputs={"referenceImages": []}), "invalidReferenceImages", "inputs.referenceImages", None),
    ("refs-item-int", task(inputs={"referenceImages": [IMG, 5]}), "invalidImage", "inputs.referenceImages[1]",
     None),
    ("refs-item-frame", task(inputs={"referenceImages": [{"image": IMG, "frame": "first"}]}), "unknownParameter",
     "inputs.referenceImages[0].frame", None),
    # inputs object
    ("inputs-unknown-key", task(inputs={"maskImage": IMG}), "unknownParameter", "inputs.maskImage", None),
    ("inputs-not-object", task(inputs=[IMG]), "invalidInputs", "inputs", None),
    # legacy top-level forms
    ("legacy-frames-3", task(frameImages=[IMG, IMG, IMG]), "invalidFrameImages", "frameImages", None),
    ("legacy-frames-bad-position", task(frameImages=[{"inputImage": IMG, "frame": "middle"}]),
     "invalidFramePosition", "frameImages[0].frame", ["first", "last", 0, -1]),
    ("legacy-refs-4", task(referenceImages=[IMG, IMG, IMG, IMG]), "invalidReferenceImages", "referenceImages",
     None),
    ("frames-both-forms", task(frameImages=[IMG], inputs={"frameImages": [IMG2]}), "incompatibleParameters",
     "frameImages", None),
    ("refs-both-forms", task(referenceImages=[IMG], inputs={"referenceImages": [IMG2]}), "incompatibleParameters",
     "referenceImages", None),
    # providerSettings enums
    ("camera-invalid", task(providerSettings=pix(cameraMovement="spin_around")), "unsupportedCameraMovement",
     f"{PS}.cameraMovement", CAMERA_MOVEMENTS),
    ("camera-case", task(providerSettings=pix(cameraMovement="Zoom_In")), "unsupportedCameraMovement",
     f"{PS}.cameraMovement", CAMERA_MOVEMENTS),
    ("camera-int", task(providerSettings=pix(cameraMovement=3)), "invalidCameraMovement", f"{PS}.cameraMovement",
     None),
    ("effect-invalid", task(providerSettings=pix(effect="moonwalk")), "unsupportedEffect", f"{PS}.effect", EFFECTS),
    ("effect-underscored", task(providerSettings=pix(effect="kiss_kiss")), "unsupportedEffect", f"{PS}.effect",
     EFFECTS),
    ("style-invalid", task(providerSettings=pix(style="watercolor")), "unsupportedStyle", f"{PS}.style", STYLES),
    ("style-list", task(providerSettings=pix(style=["anime"])), "invalidStyle", f"{PS}.style", None),
    ("motion-invalid", task(providerSettings=pix(motionMode="slow")), "unsupportedMotionMode", f"{PS}.motionMode",
     MOTION_MODES),
    ("motion-bool", task(providerSettings=pix(motionMode=True)), "invalidMotionMode", f"{PS}.motionMode", None),
    ("providerSettings-not-object", task(providerSettings="pixverse"), "invalidProviderSettings",
     "providerSettings", None),
    ("pixverse-not-object", task(providerSettings={"pixverse": "zoom_in"}), "invalidPixverse", PS, None),
    # cross-field rules of providerSettings
    ("camera-and-effect", task(providerSettings=pix(cameraMovement="zoom_in", effect="kiss kiss")),
     "incompatibleParameters", f"{PS}.effect", None),
    ("camera-duration-8", task(duration=8, providerSettings=pix(cameraMovement="zoom_in")), "unsupportedDuration",
     "duration", [5]),
    ("effect-duration-8", task(duration=8, providerSettings=pix(effect="boom drop")), "unsupportedDuration",
     "duration", [5]),
    ("style-duration-8", task(duration=8, providerSettings=pix(style="clay")), "unsupportedDuration", "duration",
     [5]),
    ("camera-1080p", task(resolution="1080p", providerSettings=pix(cameraMovement="whip_pan")),
     "unsupportedResolution", "resolution", ["360p", "540p", "720p"]),
    ("effect-1080p", task(resolution="1080p", providerSettings=pix(effect="kiss me ai")), "unsupportedResolution",
     "resolution", ["360p", "540p", "720p"]),
    ("style-1080p", task(resolution="1080p", providerSettings=pix(style="anime")), "unsupportedResolution",
     "resolution", ["360p", "540p", "720p"]),
    ("style-1080p-frames", task(resolution="1080p", inputs={"frameImages": [IMG]}, providerSettings=pix(
        style="anime")), "unsupportedResolution", "resolution", ["360p", "540p", "720p"]),
    ("camera-1920x1080", task(width=1920, height=1080, providerSettings=pix(cameraMovement="zoom_out")),
     "unsupportedDimensions", "width", None),
    ("effect-1080x1080", task(width=1080, height=1080, providerSettings=pix(effect="punch face")),
     "unsupportedDimensions", "width", None),
    ("style-1080x1920", task(width=1080, height=1920, providerSettings=pix(style="comic")),
     "unsupportedDimensions", "width", None),
    # unknown fields at every level
    ("unknown-top", task(steps=30), "unknownParameter", "steps", None),
    ("unknown-top-CFGScale", task(CFGScale=7), "unknownParameter", "CFGScale", None),
    ("unknown-top-apiKey", task(apiKey="k"), "unknownParameter", "apiKey", None),
    ("unknown-top-lora", task(lora=[]), "unknownParameter", "lora", None),
    ("unknown-top-null", task(scheduler=None), "unknownParameter", "scheduler", None),
    ("unknown-providerSettings", task(providerSettings={"pixverse": {}, "kling": {}}), "unknownParameter",
     "providerSettings.kling", None),
    ("unknown-pixverse", task(providerSettings=pix(cameraMovement="zoom_in", speed=2)), "unknownParameter",
     f"{PS}.speed", None),
    ("unknown-inputs", task(inputs={"frameImages": [IMG], "video": IMG2}), "unknownParameter", "inputs.video",
     None),
    ("unknown-safety", task(safety={"mode": "fast", "threshold": 0.5}), "unknownParameter", "safety.threshold",
     None),
]
# fmt: on


@pytest.mark.parametrize(
    ("raw", "code", "parameter", "allowed"),
    [pytest.param(raw, code, parameter, allowed, id=name) for name, raw, code, parameter, allowed in REJECTIONS],
)
def test_rule_violation_is_rejected(raw: dict[str, Any], code: str, parameter: str, allowed: list[Any] | None) -> None:
    error = reject(raw)
    assert (error.code, error.parameter) == (code, parameter), error.message
    if allowed is not None:
        assert error.allowed_values == allowed
    assert error.message
    wire = error.to_wire("videoInference", TASK_UUID)
    assert wire["code"] == code and wire["parameter"] == parameter
    assert wire["taskType"] == "videoInference" and wire["taskUUID"] == TASK_UUID


def test_error_object_matches_api_md_example() -> None:
    wire = reject(task(duration=6)).to_wire("videoInference", TASK_UUID)
    assert wire == {
        "code": "unsupportedDuration",
        "message": "Invalid value for duration parameter. Allowed values: 5, 8.",
        "parameter": "duration",
        "type": "float",
        "allowedValues": [5, 8],
        "taskType": "videoInference",
        "taskUUID": TASK_UUID,
    }


def test_unsupported_dimensions_lists_every_size_of_the_table() -> None:
    error = reject(task(width=1000, height=1000))
    assert sorted(error.allowed_values or []) == sorted(f"{w}x{h}" for _, w, h in ALL_SIZES)


def test_invalid_codes_carry_a_type() -> None:
    assert reject(task(seed=1.5)).type == "integer"
    assert reject(task(positivePrompt=5)).type == "string"
    assert reject(task(includeCost="yes")).type == "boolean"


# Bugs found by this suite (see the report); these must raise RequestError, not TypeError/RecursionError.


@pytest.mark.parametrize("frame", [[1], {"pos": "first"}, ["first"]], ids=["list", "object", "list-str"])
def test_unhashable_frame_position_is_invalid_not_a_crash(frame: Any) -> None:
    error = reject(task(inputs={"frameImages": [{"image": IMG, "frame": frame}]}))
    assert (error.code, error.parameter) == ("invalidFramePosition", "inputs.frameImages[0].frame")


def test_image_object_inside_image_object_is_invalid() -> None:
    """docs/api.md: an item is an image (a string) or ``{"image": <image>, "frame": ...}``; nesting is not a form."""
    error = reject(task(inputs={"frameImages": [{"image": {"image": IMG}}]}))
    assert (error.code, error.parameter) == ("invalidImage", "inputs.frameImages[0].image")


def test_deeply_nested_image_objects_do_not_crash() -> None:
    nested: Any = IMG
    for _ in range(1500):
        nested = {"image": nested}
    raw = task()
    raw["inputs"] = {"frameImages": [nested]}  # no deepcopy: it would recurse as deep
    with pytest.raises(RequestError) as info:
        parse_task(raw)
    assert info.value.code == "invalidImage"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook\n",  # the URL regex's "$" lets one trailing newline through
        "https://example.com/hook\r\n",
        "http://[",  # unclosed IPv6 literal: urlsplit raises
        "http://[::1/hook",
        "http://\uff03x/hook",  # netloc invalid under NFKC: urlsplit raises
        "http://:8080/hook",  # no host
        "https://@/hook",  # no host
    ],
    ids=["newline", "crlf", "bracket", "ipv6-unclosed", "nfkc", "port-only", "userinfo-only"],
)
@pytest.mark.parametrize("field", ["webhookURL", "uploadEndpoint"])
def test_unusable_callback_urls_are_invalid(field: str, url: str) -> None:
    """docs/api.md 3.2: an http(s) URI. Ones with no parseable host would only fail at delivery, after the ack."""
    error = reject(task(**{field: url}))
    assert (error.code, error.parameter) == (f"invalid{field[0].upper()}{field[1:]}", field)


# ---------------------------------------------------------------------------- defaults and normalisation


def test_defaults() -> None:
    parsed = accept(task())
    assert type(parsed) is VideoInferenceTask
    assert parsed.task_uuid == TASK_UUID
    assert parsed.model == MODEL
    assert parsed.resolution == "720p"
    assert (parsed.width, parsed.height) == (1280, 720)  # text-to-video: 16:9 at the tier
    assert parsed.duration == 5 and parsed.fps == 16 and parsed.num_frames == 80
    assert 0 <= parsed.seed <= SEED_MAX and isinstance(parsed.seed, int)
    assert parsed.number_results == 1
    assert (parsed.output_type, parsed.output_format, parsed.output_quality) == ("URL", "MP4", 95)
    assert parsed.delivery_method == "async"
    assert parsed.webhook_url is None and parsed.upload_endpoint is None and parsed.ttl is None
    assert parsed.include_cost is False
    assert (parsed.safety_mode, parsed.safety_check_inputs, parsed.safety_tolerance) == ("none", False, False)
    assert parsed.frame_images == () and parsed.reference_images == ()
    assert parsed.camera_movement is None and parsed.effect is None and parsed.style is None
    assert parsed.motion_mode == "normal"
    assert parsed.negative_prompt is None


def test_random_seed_differs_between_tasks() -> None:
    seeds = {accept(task()).seed for _ in range(8)}
    assert len(seeds) > 1


def test_explicit_values_are_kept() -> None:
    parsed = accept(
        task(
            negativePrompt="blurry",
            resolution="540p",
            duration=8,
            fps=24,
            seed=1234,
            numberResults=4,
            outputType="URL",
            outputFormat="WEBM",
            outputQuality=20,
            deliveryMethod="async",
            webhookURL="https://hooks.example.com/cb?token=a%20b&x=1",
            uploadEndpoint="http://bucket.example.com/key?X-Amz-Signature=abc",
            ttl=60,
            includeCost=True,
        )
    )
    assert parsed.negative_prompt == "blurry"
    assert (parsed.resolution, parsed.width, parsed.height) == ("540p", 960, 540)
    assert (parsed.duration, parsed.fps, parsed.num_frames) == (8, 24, 192)
    assert (parsed.seed, parsed.number_results) == (1234, 4)
    assert (parsed.output_format, parsed.output_quality) == ("WEBM", 20)
    assert parsed.webhook_url == "https://hooks.example.com/cb?token=a%20b&x=1"  # query kept as given
    assert parsed.upload_endpoint == "http://bucket.example.com/key?X-Amz-Signature=abc"
    assert parsed.ttl == 60 and parsed.include_cost is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("positivePrompt", "ab"),
        ("positivePrompt", "x" * 2048),
        ("negativePrompt", "ab"),
        ("negativePrompt", "n" * 2048),
        ("seed", 0),
        ("seed", SEED_MAX),
        ("seed", 7.0),
        ("numberResults", 1),
        ("numberResults", 4),
        ("outputQuality", 20),
        ("outputQuality", 99),
        ("outputFormat", "MP4"),
        ("outputFormat", "WEBM"),
        ("outputFormat", "MOV"),
        ("duration", 5),
        ("duration", 8),
        ("duration", 5.0),
        ("duration", 8.0),
        ("fps", 16),
        ("fps", 24),
        ("ttl", 60),
        ("ttl", 86400),
        ("includeCost", False),
        ("webhookURL", "http://example.com"),
        ("uploadEndpoint", "HTTPS://EXAMPLE.COM/put"),
    ],
)
def test_boundary_values_are_accepted(field: str, value: Any) -> None:
    accept(task(**{field: value}))


def test_task_uuid_is_kept_as_sent() -> None:
    # Clients match replies on the exact string (docs/api.md section 1).
    assert accept(task(taskUUID=TASK_UUID.upper())).task_uuid == TASK_UUID.upper()


@pytest.mark.parametrize(("resolution", "width", "height"), ALL_SIZES, ids=[f"{w}x{h}" for _, w, h in ALL_SIZES])
def test_every_size_of_the_table_maps_to_its_resolution(resolution: str, width: int, height: int) -> None:
    parsed = accept(task(width=width, height=height))
    assert (parsed.resolution, parsed.width, parsed.height) == (resolution, width, height)


@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_resolution_alone_gives_16_9(resolution: str) -> None:
    parsed = accept(task(resolution=resolution))
    assert (parsed.resolution, (parsed.width, parsed.height)) == (resolution, SIZE_TABLE[resolution][0])


@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_resolution_with_frame_images_leaves_the_size_to_the_image(resolution: str) -> None:
    parsed = accept(task(resolution=resolution, inputs={"frameImages": [IMG]}))
    assert parsed.resolution == resolution
    assert (parsed.width, parsed.height) == (None, None)


def test_integral_floats_are_taken_as_integers() -> None:
    parsed = accept(task(width=720.0, height=1280.0, seed=3.0, numberResults=2.0, fps=24.0))
    assert (parsed.width, parsed.height, parsed.resolution) == (720, 1280, "720p")
    assert (parsed.seed, parsed.number_results, parsed.fps) == (3, 2, 24)
    assert all(isinstance(v, int) for v in (parsed.width, parsed.height, parsed.seed, parsed.fps))


def test_1080p_at_5_seconds_is_allowed() -> None:
    parsed = accept(task(resolution="1080p", duration=5))
    assert (parsed.width, parsed.height, parsed.duration) == (1920, 1080, 5)


# ---------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("safety", "mode"),
    [
        ({}, "none"),
        ({"checkContent": True}, "fast"),
        ({"checkContent": False}, "none"),
        ({"mode": "full"}, "full"),
        ({"mode": "fast"}, "fast"),
        ({"mode": "none", "checkContent": True}, "none"),  # mode wins over checkContent
        ({"mode": "full", "checkContent": True}, "full"),
        ({"mode": "fast", "checkContent": False}, "fast"),
        ({"mode": None, "checkContent": True}, "fast"),
    ],
)
def test_safety_mode(safety: dict[str, Any], mode: str) -> None:
    assert accept(task(safety=safety)).safety_mode == mode


def test_safety_flags() -> None:
    parsed = accept(task(safety={"checkInputs": True, "tolerance": True}))
    assert (parsed.safety_mode, parsed.safety_check_inputs, parsed.safety_tolerance) == ("none", True, True)


# ---------------------------------------------------------------------------- frame and reference images


def positions(parsed: VideoInferenceTask) -> list[tuple[str, str]]:
    return [(fi.image.value, fi.position) for fi in parsed.frame_images]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([IMG], [(IMG, "first")]),
        ([IMG, IMG2], [(IMG, "first"), (IMG2, "last")]),
        ([{"image": IMG}], [(IMG, "first")]),
        ([{"image": IMG, "frame": "last"}], [(IMG, "last")]),
        ([{"image": IMG, "frame": -1}], [(IMG, "last")]),
        ([{"image": IMG, "frame": 0}], [(IMG, "first")]),
        ([{"image": IMG, "frame": "first"}, {"image": IMG2, "frame": "last"}], [(IMG, "first"), (IMG2, "last")]),
        ([{"image": IMG, "frame": "last"}, {"image": IMG2, "frame": "first"}], [(IMG, "last"), (IMG2, "first")]),
        ([{"image": IMG, "frame": 0}, {"image": IMG2, "frame": -1}], [(IMG, "first"), (IMG2, "last")]),
        (
            [{"inputImage": IMG, "frame": "first"}, {"inputImage": IMG2, "frame": "last"}],
            [(IMG, "first"), (IMG2, "last")],
        ),
        ([{"image": IMG, "frame": "last"}, IMG2], [(IMG, "last"), (IMG2, "first")]),
        ([IMG, {"image": IMG2, "frame": "last"}], [(IMG, "first"), (IMG2, "last")]),
        ([{"image": IMG, "frame": None}], [(IMG, "first")]),
        ([{"image": None, "inputImage": IMG}], [(IMG, "first")]),  # null alternative key: absent
        ([{"image": IMG, "inputImage": None, "frame": "last"}], [(IMG, "last")]),
        (
            ["data:image/png;base64,iVBORw0KGgo=", "aGVsbG8="],
            [("data:image/png;base64,iVBORw0KGgo=", "first"), ("aGVsbG8=", "last")],
        ),
    ],
)
def test_frame_image_positions(items: list[Any], expected: list[tuple[str, str]]) -> None:
    assert positions(accept(task(inputs={"frameImages": items}))) == expected


def test_frame_image_parameters_name_their_path() -> None:
    parsed = accept(task(inputs={"frameImages": [IMG, {"image": IMG2, "frame": "last"}]}))
    assert [fi.image.parameter for fi in parsed.frame_images] == [
        "inputs.frameImages[0]",
        "inputs.frameImages[1].image",
    ]
    assert all(isinstance(fi, FrameImage) for fi in parsed.frame_images)


def test_legacy_top_level_frame_images() -> None:
    parsed = accept(task(frameImages=[{"inputImage": IMG, "frame": "first"}, {"inputImage": IMG2, "frame": "last"}]))
    assert positions(parsed) == [(IMG, "first"), (IMG2, "last")]
    assert parsed.frame_images[0].image.parameter == "frameImages[0].inputImage"
    assert (parsed.width, parsed.height) == (None, None)


def test_legacy_top_level_reference_images() -> None:
    parsed = accept(task(referenceImages=[IMG, IMG2]))
    assert [(r.value, r.parameter) for r in parsed.reference_images] == [
        (IMG, "referenceImages[0]"),
        (IMG2, "referenceImages[1]"),
    ]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_reference_images_1_to_3(count: int) -> None:
    images = [IMG, {"image": IMG2}, "aGVsbG8="][:count]
    parsed = accept(task(inputs={"referenceImages": images}))
    assert [r.value for r in parsed.reference_images] == [IMG, IMG2, "aGVsbG8="][:count]
    assert (parsed.width, parsed.height) == (1280, 720)  # reference images do not set the size
    assert parsed.frame_images == ()


def test_frame_and_reference_images_together() -> None:
    parsed = accept(task(inputs={"frameImages": [IMG], "referenceImages": [IMG2]}))
    assert positions(parsed) == [(IMG, "first")]
    assert [r.value for r in parsed.reference_images] == [IMG2]


def test_legacy_frames_with_nested_references_is_fine() -> None:
    parsed = accept(task(frameImages=[IMG], inputs={"referenceImages": [IMG2]}))
    assert positions(parsed) == [(IMG, "first")] and [r.value for r in parsed.reference_images] == [IMG2]


# ---------------------------------------------------------------------------- providerSettings.pixverse


@pytest.mark.parametrize("move", CAMERA_MOVEMENTS)
def test_every_camera_movement_is_accepted(move: str) -> None:
    assert accept(task(providerSettings=pix(cameraMovement=move))).camera_movement == move


@pytest.mark.parametrize("effect", EFFECTS)
def test_every_effect_is_accepted(effect: str) -> None:
    assert accept(task(providerSettings=pix(effect=effect))).effect == effect


@pytest.mark.parametrize("style", STYLES)
def test_every_style_is_accepted(style: str) -> None:
    assert accept(task(providerSettings=pix(style=style))).style == style


def test_enum_counts_match_api_md() -> None:
    assert len(CAMERA_MOVEMENTS) == 21 and len(set(CAMERA_MOVEMENTS)) == 21
    assert len(EFFECTS) == 20 and len(set(EFFECTS)) == 20


@pytest.mark.parametrize(
    "fields",
    [
        {"resolution": "360p"},
        {"resolution": "540p"},
        {"resolution": "720p"},
        {"width": 720, "height": 1280},
        {"width": 960, "height": 720},
        {"width": 360, "height": 360},
        {"inputs": {"frameImages": [IMG]}},
    ],
)
@pytest.mark.parametrize("setting", [{"cameraMovement": "zoom_in"}, {"effect": "kiss kiss"}, {"style": "clay"}])
def test_provider_settings_at_720p_or_less_and_5_seconds(fields: dict[str, Any], setting: dict[str, Any]) -> None:
    parsed = accept(task(duration=5, providerSettings={"pixverse": setting}, **fields))
    assert parsed.duration == 5


def test_style_combines_with_camera_movement() -> None:
    parsed = accept(task(providerSettings=pix(cameraMovement="crane_up", style="anime", motionMode="fast")))
    assert (parsed.camera_movement, parsed.style, parsed.motion_mode) == ("crane_up", "anime", "fast")


@pytest.mark.parametrize(
    ("fields", "stored", "effective"),
    [
        ({"resolution": "1080p"}, "fast", "normal"),  # motionMode alone with 1080p is allowed
        ({"width": 1080, "height": 1920}, "fast", "normal"),
        ({"duration": 8}, "fast", "normal"),
        ({"duration": 8, "resolution": "360p"}, "fast", "normal"),
        ({"duration": 5, "resolution": "720p"}, "fast", "fast"),
        ({"duration": 5, "resolution": "360p"}, "fast", "fast"),
        ({}, "fast", "fast"),
    ],
)
def test_motion_mode_fast_falls_back_silently(fields: dict[str, Any], stored: str, effective: str) -> None:
    parsed = accept(task(providerSettings=pix(motionMode="fast"), **fields))
    assert parsed.motion_mode == stored
    assert parsed.effective_motion_mode(PIXVERSE_V45) == effective


@pytest.mark.parametrize("fields", [{"resolution": "1080p"}, {"duration": 8}, {}])
def test_motion_mode_normal_stays_normal(fields: dict[str, Any]) -> None:
    parsed = accept(task(providerSettings=pix(motionMode="normal"), **fields))
    assert parsed.effective_motion_mode(PIXVERSE_V45) == "normal"


def test_empty_provider_settings_are_fine() -> None:
    assert accept(task(providerSettings={})).motion_mode == "normal"
    assert accept(task(providerSettings={"pixverse": {}})).camera_movement is None


# ---------------------------------------------------------------------------- seeds of results


@pytest.mark.parametrize(
    ("seed", "index", "expected"),
    [
        (10, 0, 10),
        (10, 3, 13),
        (SEED_MAX, 0, SEED_MAX),
        (SEED_MAX, 1, 0),
        (SEED_MAX - 1, 3, 1),
        (0, 3, 3),
    ],
)
def test_result_seed_wraps(seed: int, index: int, expected: int) -> None:
    assert accept(task(seed=seed, numberResults=4)).result_seed(index) == expected


# ---------------------------------------------------------------------------- null optional fields


OPTIONAL_FIELDS = [
    "negativePrompt",
    "width",
    "height",
    "resolution",
    "duration",
    "fps",
    "seed",
    "numberResults",
    "outputType",
    "outputFormat",
    "outputQuality",
    "deliveryMethod",
    "webhookURL",
    "uploadEndpoint",
    "ttl",
    "includeCost",
    "safety",
    "inputs",
    "providerSettings",
    "frameImages",
    "referenceImages",
]


def same(a: VideoInferenceTask, b: VideoInferenceTask) -> bool:
    """Equal apart from the seed (random when absent)."""
    return replace(a, seed=0) == replace(b, seed=0)


@pytest.mark.parametrize("field", OPTIONAL_FIELDS)
def test_null_optional_field_is_absent(field: str) -> None:
    assert same(accept(task(**{field: None})), accept(task()))


def test_all_optional_fields_null_at_once() -> None:
    assert same(accept(task(**dict.fromkeys(OPTIONAL_FIELDS))), accept(task()))


@pytest.mark.parametrize(
    "fields",
    [
        {"width": 1280, "height": 720, "resolution": None},
        {"resolution": "720p", "width": None, "height": None},
        {"safety": {"mode": None, "checkContent": None, "checkInputs": None, "tolerance": None}},
        {"providerSettings": {"pixverse": None}},
        {"providerSettings": pix(cameraMovement=None, effect=None, style=None, motionMode=None)},
        {"inputs": {"frameImages": None, "referenceImages": None}},
        {"inputs": {"frameImages": None}, "frameImages": None},
    ],
)
def test_null_nested_fields_are_absent(fields: dict[str, Any]) -> None:
    assert same(accept(task(**fields)), accept(task()))


def test_null_camera_with_effect_is_not_incompatible() -> None:
    parsed = accept(task(providerSettings=pix(cameraMovement=None, effect="kiss kiss")))
    assert (parsed.camera_movement, parsed.effect) == (None, "kiss kiss")


def test_null_legacy_form_beside_nested_form_is_not_incompatible() -> None:
    parsed = accept(task(frameImages=None, inputs={"frameImages": [IMG]}))
    assert positions(parsed) == [(IMG, "first")]


def test_parse_does_not_mutate_its_input() -> None:
    raw = task(inputs={"frameImages": [{"image": IMG, "frame": "last"}]}, providerSettings=pix(style="anime"))
    before = copy.deepcopy(raw)
    parse_task(raw)
    assert raw == before


@pytest.mark.parametrize(
    "image",
    [
        IMG,
        IMG.upper(),
        IMG2,
        "HTTP://[2001:db8::1]:8080/a.png?sig=a%2Fb",
        "data:image/png;base64,iVBORw0KGgo=",
        "DATA:IMAGE/PNG;charset=x;BASE64,iVBORw0KGgo=",
        "iVBORw0KGgo=",
    ],
)
def test_every_image_form_is_taken_as_sent(image: str) -> None:
    """docs/api.md 3.2: a UUID, an http(s) URL, a data URI or base64 (decoded, fetched or looked up later)."""
    parsed = accept(task(inputs={"frameImages": [image], "referenceImages": [{"image": image}]}))
    assert parsed.frame_images[0].image.value == image and parsed.reference_images[0].value == image


@pytest.mark.parametrize(("frame", "position"), [(0.0, "first"), (-1.0, "last")])
def test_a_frame_index_written_as_a_float_is_that_index(frame: float, position: str) -> None:
    """JSON numbers compare by value (as the schema's enum does): ``0.0`` is ``0``."""
    parsed = accept(task(inputs={"frameImages": [{"image": IMG, "frame": frame}]}))
    assert [fi.position for fi in parsed.frame_images] == [position]


@pytest.mark.parametrize(
    "url",
    [
        "https://xn--bcher-kva.example/hook",
        "http://127.0.0.1:8080/x",
        "https://[::1]/",
        "HTTPS://A.B_C-D.example./?q#f",
    ],
)
def test_callback_urls_in_their_ascii_form_are_taken(url: str) -> None:
    assert accept(task(webhookURL=url, uploadEndpoint=url)).webhook_url == url


def test_a_prompt_with_one_visible_character_is_taken() -> None:
    assert accept(task(positivePrompt=" a ")).positive_prompt == " a "
