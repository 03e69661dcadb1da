"""``/docs`` in a real browser: Swagger UI renders the API from this server alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.integration.conftest import LiveServer
from tests.web.conftest import PageProblems, new_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_the_api_reference_renders_offline(browser: Browser, studio_server: LiveServer, artifacts: Path) -> None:
    context = new_context(browser)
    elsewhere: list[str] = []
    # Any request to another host would fail here (no internet) and leave a blank page.
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(studio_server.base_url)
            else (elsewhere.append(route.request.url), route.abort())
        ),
    )
    problems = PageProblems()
    page = context.new_page()
    problems.watch(page)
    page.goto(studio_server.base_url + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent.trim())")
    assert "/v1" in paths and "/v1/models" in paths, paths
    page.click("#operations-tasks-post_v1 .opblock-summary, .opblock-post:has-text('/v1') .opblock-summary")
    page.wait_for_selector(".opblock-body")
    page.screenshot(path=str(artifacts / "api-docs.png"))
    assert elsewhere == []
    assert problems.errors == []
    context.close()
