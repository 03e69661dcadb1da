"""The web studio in a real browser (Debian's chromium through Playwright) against a real
``cinefuse serve`` on the CPU preview engine.

The flow tests share one signed-in page, in order, so the gallery fills up the way it does
for a user: a 360p render played inline and reused, a first frame dropped on its picker, a
long render whose progress moves and which is cancelled. Screenshots of the sign-in form, the
form, the queue, the gallery and a phone-sized screen go to ``test-artifacts/studio/``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image, ImageDraw
from tests.integration.conftest import LiveServer
from tests.web.conftest import PHONE, PageProblems, new_context, open_studio, sign_in

if TYPE_CHECKING:  # the module imports without playwright: its fixtures skip then
    from playwright.sync_api import Browser, BrowserContext, Page


@dataclass
class Studio:
    page: Page
    context: BrowserContext
    problems: PageProblems
    server: LiveServer


@pytest.fixture(scope="module")
def studio(browser: Browser, studio_server: LiveServer) -> Iterator[Studio]:
    """A signed-in desktop page, shared by the flow tests of this module (the key remembered:
    the phone-sized test opens the studio again from this browser's storage)."""
    context = new_context(browser)
    problems = PageProblems()
    page = open_studio(context, studio_server, problems)
    sign_in(page, studio_server.api_key, remember=True)
    yield Studio(page, context, problems, studio_server)
    context.close()


# ----------------------------------------------------------------------------- helpers


def task_uuids(page: Page) -> list[str]:
    return list(page.eval_on_selector_all("[data-task]", "els => els.map(e => e.dataset.task)"))


def compose(page: Page, prompt: str, **settings: str) -> None:
    """Fill the prompt and the named selects/inputs (by element id)."""
    page.fill("#prompt", prompt)
    for element, value in settings.items():
        selector = f"#{element.replace('_', '-')}"
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


def submit(page: Page) -> str:
    """Press Render; the taskUUID of the queue entry it made."""
    before = task_uuids(page)
    page.click("#submit")
    page.wait_for_function(
        "before => [...document.querySelectorAll('#queue-list [data-task]')]"
        ".some(e => !before.includes(e.dataset.task))",
        arg=before,
    )
    return next(u for u in task_uuids(page) if u not in before)


def card(uuid_: str) -> str:
    return f"#gallery-list [data-task='{uuid_}']"


def entry(uuid_: str) -> str:
    return f"#queue-list [data-task='{uuid_}']"


def snippet(page: Page, uuid_: str, kind: str) -> str:
    """Open a card's "copy as" dialog; its text (the dialog is closed again)."""
    page.click(f"{card(uuid_)} [data-snippet={kind}]")
    page.wait_for_selector("#code-dialog[open]")
    text = page.inner_text("#code-dialog-text")
    page.click("#code-dialog button[value=close]")
    page.wait_for_selector("#code-dialog:not([open])", state="attached")
    return text


def png_base64(width: int, height: int) -> str:
    """A small poster-like PNG: a sky gradient, a sun and a hill."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=(int(40 + 200 * t), int(60 + 90 * t), int(140 - 60 * t)))
    draw.ellipse([width * 0.6, height * 0.25, width * 0.78, height * 0.49], fill=(255, 214, 120))
    draw.polygon(
        [(0, height), (width * 0.35, height * 0.55), (width, height * 0.8), (width, height)], fill=(30, 40, 50)
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


DROP_SCRIPT = """async ([selector, b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const file = new File([bytes], name, { type: "image/png" });
  const transfer = new DataTransfer();
  transfer.items.add(file);
  const zone = document.querySelector(selector);
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
  }
}"""


def wait_video_ready(page: Page, uuid_: str) -> dict[str, Any]:
    """The first video of a card once its metadata loaded: duration and size."""
    video = page.locator(f"{card(uuid_)} video").first
    video.wait_for()
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=video.element_handle())
    info: dict[str, Any] = video.evaluate(
        "v => ({duration: v.duration, width: v.videoWidth, height: v.videoHeight, src: v.currentSrc})"
    )
    return info


# ----------------------------------------------------------------------------- tests


def kept_key(page: Page) -> dict[str, str | None]:
    """Where the studio keeps the key: {"local": ..., "session": ...}."""
    return dict(
        page.evaluate(
            """() => ({ local: localStorage.getItem('cinefuse.apiKey'),
                        session: sessionStorage.getItem('cinefuse.apiKey') })"""
        )
    )


def test_sign_in_keeps_the_key_out_of_urls_and_sign_out_forgets_it(browser: Browser, studio_server: LiveServer) -> None:
    context = new_context(browser)
    problems = PageProblems()
    page = open_studio(context, studio_server, problems)
    key = studio_server.api_key
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda socket: urls.append(socket.url))

    page.fill("#api-key", "sk-not-a-key")
    page.keyboard.press("Enter")
    page.wait_for_selector("#err-apiKey:has-text('not valid')")
    assert page.is_hidden("#studio")
    assert page.evaluate("() => document.activeElement.id") == "api-key"

    sign_in(page, key)
    assert kept_key(page) == {"local": None, "session": key}  # "Remember on this device" is off by default
    assert "WebSocket" in page.inner_text("#connection")
    page.reload()  # the tab keeps the key while it is open
    page.wait_for_selector("#studio:not([hidden])")

    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert kept_key(page) == {"local": None, "session": None}
    assert page.is_hidden("#studio")
    assert urls and not [u for u in urls if key in u]
    assert not [line for line in problems.console if key in line]
    assert problems.errors == []
    context.close()


def test_the_key_outlives_the_tab_only_when_remembered(
    browser: Browser, studio_server: LiveServer, artifacts: Path
) -> None:
    key = studio_server.api_key
    context = new_context(browser)
    problems = PageProblems()
    page = open_studio(context, studio_server, problems)
    assert not page.is_checked("#remember-key")
    page.fill("#api-key", key)
    page.screenshot(path=str(artifacts / "studio-sign-in.png"))

    # Not remembered: nothing in localStorage, and a new tab (its own sessionStorage) is signed out.
    sign_in(page, key)
    assert kept_key(page) == {"local": None, "session": key}
    assert not [o for o in context.storage_state()["origins"] if key in json.dumps(o)]
    other = open_studio(context, studio_server, problems)
    assert other.is_visible("#sign-in") and other.is_hidden("#studio")
    other.close()
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")

    # Remembered: in localStorage only; a reload and a new tab are signed in with it.
    sign_in(page, key, remember=True)
    assert kept_key(page) == {"local": key, "session": None}
    page.reload()
    page.wait_for_selector("#studio:not([hidden])")
    other = open_studio(context, studio_server, problems)
    other.wait_for_selector("#studio:not([hidden])")
    other.close()

    # Sign-out forgets it everywhere: the next visit asks for a key.
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert kept_key(page) == {"local": None, "session": None}
    assert not page.is_checked("#remember-key")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_visible("#sign-in") and page.is_hidden("#studio")
    assert problems.errors == []
    context.close()


def test_the_form_enforces_the_models_cross_field_rules(
    browser: Browser, studio_server: LiveServer, artifacts: Path
) -> None:
    context = new_context(browser, viewport={"width": 1440, "height": 2300})
    problems = PageProblems()
    page = open_studio(context, studio_server, problems)
    sign_in(page, studio_server.api_key)

    def disabled(option: str) -> bool:
        return bool(page.eval_on_selector(option, "o => o.disabled"))

    # An effect and a camera movement exclude each other.
    page.select_option("#effect", "boom drop")
    assert page.is_disabled("#camera")
    assert "Not with an effect" in page.inner_text("#hint-cameraMovement")
    page.select_option("#effect", "")
    page.select_option("#camera", "zoom_in")
    assert page.is_disabled("#effect")
    page.select_option("#camera", "")
    assert page.is_enabled("#effect") and page.is_enabled("#camera")

    # 1080p allows 5 s only: 8 s is disabled there, and choosing 1080p at 8 s sets 5 s, saying so.
    page.select_option("#duration", "8")
    page.select_option("#resolution", "1080p")
    assert page.input_value("#duration") == "5"
    assert "Set to 5 s" in page.inner_text("#hint-duration")
    assert disabled("#duration option[value='8']")

    # A style (camera, effect) limits the size to 720p and the duration to 5 s.
    page.select_option("#style", "anime")
    assert page.input_value("#resolution") == "720p"
    assert "Lowered to 720p" in page.inner_text("#hint-resolution")
    assert disabled("#resolution option[value='1080p']")
    assert disabled("#duration option[value='8']")
    page.select_option("#style", "")
    page.select_option("#duration", "8")
    page.select_option("#camera", "pan_left")
    assert page.input_value("#duration") == "5"
    page.select_option("#camera", "")

    # Fast motion falls back to normal at 8 s (and at 1080p): a hint says so.
    page.select_option("#motion", "fast")
    assert page.inner_text("#hint-motionMode") == ""
    page.select_option("#duration", "8")
    assert "falls back to normal" in page.inner_text("#hint-motionMode")
    page.select_option("#duration", "5")
    page.select_option("#motion", "normal")

    # A non-default aspect ratio is sent as an explicit size.
    page.click("label.aspect:has-text('9:16')")
    assert "720×1280, sent as an explicit width and height" in page.inner_text("#hint-size")
    page.click("label.aspect:has-text('16:9')")
    assert "sent as resolution 720p" in page.inner_text("#hint-size")

    page.fill("#prompt", "a paper boat drifting on a calm lake at sunset, cinematic")
    page.fill("#negative-prompt", "blurry, low quality")
    page.select_option("#style", "cyberpunk")
    page.click("#advanced summary")
    page.screenshot(path=str(artifacts / "studio-form.png"))
    page.select_option("#style", "")

    # Other models: the form follows their capabilities.
    page.select_option("#model", "cinefuse:ltx-distilled@1")
    durations = page.eval_on_selector_all("#duration option", "os => os.map(o => o.value)")
    assert durations == [str(n) for n in range(1, 11)]
    assert page.eval_on_selector_all("#resolution option", "os => os.map(o => o.value)") == ["360p", "540p", "720p"]
    assert page.is_hidden("#references-field") and page.is_visible("#frame-last-field")
    # This server has no neural weights: the model is greyed with the command that fixes it,
    # and Render says so instead of sending a task that would fail.
    assert "(not installed)" in page.inner_text("#model option[value='cinefuse:ltx-distilled@1']")
    fix = "cinefuse models pull LTX-Video-0.9.8-13B-distilled" if find_spec("diffusers") else "pip install"
    assert fix in page.inner_text("#model-description")
    page.screenshot(path=str(artifacts / "studio-missing-model.png"))
    before = task_uuids(page)
    page.click("#submit")
    page.wait_for_function("() => document.querySelector('#form-error').textContent.includes('cannot run')")
    assert task_uuids(page) == before
    page.select_option("#model", "cinefuse:wan2.2-ti2v@1")
    assert page.is_hidden("#frame-last-field") and page.is_visible("#frame-first-field")
    page.select_option("#model", "pixverse:1@3")
    assert page.is_visible("#references-field") and page.is_visible("#frame-last-field")

    # Every control has a label, and the keyboard reaches the form in reading order.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('#job-form :is(input, select, textarea, button)')]
          .filter(e => e.type !== 'file' && e.offsetParent !== null)
          .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
          .map(e => e.id || e.name || e.outerHTML.slice(0, 60))"""
    )
    assert unlabelled == []
    page.focus("#model")
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id || document.activeElement.className"))
    assert order[:2] == ["prompt", "negative-prompt"]
    assert order[2] == "drop-add"  # the first frame picker's button
    assert problems.errors == []
    context.close()


def test_server_errors_show_next_to_the_field_they_name(studio: Studio) -> None:
    page = studio.page
    before = task_uuids(page)
    page.fill("#prompt", "x")
    page.click("#submit")
    page.wait_for_selector("#err-positivePrompt:not(:empty)")
    assert "positivePrompt" in page.inner_text("#err-positivePrompt")
    assert page.get_attribute("#prompt", "aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "prompt"
    page.fill("#prompt", "a quiet harbour at dawn")  # typing clears the error
    assert page.inner_text("#err-positivePrompt") == ""

    page.click("#advanced summary")
    page.fill("#ttl", "5")
    page.click("#submit")
    page.wait_for_selector("#err-ttl:not(:empty)")
    assert "ttl" in page.inner_text("#err-ttl")
    assert page.inner_text("#err-positivePrompt") == ""
    page.fill("#ttl", "")
    page.click("#advanced summary")
    assert task_uuids(page) == before  # refused tasks never reach the queue

    # Dotted parameters name their field; unknown ones go to the general area.
    mapping = page.evaluate(
        """async () => {
          const { parameterField } = await import('./static/js/form.js');
          const sent = { 'inputs.frameImages[0]': 'frameLast' };
          return [
            'providerSettings.pixverse.cameraMovement', 'providerSettings.pixverse.effect', 'safety.mode',
            'inputs.frameImages[0].frame', 'inputs.frameImages[1]', 'inputs.referenceImages[2]', 'width',
            'frameImages[0]', 'taskUUID', null,
          ].map((p) => parameterField(p, sent));
        }"""
    )
    assert mapping == [
        "cameraMovement",
        "effect",
        "safety",
        "frameLast",
        "frameFirst",
        "referenceImages",
        "size",
        "frameFirst",
        None,
        None,
    ]


@pytest.mark.slow
def test_a_360p_job_renders_plays_and_its_settings_can_be_reused(studio: Studio) -> None:
    page = studio.page
    prompt = "a lighthouse on a cliff at sunset, waves crashing, cinematic"
    compose(page, prompt, resolution="360p", duration="5", fps="16", number_results="1", seed="1234")
    task_uuid = submit(page)
    page.wait_for_selector(f"{entry(task_uuid)} progress")
    page.wait_for_selector(card(task_uuid) + " video")
    page.wait_for_function(
        "sel => document.querySelector(sel) === null || document.querySelector(sel).value === 100",
        arg=f"{entry(task_uuid)} progress",
    )

    info = wait_video_ready(page, task_uuid)
    assert abs(info["duration"] - 5.0) < 0.2
    assert (info["width"], info["height"]) == (640, 360)
    video = page.locator(f"{card(task_uuid)} video").first
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.currentTime > 0.3", arg=video.element_handle())
    video.evaluate("v => v.pause()")
    download = page.locator(f"{card(task_uuid)} a[download]").first
    assert download.get_attribute("href") == info["src"]
    page.wait_for_function("v => v.poster.startsWith('blob:')", arg=video.element_handle())

    # The exact request behind it, and runnable snippets that never carry the key.
    request = json.loads(snippet(page, task_uuid, "json"))
    assert request["taskUUID"] == task_uuid
    assert request["positivePrompt"] == prompt
    assert (request["resolution"], request["duration"], request["fps"], request["seed"]) == ("360p", 5, 16, 1234)
    assert "width" not in request
    key = studio.server.api_key
    curl = snippet(page, task_uuid, "curl")
    python = snippet(page, task_uuid, "python")
    sdk = snippet(page, task_uuid, "sdk")
    for text in (curl, python, sdk):
        assert "CINEFUSE_API_KEY" in text and key not in text and task_uuid not in text
    # Run them as a dry run (the same validation, nothing rendered): the JSON and the quoting are right.
    rest_url = studio.server.rest_url
    env = {**os.environ, "CINEFUSE_API_KEY": key}
    dry_curl = curl.replace(f"'{rest_url}'", f"'{rest_url}?dryRun=1'")
    ran = subprocess.run(["bash", "-c", dry_curl], env=env, capture_output=True, text=True, timeout=30)
    acknowledged, _ = json.JSONDecoder().raw_decode(ran.stdout)  # then the getResponse reply
    assert acknowledged.get("data", [{}])[0].get("dryRun") is True, ran.stdout
    dry_python = python.replace(f'"{rest_url}"', f'"{rest_url}?dryRun=1"')
    ran = subprocess.run([sys.executable, "-c", dry_python], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "'dryRun': True" in ran.stdout and "'status': 'success'" in ran.stdout
    compile(sdk, "runware_sdk_snippet.py", "exec")

    # Reuse settings: the form gets the request back.
    compose(page, "something else entirely", resolution="540p", seed="")
    page.click(f"{card(task_uuid)} [data-action=reuse]")
    assert page.input_value("#prompt") == prompt
    assert page.input_value("#resolution") == "360p"
    assert page.input_value("#seed") == "1234"
    assert page.input_value("#duration") == "5"
    assert page.evaluate("() => document.activeElement.id") == "prompt"


@pytest.mark.slow
def test_a_first_frame_dropped_on_its_picker_is_uploaded_and_used(studio: Studio) -> None:
    page = studio.page
    page.evaluate(DROP_SCRIPT, ["#frame-first", png_base64(480, 360), "first-frame.png"])
    page.wait_for_selector("#frame-first .thumb.ready")
    image_uuid = page.get_attribute("#frame-first .thumb", "data-uuid")
    assert image_uuid and uuid.UUID(image_uuid)
    # The size now follows the image: 480x360 snaps to 4:3, and no explicit size can be set.
    assert page.is_checked("input[name=aspect][value='4:3']")
    assert page.is_disabled("input[name=aspect][value='16:9']")
    assert "snaps to 4:3" in page.inner_text("#hint-size")

    compose(page, "the camera slowly pushes in on the hills, soft evening light", resolution="360p", seed="77")
    task_uuid = submit(page)
    info = wait_video_ready(page, task_uuid)
    assert (info["width"], info["height"]) == (480, 360)
    request = json.loads(snippet(page, task_uuid, "json"))
    assert request["inputs"] == {"frameImages": [{"image": image_uuid, "frame": "first"}]}
    assert "width" not in request and request["resolution"] == "360p"

    page.click("#frame-first .thumb-remove")
    assert page.locator("#frame-first .thumb").count() == 0
    assert page.is_enabled("input[name=aspect][value='16:9']")
    assert page.is_checked("input[name=aspect][value='16:9']")  # the user's choice is back
    page.click(f"{card(task_uuid)} [data-action=reuse]")
    page.wait_for_selector(f"#frame-first .thumb[data-uuid='{image_uuid}']")
    assert page.eval_on_selector("#frame-first .thumb img", "img => img.getAttribute('src')").startswith("http")
    page.click("#frame-first .thumb-remove")


@pytest.mark.slow
def test_a_running_job_shows_moving_progress_and_can_be_cancelled(studio: Studio, artifacts: Path) -> None:
    page = studio.page
    compose(
        page,
        "a neon city at night in the rain, reflections on wet streets",
        resolution="720p",
        duration="8",
        fps="24",
        number_results="2",
        seed="",
    )
    task_uuid = submit(page)
    bar = f"{entry(task_uuid)} progress"
    page.wait_for_function("sel => { const v = document.querySelector(sel).value; return v > 0 && v < 100; }", arg=bar)
    first = page.eval_on_selector(bar, "p => p.value")
    page.wait_for_function(
        "([sel, first]) => { const v = document.querySelector(sel).value; return v > first && v < 100; }",
        arg=[bar, first],
    )
    assert page.text_content(f"{entry(task_uuid)} .qi-status") == "Rendering"
    page.locator("#queue-list").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "studio-queue.png"))

    page.click(f"{entry(task_uuid)} button:has-text('Cancel')")
    page.wait_for_selector(f"{entry(task_uuid)} .qi-status:has-text('Cancelled')")
    states = page.eval_on_selector_all(f"{entry(task_uuid)} .qi-result", "nodes => nodes.map(n => n.dataset.state)")
    # The second result never started; the first was mid-render, unless it finished just before the cancel.
    assert states[1] == "cancelled" and states[0] in ("cancelled", "success"), states
    assert "Cancelled before it finished." in page.inner_text(f"{entry(task_uuid)} .qi-errors")
    page.click(f"{entry(task_uuid)} button:has-text('Dismiss')")
    page.wait_for_selector(entry(task_uuid), state="detached")


@pytest.mark.slow
def test_without_a_websocket_the_studio_works_over_rest(browser: Browser, studio_server: LiveServer) -> None:
    context = new_context(browser)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.route_web_socket(re.compile(r".*/v1/?$"), lambda socket: socket.close())  # no socket gets through
    authorizations: list[str | None] = []
    page.on(
        "request",
        lambda r: authorizations.append(r.headers.get("authorization")) if r.method == "POST" else None,
    )
    page.goto(studio_server.base_url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#api-key", studio_server.api_key)
    page.click("#sign-in-button")
    page.wait_for_selector("#studio:not([hidden])")
    assert page.get_attribute("#connection", "data-state") == "rest"
    compose(page, "a red paper boat drifting on a calm lake at sunset", resolution="360p", seed="5")
    task_uuid = submit(page)
    assert wait_video_ready(page, task_uuid)["width"] == 640
    assert authorizations and set(authorizations) == {f"Bearer {studio_server.api_key}"}
    assert problems.errors == []
    context.close()


def test_videos_made_through_the_openai_style_api_show_in_the_gallery(
    browser: Browser, studio_server: LiveServer
) -> None:
    key = {"Authorization": f"Bearer {studio_server.api_key}"}
    made = httpx.post(
        f"{studio_server.rest_url}/videos",
        data={"prompt": "a kite over the dunes, made through /v1/videos", "size": "640x360", "seconds": "4"},
        headers=key,
    ).json()
    task_uuid = str(uuid.UUID(made["id"].removeprefix("video_")))
    deadline = time.monotonic() + 60
    while httpx.get(f"{studio_server.rest_url}/videos/{made['id']}", headers=key).json()["status"] != "completed":
        assert time.monotonic() < deadline, "the video did not complete"
        time.sleep(0.2)
    context = new_context(browser)
    page = open_studio(context, studio_server)
    problems = PageProblems()
    problems.watch(page)
    sign_in(page, studio_server.api_key)
    page.wait_for_selector(f"{card(task_uuid)} .card-prompt:has-text('a kite over the dunes')")
    info = wait_video_ready(page, task_uuid)
    assert (info["width"], info["height"]) == (640, 360) and info["duration"] == pytest.approx(5.0, abs=0.1)
    # It finished before this page opened: in the gallery, not lingering in the queue.
    assert page.locator(entry(task_uuid)).count() == 0
    # Signing in again (or refreshing) adds nothing twice.
    page.click("#refresh-history")
    page.wait_for_timeout(500)
    assert page.locator(card(task_uuid)).count() == 1
    assert problems.errors == []
    context.close()


def test_expired_and_unknown_results_are_marked(browser: Browser, studio_server: LiveServer) -> None:
    context = new_context(browser)
    page = open_studio(context, studio_server)
    past = 1_000_000_000
    rendered = page.evaluate(
        """async ([past]) => {
          const { slots } = await import('./static/js/history.js');
          const { GalleryView } = await import('./static/js/gallery.js');
          const base = { taskType: 'videoInference', taskUUID: 't', status: 'success', progress: 100 };
          const record = {
            taskUUID: 't', createdAt: Date.now(), status: 'done', progress: [], images: {},
            request: { model: 'pixverse:1@3', positivePrompt: 'an old clip', numberResults: 2, seed: 10 },
            results: {
              a: { ...base, videoUUID: 'a', seed: 11 },
              b: { ...base, videoUUID: 'b', seed: 10, videoURL: `http://x/media/v.mp4?expires=${past}&sig=s` },
            },
          };
          const list = document.createElement('ul');
          new GalleryView(list, document.createElement('p'), {}).render([record]);
          return { states: slots(record).map((s) => s.state), text: list.textContent };
        }""",
        [past],
    )
    assert rendered["states"] == ["expired", "expired"]
    assert "Expired" in rendered["text"]

    # A task the server does not know (its data was reset) is marked so after the refresh.
    unknown = str(uuid.uuid4())
    page.evaluate(
        """async ([key, unknown]) => {
          const { keyFingerprint } = await import('./static/js/history.js');
          const record = { taskUUID: unknown, createdAt: Date.now(), status: 'done',
                           results: {}, progress: [], images: {},
                           request: { taskType: 'videoInference', taskUUID: unknown, model: 'pixverse:1@3',
                                      positivePrompt: 'a task from another server', numberResults: 1 } };
          localStorage.setItem('cinefuse.history.' + keyFingerprint(key), JSON.stringify([record]));
          localStorage.setItem('cinefuse.apiKey', key);
        }""",
        [studio_server.api_key, unknown],
    )
    page.reload()
    page.wait_for_selector(f"{card(unknown)} .card-status:has-text('does not know')")
    context.close()


@pytest.mark.slow
def test_the_gallery_and_a_phone_sized_screen(studio: Studio, browser: Browser, artifacts: Path) -> None:
    page = studio.page
    # The history as a fresh sign-in builds it: with the key's /v1/videos videos (made by a test above).
    page.click("#refresh-history")
    page.wait_for_selector("#toast:has-text('History refreshed')", state="attached")
    tasks = page.eval_on_selector_all("#gallery-list .card", "cards => cards.map(c => c.dataset.task)")
    assert len(tasks) >= 2  # the renders of the tests above
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.evaluate("() => { window.scrollTo(0, 0); document.querySelector('.compose').scrollTop = 0; }")
    page.wait_for_function("() => [...document.querySelectorAll('#gallery-list video')].every(v => v.poster)")
    page.screenshot(path=str(artifacts / "studio-gallery.png"))
    assert studio.problems.errors == []

    # The same browser storage on a phone: signed in again, the history restored from localStorage
    # (saved a moment after each change: wait until it holds every card).
    page.wait_for_function(
        """tasks => { const saved = Object.keys(localStorage).filter(k => k.startsWith('cinefuse.history.'))
                                   .map(k => localStorage.getItem(k)).join();
                      return tasks.every(t => saved.includes(t)); }""",
        arg=tasks,
    )
    phone = new_context(browser, viewport=PHONE, storage_state=studio.context.storage_state())
    problems = PageProblems()
    small = open_studio(phone, studio.server, problems)
    small.wait_for_selector("#studio:not([hidden])")
    # Every card of the desktop's gallery (a /v1/videos video still rendering there may since have
    # finished and joined the phone's gallery too, so the phone may show more, never fewer).
    small.wait_for_function(
        "tasks => tasks.every(t => document.querySelector(`#gallery-list [data-task='${t}']`))", arg=tasks
    )
    assert small.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    small.fill("#prompt", "a red paper boat drifting on a calm lake at sunset")
    small.screenshot(path=str(artifacts / "studio-phone.png"))
    small.locator("#gallery-list .card:has(video)").first.scroll_into_view_if_needed()
    small.wait_for_function("() => [...document.querySelectorAll('#gallery-list video')].every(v => v.poster)")
    small.screenshot(path=str(artifacts / "studio-phone-gallery.png"))
    assert problems.errors == []
    phone.close()
