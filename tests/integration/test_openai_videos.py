"""``/v1/videos`` through the unmodified ``openai`` Python SDK (3.51, pinned in the dev extra)
against a live ``cinefuse serve`` with the preview engine (docs/openai.md).

Covered: ``create_and_poll``, ``retrieve``, ``list`` with auto-pagination across pages,
``download_content`` of the video (probed with PyAV; a Range request too), its thumbnail and
spritesheet (decoded), ``delete`` (the media goes, the id answers 404), an
``input_reference`` file that becomes the first frame (PSNR >= 30 dB); and the errors, each
by status, ``type``, ``param`` and ``code``, with another key's video answering 404 on every
endpoint and a refused create leaving nothing behind.
"""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from cinefuse.media.probe import probe, read_frames
from tests.delivery.receivers import ok, receiver
from tests.integration.cluster import S3Server
from tests.integration.conftest import LiveServer

openai = pytest.importorskip("openai", reason="the openai SDK is in the dev extra (pip install -e '.[dev]')")

OTHER_KEY = "sk-test-other-tenant-0000000000"
SIZE = "640x360"  # 360p: the smallest 16:9 size the preview renders, so each clip takes a second or two
PROMPT = "a lighthouse on a cliff at sunset"

# The SDK marks its video methods deprecated (the hosted service closed): that is the point here.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def start(base: Path, env: dict[str, str]) -> LiveServer:
    live = LiveServer(data_dir=base / "data", log_path=base / "server.log")
    live.extra_env = {"CINEFUSE_API_KEYS": f"{live.api_key},{OTHER_KEY}", **env}
    live.start()
    return live


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start(tmp_path_factory.mktemp("openai-videos"), {"CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1"})
    try:
        yield live
    finally:
        live.stop()


def sdk(server: LiveServer, key: str | None = None) -> Any:
    return openai.OpenAI(base_url=server.rest_url, api_key=key or server.api_key, max_retries=0, timeout=60)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def natural_image(width: int = 640, height: int = 360) -> np.ndarray:
    """Gradients and a disc: a picture with structure, so that a wrong first frame shows."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    disc = ((x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (height * 0.2) ** 2)[..., None] * 90.0
    image = np.stack([x / width * 220, y / height * 200, np.full_like(x, 90)], -1) + disc
    return np.clip(image, 0, 255).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def assert_error(
    response: httpx.Response, status: int, code: str, param: str | None, kind: str = "invalid_request_error"
) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (kind, param, code), error
    assert error["message"], error


# --- the SDK, end to end ----------------------------------------------------------------------


def test_create_and_poll_retrieve_and_download_every_variant(server: LiveServer, tmp_path: Path) -> None:
    client = sdk(server)
    video = client.videos.create_and_poll(model="sora-2", prompt=PROMPT, seconds="4", size=SIZE, poll_interval_ms=200)
    assert video.status == "completed", video
    assert (video.object, video.model, video.prompt, video.progress, video.error) == (
        "video",
        "sora-2",
        PROMPT,
        100,
        None,
    )
    # The rule: 4 s -> the preview's nearest duration (5 s); 640x360 is one of its sizes.
    assert (video.seconds, video.size) == ("5", SIZE)
    assert video.id.startswith("video_") and video.completed_at >= video.created_at
    assert video.expires_at is not None and video.expires_at > time.time()
    assert client.videos.retrieve(video.id) == video

    clip = tmp_path / "clip.mp4"
    client.videos.download_content(video.id).write_to_file(clip)
    info = probe(clip)
    assert (info.codec, info.width, info.height) == ("h264", 640, 360)
    assert info.duration == pytest.approx(5.0, abs=0.1)

    thumbnail = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").content))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (640, 360))
    middle = read_frames(clip)[info.frame_count // 2]
    assert psnr(np.asarray(thumbnail.convert("RGB")), middle) > 30  # it is the clip's middle frame
    sheet = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").content))
    assert (sheet.format, sheet.size) == ("JPEG", (4 * 256, 3 * 144))

    # Range requests, as players and download managers send them.
    whole = clip.read_bytes()
    part = httpx.get(
        f"{server.rest_url}/videos/{video.id}/content", headers={**bearer(server.api_key), "Range": "bytes=100-299"}
    )
    assert part.status_code == 206 and part.content == whole[100:300], part.headers
    assert part.headers["content-range"] == f"bytes 100-299/{len(whole)}"


def test_list_pages_through_every_video_in_order(server: LiveServer) -> None:
    client = sdk(server)
    made = [client.videos.create(prompt=f"{PROMPT}, take {i}", size=SIZE) for i in range(3)]
    assert all(v.status in ("queued", "in_progress") for v in made)
    first = client.videos.list(limit=2, order="asc")
    assert len(first.data) == 2 and first.has_more is True
    ids = [v.id for v in client.videos.list(limit=2, order="asc")]  # auto-pagination: every page
    assert [v.id for v in made] == [i for i in ids if i in {v.id for v in made}]
    assert len(ids) == len(set(ids)) >= 3
    newest_first = [v.id for v in client.videos.list(limit=2)]
    assert newest_first == list(reversed(ids))
    for video in made:
        client.videos.poll(video.id, poll_interval_ms=200)


def test_delete_removes_the_media_and_the_video(server: LiveServer) -> None:
    client = sdk(server)
    video = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
    client.videos.download_content(video.id, variant="thumbnail")  # a still is kept next to the clip
    stored = server.data_dir / "media" / "videos"
    before = {p.name for p in stored.iterdir()}
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    gone = before - {p.name for p in stored.iterdir()}
    assert len(gone) == 2 and len({name.split(".", 1)[0] for name in gone}) == 1, gone  # the clip and its still
    assert {name.split(".", 1)[1] for name in gone} == {"mp4", "thumbnail.webp"}
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(video.id)
    assert video.id not in [v.id for v in client.videos.list(limit=100)]


def test_an_input_reference_file_becomes_the_first_frame(server: LiveServer, tmp_path: Path) -> None:
    reference = natural_image()
    client = sdk(server)
    video = client.videos.create_and_poll(
        prompt=PROMPT, size=SIZE, input_reference=("ref.png", png_bytes(reference), "image/png"), poll_interval_ms=200
    )
    assert video.status == "completed", video
    clip = tmp_path / "ref.mp4"
    client.videos.download_content(video.id).write_to_file(clip)
    first = read_frames(clip)[0]
    assert first.shape == reference.shape
    assert psnr(first, reference) >= 30


def test_extra_body_fields_reach_the_task(server: LiveServer, tmp_path: Path) -> None:
    client = sdk(server)
    a = client.videos.create_and_poll(
        prompt=PROMPT,
        size=SIZE,
        extra_body={"seed": 7, "camera_movement": "zoom_in", "style": "anime"},
        poll_interval_ms=200,
    )
    b = client.videos.create_and_poll(
        prompt=PROMPT,
        size=SIZE,
        extra_body={"seed": 7, "camera_movement": "zoom_in", "style": "anime"},
        poll_interval_ms=200,
    )
    c = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, extra_body={"seed": 8}, poll_interval_ms=200)
    clips = []
    for video in (a, b, c):
        path = tmp_path / f"{video.id}.mp4"
        client.videos.download_content(video.id).write_to_file(path)
        clips.append(np.stack(read_frames(path)).astype(np.float32))
    assert float(np.abs(clips[0] - clips[1]).mean()) < 0.5  # same seed and settings: the same clip
    assert float(np.abs(clips[0] - clips[2]).mean()) > 2.0  # another seed, no camera or style: another one


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "status", "code", "param"),
    [
        ({}, 400, "missing_required_parameter", "prompt"),
        ({"prompt": "a"}, 400, "invalid_value", "prompt"),  # under the model's 2 characters
        ({"prompt": PROMPT, "model": "gpt-video"}, 400, "invalid_value", "model"),
        ({"prompt": PROMPT, "size": "big"}, 400, "invalid_value", "size"),
        ({"prompt": PROMPT, "size": "0x720"}, 400, "invalid_value", "size"),
        ({"prompt": PROMPT, "seconds": "soon"}, 400, "invalid_value", "seconds"),
        ({"prompt": PROMPT, "seconds": "-4"}, 400, "invalid_value", "seconds"),
        ({"prompt": PROMPT, "seed": "lucky"}, 400, "invalid_value", "seed"),
        ({"prompt": PROMPT, "camera_movement": "barrel_roll"}, 400, "invalid_value", "camera_movement"),
        (
            {"prompt": PROMPT, "input_reference[image_url]": "data:image/png;base64,bm90IGFuIGltYWdl"},
            400,
            "invalid_image",
            "input_reference",
        ),
    ],
)
def test_a_bad_create_is_refused_naming_the_parameter_and_leaves_nothing(
    server: LiveServer, fields: dict[str, str], status: int, code: str, param: str
) -> None:
    before = httpx.get(f"{server.rest_url}/videos?limit=100", headers=bearer(server.api_key)).json()["data"]
    response = httpx.post(f"{server.rest_url}/videos", data=fields, headers=bearer(server.api_key))
    assert_error(response, status, code, param)
    after = httpx.get(f"{server.rest_url}/videos?limit=100", headers=bearer(server.api_key)).json()["data"]
    assert [v["id"] for v in after] == [v["id"] for v in before]


def test_json_bodies_work_like_forms(server: LiveServer) -> None:
    reference = "data:image/png;base64," + base64.b64encode(png_bytes(natural_image())).decode()
    response = httpx.post(
        f"{server.rest_url}/videos",
        json={"prompt": PROMPT, "size": SIZE, "seconds": 4, "input_reference": {"image_url": reference}},
        headers=bearer(server.api_key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("queued", "in_progress")
    not_an_object = httpx.post(f"{server.rest_url}/videos", json=["prompt"], headers=bearer(server.api_key))
    assert_error(not_an_object, 400, "invalid_json", None)


def test_keys_are_checked_before_anything_else(server: LiveServer) -> None:
    url = f"{server.rest_url}/videos"
    assert_error(httpx.post(url, data={"prompt": PROMPT}), 401, "missing_api_key", None)
    assert_error(httpx.post(url, data={"prompt": PROMPT}, headers=bearer("sk-nope")), 401, "invalid_api_key", None)
    assert_error(httpx.get(url), 401, "missing_api_key", None)
    assert_error(httpx.get(f"{url}/video_x/content", headers={"Authorization": "Bearer"}), 401, "invalid_api_key", None)
    with pytest.raises(openai.AuthenticationError):
        sdk(server, "sk-nope").videos.list()


def test_another_keys_video_is_unknown_on_every_endpoint(server: LiveServer) -> None:
    mine = sdk(server).videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
    other = bearer(OTHER_KEY)
    base = f"{server.rest_url}/videos/{mine.id}"
    for method, url in [
        ("GET", base),
        ("DELETE", base),
        ("GET", f"{base}/content"),
        ("GET", f"{base}/content?variant=thumbnail"),
        ("GET", f"{base}/content?variant=spritesheet"),
    ]:
        assert_error(httpx.request(method, url, headers=other), 404, "not_found", "video_id")
    assert mine.id not in [
        v["id"] for v in httpx.get(f"{server.rest_url}/videos?limit=100", headers=other).json()["data"]
    ]
    assert_error(httpx.get(f"{server.rest_url}/videos?after={mine.id}", headers=other), 400, "invalid_value", "after")
    assert sdk(server).videos.retrieve(mine.id).status == "completed"  # untouched by the attempts


def test_unknown_ids_and_bad_query_values(server: LiveServer) -> None:
    key = bearer(server.api_key)
    url = f"{server.rest_url}/videos"
    assert_error(httpx.get(f"{url}/video_0123", headers=key), 404, "not_found", "video_id")
    assert_error(httpx.delete(f"{url}/video_0123", headers=key), 404, "not_found", "video_id")
    assert_error(httpx.get(f"{url}?limit=0", headers=key), 400, "invalid_value", "limit")
    assert_error(httpx.get(f"{url}?limit=101", headers=key), 400, "invalid_value", "limit")
    assert_error(httpx.get(f"{url}?order=sideways", headers=key), 400, "invalid_value", "order")
    video = sdk(server).videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
    assert_error(httpx.get(f"{url}/{video.id}/content?variant=gif", headers=key), 400, "invalid_value", "variant")


def test_full_queue_rate_limit_and_body_size_answer_in_openai_shape(tmp_path: Path) -> None:
    live = start(
        tmp_path,
        {
            "CINEFUSE_WORKERS": "0",
            "CINEFUSE_QUEUE_LIMIT": "1",
            "CINEFUSE_MAX_BODY_BYTES": "65536",
            "CINEFUSE_RATE_LIMIT": "2",
        },
    )
    try:
        url, key = f"{live.rest_url}/videos", bearer(live.api_key)
        queued = httpx.post(url, data={"prompt": PROMPT, "size": SIZE}, headers=key)
        assert queued.status_code == 200 and queued.json()["status"] == "queued", queued.text
        full = httpx.post(url, data={"prompt": PROMPT, "size": SIZE}, headers=key)
        assert_error(full, 429, "queue_full", None, kind="requests")
        assert full.headers["retry-after"] == "1"
        time.sleep(2.5)  # the bucket (2/s, burst 4) refills
        big = httpx.post(url, data={"prompt": "x" * 70_000}, headers=key)
        assert_error(big, 413, "request_too_large", None)
        answers = [httpx.get(url, headers=key) for _ in range(8)]
        limited = [r for r in answers if r.status_code == 429]
        assert limited, [r.status_code for r in answers]
        assert_error(limited[0], 429, "rate_limit_exceeded", None, kind="requests")
        assert limited[0].headers["retry-after"] == "1"
    finally:
        live.stop()


def test_the_endpoints_are_described_in_openapi(server: LiveServer) -> None:
    paths = httpx.get(f"{server.base_url}/openapi.json").json()["paths"]
    described = {
        ("/v1/videos", "post"): {"200", "400", "401", "413", "429"},
        ("/v1/videos", "get"): {"200", "400", "401", "429"},
        ("/v1/videos/{video_id}", "get"): {"200", "401", "404", "429"},
        ("/v1/videos/{video_id}", "delete"): {"200", "401", "404", "429"},
        ("/v1/videos/{video_id}/content", "get"): {"200", "400", "401", "404", "429"},
    }
    for (path, method), statuses in described.items():
        operation = paths[path][method]
        assert statuses <= set(operation["responses"]), (path, method, sorted(operation["responses"]))
        for status in statuses - {"200"}:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema["required"] == ["error"], (path, method, status)
    create = paths["/v1/videos"]["post"]["requestBody"]["content"]
    assert set(create) == {"multipart/form-data", "application/json"}
    assert create["multipart/form-data"]["schema"]["required"] == ["prompt"]


# --- remix, extensions, edits, characters ----------------------------------------------------


def seed_of(server: LiveServer, video_id: str) -> int:
    """The seed of a video's task, read through POST /v1: a video is a Runware task too."""
    task_uuid = str(uuid.UUID(video_id.removeprefix("video_")))
    reply = httpx.post(
        server.rest_url, json=[{"taskType": "getResponse", "taskUUID": task_uuid}], headers=bearer(server.api_key)
    )
    (item,) = reply.json()["data"]
    seed: int = item["seed"]
    return seed


def test_remix_keeps_the_seed_and_settings_with_a_new_prompt(server: LiveServer) -> None:
    client = sdk(server)
    source = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, seconds="8", poll_interval_ms=200)
    remix = client.videos.remix(source.id, prompt="the same lighthouse in a snowstorm")
    assert remix.remixed_from_video_id == source.id and remix.prompt == "the same lighthouse in a snowstorm"
    remix = client.videos.poll(remix.id, poll_interval_ms=200)
    assert remix.status == "completed", remix
    assert (remix.model, remix.seconds, remix.size) == (source.model, source.seconds, source.size)
    assert seed_of(server, remix.id) == seed_of(server, source.id)
    with pytest.raises(openai.NotFoundError):
        sdk(server, OTHER_KEY).videos.remix(source.id, prompt="not mine")
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(source.id, prompt="a")  # the prompt rules of a create


def test_an_extension_is_the_source_then_the_new_clip_from_its_last_frame(server: LiveServer, tmp_path: Path) -> None:
    client = sdk(server)
    source = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
    source_path = tmp_path / "source.mp4"
    client.videos.download_content(source.id).write_to_file(source_path)
    source_frames = read_frames(source_path)
    fps = probe(source_path).fps

    # The SDK (3.51) takes only files for ``video`` (its extract_files refuses the {"id": ...} form it
    # types), so a video id goes in extra_body, as the form field video[id].
    extension = client.videos.extend(
        video=openai.omit, prompt="the camera keeps flying", seconds="4", extra_body={"video": {"id": source.id}}
    )
    extension = client.videos.poll(extension.id, poll_interval_ms=200)
    assert extension.status == "completed", extension
    whole_path = tmp_path / "whole.mp4"
    client.videos.download_content(extension.id).write_to_file(whole_path)
    whole = read_frames(whole_path)
    added = 5 * round(fps) - 1  # the new 5 s clip, less its first frame (the source's last)
    assert len(whole) == len(source_frames) + added
    assert float(extension.seconds) == pytest.approx(len(whole) / fps, abs=0.02)  # the stitched total
    assert all(psnr(a, b) > 35 for a, b in zip(whole, source_frames, strict=False))  # the source, unchanged
    assert psnr(whole[len(source_frames)], source_frames[-1]) > 25  # continues from the last frame
    thumbnail = Image.open(io.BytesIO(client.videos.download_content(extension.id, variant="thumbnail").content))
    assert psnr(np.asarray(thumbnail.convert("RGB")), whole[len(whole) // 2]) > 30  # of the whole

    # A remix of the extension keeps its own copy of the clip it continues: deleting the
    # extension leaves the remix whole.
    remix = client.videos.poll(client.videos.remix(extension.id, prompt="flying lower").id, poll_interval_ms=200)
    assert remix.status == "completed" and remix.seconds == extension.seconds, remix
    client.videos.delete(extension.id)
    remix_path = tmp_path / "remix.mp4"
    client.videos.download_content(remix.id).write_to_file(remix_path)
    assert probe(remix_path).frame_count == len(whole)

    uploaded = client.videos.extend(
        video=("clip.mp4", source_path.read_bytes(), "video/mp4"), prompt="onwards", seconds="4"
    )
    assert client.videos.poll(uploaded.id, poll_interval_ms=200).status == "completed"
    with pytest.raises(openai.BadRequestError):
        client.videos.extend(video=("clip.mp4", b"not a video", "video/mp4"), prompt="onwards", seconds="4")
    with pytest.raises(openai.NotFoundError):
        sdk(server, OTHER_KEY).videos.extend(
            video=openai.omit, prompt="not mine", seconds="4", extra_body={"video": {"id": source.id}}
        )


def listed(server: LiveServer) -> list[str]:
    reply = httpx.get(f"{server.rest_url}/videos?limit=100", headers=bearer(server.api_key))
    return [video["id"] for video in reply.json()["data"]]


def test_edits_are_refused_clearly_without_a_video_to_video_engine(server: LiveServer) -> None:
    """This server runs the preview engine only: an edit (video to video, the Wan engine's
    VACE) is refused before anything is queued, naming the model and what would do it."""
    client = sdk(server)
    source = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
    before = listed(server)
    response = httpx.post(
        f"{server.rest_url}/videos/edits",
        data={"prompt": "make it night", "video[id]": source.id},
        headers=bearer(server.api_key),
    )
    assert_error(response, 400, "unsupported_operation", "model")
    message = response.json()["error"]["message"]
    assert "no video-to-video" in message and "cinefuse:wan@1" in message, message
    # Naming a Wan model: this server has no Wan weights, and says which pull gives them.
    response = httpx.post(
        f"{server.rest_url}/videos/edits",
        json={"prompt": "make it night", "video": {"id": source.id}, "model": "cinefuse:wan@1"},
        headers=bearer(server.api_key),
    )
    assert_error(response, 400, "unsupported_operation", "model")
    uploaded = httpx.post(
        f"{server.rest_url}/videos/edits",
        data={"prompt": "make it night"},
        files={"video": ("clip.mp4", b"\x00" * 64, "video/mp4")},
        headers=bearer(server.api_key),
    )
    assert_error(uploaded, 400, "invalid_value", "video")
    assert listed(server) == before
    with pytest.raises(openai.NotFoundError):
        sdk(server, OTHER_KEY).videos.edit(
            video=openai.omit, prompt="make it night", extra_body={"video": {"id": source.id}}
        )


def test_denoising_fields_are_checked_and_named(server: LiveServer) -> None:
    for field, value in (("num_inference_steps", 0), ("num_inference_steps", 2.5), ("guidance_scale", 50)):
        response = httpx.post(
            f"{server.rest_url}/videos",
            json={"prompt": PROMPT, "size": SIZE, field: value},
            headers=bearer(server.api_key),
        )
        assert_error(response, 400, "invalid_value", field)


def test_a_character_from_a_clip_steers_later_creates(server: LiveServer, tmp_path: Path) -> None:
    client = sdk(server)
    source = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
    clip = client.videos.download_content(source.id).content
    character = client.videos.create_character(name="Ada", video=("ada.mp4", clip, "video/mp4"))
    assert character.id.startswith("char_") and character.name == "Ada"
    assert client.videos.get_character(character.id).name == "Ada"
    with pytest.raises(openai.NotFoundError):
        sdk(server, OTHER_KEY).videos.get_character(character.id)
    portrait = client.videos.create_character(name="Bo", video=("bo.png", png_bytes(natural_image()), "image/png"))
    video = client.videos.create_and_poll(
        prompt="Ada walks along the shore", size=SIZE, extra_body={"characters": [character.id]}, poll_interval_ms=200
    )
    assert video.status == "completed", video
    # Rendered with the character's frames as reference images: three stored images of this key.
    task_uuid = str(uuid.UUID(video.id.removeprefix("video_")))
    with sqlite3.connect(f"file:{server.data_dir / 'cinefuse.db'}?mode=ro", uri=True) as db:
        (request,) = db.execute("SELECT request FROM jobs WHERE task_uuid = ?", (task_uuid,)).fetchone()
        references = [r["value"] for r in json.loads(request)["reference_images"]]
        owners = {db.execute("SELECT key_id FROM images WHERE uuid = ?", (r,)).fetchone() for r in references}
    assert len(references) == 3 and len(owners) == 1 and None not in owners
    too_many = httpx.post(
        f"{server.rest_url}/videos",
        json={"prompt": PROMPT, "size": SIZE, "characters": [character.id, portrait.id]},  # 3 + 1 images
        headers=bearer(server.api_key),
    )
    assert_error(too_many, 400, "invalid_value", "characters")
    unknown = httpx.post(
        f"{server.rest_url}/videos", json={"prompt": PROMPT, "characters": ["char_0"]}, headers=bearer(server.api_key)
    )
    assert_error(unknown, 404, "not_found", "characters")


# --- webhooks ----------------------------------------------------------------------------------


def test_webhooks_carry_video_completed_and_video_failed_events(tmp_path: Path) -> None:
    """One signed event per video when it ends, through the outbox: ``video.completed`` for a
    rendered one; ``video.failed`` for one cancelled while queued (this server renders nothing
    until a worker is started)."""
    live = start(tmp_path, {"CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1", "CINEFUSE_WORKERS": "0"})
    try:
        with receiver(ok()) as rec:
            client = sdk(live)
            queued = client.videos.create(prompt=PROMPT, size=SIZE, extra_body={"webhook_url": rec.url("/failed")})
            task_uuid = str(uuid.UUID(queued.id.removeprefix("video_")))
            cancel = httpx.post(
                live.rest_url, json=[{"taskType": "cancelTask", "taskUUID": task_uuid}], headers=bearer(live.api_key)
            )
            assert cancel.json()["data"][0]["status"] == "cancelled", cancel.text
            rec.wait_for(1, timeout=20)
            assert client.videos.retrieve(queued.id).status == "failed"
            live.stop()
            live.extra_env["CINEFUSE_WORKERS"] = "1"
            live.start()
            done = client.videos.create_and_poll(
                prompt=PROMPT, size=SIZE, extra_body={"webhook_url": rec.url("/done")}, poll_interval_ms=200
            )
            rec.wait_for(2, timeout=20)
            time.sleep(0.5)  # room for a duplicate
            calls = rec.snapshot()
    finally:
        live.stop()
    assert [c.route for c in calls] == ["/failed", "/done"]
    for call, video, kind in ((calls[0], queued, "video.failed"), (calls[1], done, "video.completed")):
        event = json.loads(call.body)
        assert event["object"] == "event" and event["type"] == kind, event
        assert event["data"] == {"id": video.id} and event["id"] == call.header("webhook-id")
        assert event["id"].startswith("evt_") and call.header("webhook-timestamp")


def test_a_bad_webhook_url_is_refused_naming_it(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.rest_url}/videos",
        data={"prompt": PROMPT, "webhook_url": "ftp://example.com/hook"},
        headers=bearer(server.api_key),
    )
    assert_error(response, 400, "invalid_value", "webhook_url")


NASTY_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("/videos", {"json": {"prompt": 5}}),
    ("/videos", {"json": {"prompt": PROMPT, "model": ["sora-2"]}}),
    ("/videos", {"json": {"prompt": PROMPT, "seconds": [4]}}),
    ("/videos", {"json": {"prompt": PROMPT, "seconds": "nan"}}),
    ("/videos", {"json": {"prompt": PROMPT, "seconds": "1e308"}}),
    ("/videos", {"json": {"prompt": PROMPT, "num_frames": "1e9"}}),
    ("/videos", {"json": {"prompt": PROMPT, "fps": "inf"}}),
    ("/videos", {"json": {"prompt": PROMPT, "seed": "1e30"}}),
    ("/videos", {"json": {"prompt": PROMPT, "size": "99999x99999", "seconds": True}}),
    ("/videos", {"json": {"prompt": PROMPT, "input_reference": {"image_url": "javascript:alert(1)"}}}),
    ("/videos", {"json": {"prompt": PROMPT, "input_reference": {"file_id": "not-a-uuid"}}}),
    ("/videos", {"json": {"prompt": PROMPT, "characters": [{"id": "char_x"}]}}),
    ("/videos", {"content": b'{"prompt": ' + b"[" * 5000 + b"]" * 5000 + b"}"}),
    ("/videos", {"content": b"\xff\xfe not json"}),
    ("/videos", {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}),
    ("/videos", {"content": b"prompt=a&prompt=b" * 10, "headers": {"Content-Type": "multipart/form-data"}}),
    ("/videos", {"files": [("input_reference", ("a.png", b"1")), ("input_reference", ("b.png", b"2"))]}),
    ("/videos/extensions", {"json": {"prompt": PROMPT, "video": {"id": 5}}}),
    ("/videos/extensions", {"json": {"prompt": PROMPT, "video": "video_unknown"}}),
    ("/videos/edits", {"json": {"prompt": PROMPT}}),
    ("/videos/characters", {"json": {"name": "x" * 500, "video": {"id": "video_x"}}}),
    ("/videos/characters", {"files": {"video": ("v.mp4", b"not a video", "video/mp4")}, "data": {"name": "Ada"}}),
    ("/videos/video_x/remix", {"json": {"prompt": PROMPT}}),
]


@pytest.mark.parametrize(("path", "body"), NASTY_BODIES, ids=[f"{i}" for i in range(len(NASTY_BODIES))])
def test_nothing_sent_makes_a_server_error(server: LiveServer, path: str, body: dict[str, Any]) -> None:
    headers = {**bearer(server.api_key), **body.pop("headers", {})}
    response = httpx.post(f"{server.rest_url}{path}", headers=headers, timeout=60, **body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert error["message"] and error["code"], error


def test_with_an_s3_media_store_content_is_a_redirect_and_delete_empties_the_bucket(tmp_path: Path) -> None:
    """The fleet's media store: the MP4 answers a 307 to a presigned URL (which the SDK
    follows, Range included), stills are made from the object, and DELETE removes them all."""
    s3 = S3Server()
    try:
        live = start(tmp_path, s3.bucket("videos"))
        try:
            client = sdk(live)
            video = client.videos.create_and_poll(prompt=PROMPT, size=SIZE, poll_interval_ms=200)
            clip = tmp_path / "clip.mp4"
            client.videos.download_content(video.id).write_to_file(clip)
            assert probe(clip).frame_count == 80
            redirect = httpx.get(f"{live.rest_url}/videos/{video.id}/content", headers=bearer(live.api_key))
            assert redirect.status_code == 307 and redirect.headers["location"].startswith(s3.endpoint)
            ranged = httpx.get(redirect.headers["location"], headers={"Range": "bytes=0-99"})
            assert ranged.status_code == 206 and ranged.content == clip.read_bytes()[:100]
            thumbnail = client.videos.download_content(video.id, variant="thumbnail").content
            assert Image.open(io.BytesIO(thumbnail)).size == (640, 360)
            stored = [k for k in s3.keys("videos") if k.startswith("videos/")]
            assert len(stored) == 2, stored  # the clip and its thumbnail
            client.videos.delete(video.id)
            assert [k for k in s3.keys("videos") if k.startswith("videos/")] == []
        finally:
            live.stop()
    finally:
        s3.stop()
