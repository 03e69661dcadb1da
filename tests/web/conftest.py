"""Fixtures for the web studio's tests: a real ``cinefuse serve`` and Debian's chromium.

The browser is Playwright's Python API driving ``/usr/bin/chromium`` (Debian's package,
which ``scripts/test`` installs with apt-get when it is missing), never a browser that
Playwright downloads. Without it, or without the ``playwright`` package, the browser tests
skip with the reason. Screenshots go to ``test-artifacts/studio/`` at the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.integration.conftest import LiveServer, start_live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "studio"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 375, "height": 812}
#: How long the page may take for one step (ms): a render of the preview engine is seconds.
STEP_MS = 20_000


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        return f"Debian's chromium is not installed at {CHROMIUM} (scripts/test installs it: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Not session-scoped: Playwright's sync API
    keeps an event loop marked running in this thread while it is open, so ``asyncio.run``
    in any later test of the same (xdist) worker would fail."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the studio's tests (one worker: jobs run one after another)."""
    server = start_live_server(tmp_path_factory.mktemp("cinefuse-studio"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class PageProblems:
    """Uncaught page errors and console errors, collected while a test runs."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
    context.set_default_timeout(STEP_MS)
    return context


def open_studio(context: BrowserContext, server: LiveServer, problems: PageProblems | None = None) -> Page:
    """A page of the studio, its model list loaded (not signed in unless the context's storage says so)."""
    page = context.new_page()
    if problems is not None:
        problems.watch(page)
    page.goto(server.base_url + "/")
    page.wait_for_selector("body[data-ready=true]")
    return page


def sign_in(page: Page, key: str, *, remember: bool = False) -> None:
    """Sign in with ``key``; ``remember``: ticking "Remember on this device" (kept in localStorage)."""
    page.fill("#api-key", key)
    if remember:
        page.check("#remember-key")
    page.click("#sign-in-button")
    page.wait_for_selector("#studio:not([hidden])")
    page.wait_for_function("() => document.querySelector('#connection').dataset.state === 'websocket'")
