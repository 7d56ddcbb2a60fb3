"""Playwright helpers for the browser tests: Debian's Chromium, sign-in, a network guard,
canvas pixels and screenshots kept as test artefacts.

One Chromium per test module (the ``browser`` fixture below, imported by each browser test
module), all launched with ``CHROMIUM_ARGS`` from one Playwright driver per session; each test
gets its own context (``open_page``), so cookies never leak between tests. Every browser
module is marked ``pytest.mark.xdist_group("browser")``: under ``-n 2 --dist loadgroup`` they
run on one worker, one after another, so a module's Chromium is never launched twice and two
Chromiums never compete for the two cores. Screenshots go to ``test-artifacts/<module>/<test>/``
(``artifacts_for``), never into the working directory. Browser tests skip only when Chromium
is missing (the viewer's also without the OHIF bundle: ``skip_without_ohif``), and say so in
capitals in the summary: ``make test`` installs both.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Response,
    Route,
    expect,
    sync_playwright,
)

from core_server.web.viewer.bundle import OHIF_VERSION, default_root, installed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OHIF_BUNDLE = default_root() / OHIF_VERSION
_DRIVER = pytest.StashKey["Playwright"]()


def skip_without_ohif() -> None:
    """For tests of the viewer: skip, loudly, when the OHIF bundle is not installed."""
    if not installed(OHIF_BUNDLE):
        pytest.skip(
            f"VIEWER BROWSER TESTS SKIPPED, OHIF NOT CHECKED: no bundle in {OHIF_BUNDLE} "
            "(make viewer)"
        )


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Headless Debian Chromium, one per module; the module's tests skip, loudly, without it."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"BROWSER TESTS SKIPPED, NOTHING CHECKED IN A BROWSER: no {CHROMIUM} "
            "(apt install chromium)"
        )
    chromium = _driver(request.config).chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield chromium
    finally:
        chromium.close()


def _driver(config: pytest.Config) -> Playwright:
    """Playwright's driver process, started once per test session (about 1.5 s each time
    under load) and stopped at its end; each module still gets its own Chromium."""
    driver: Playwright | None = config.stash.get(_DRIVER, None)
    if driver is None:
        driver = sync_playwright().start()
        config.stash[_DRIVER] = driver
        config.add_cleanup(driver.stop)
    return driver


def artifacts_for(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/<module>/<test>/`` (git-ignored), emptied for this run."""
    module = Path(str(request.node.fspath)).stem
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    folder = ARTIFACTS / module / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@dataclass
class NetworkGuard:
    """Aborts and records every request that leaves the appliance's origin, and records
    failed answers and Content-Security-Policy violations from this origin."""

    origin: str
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.route("**/*", self._route)

    def watch(self, page: Page) -> None:
        page.on("response", self._response)
        page.on("console", self._console)

    def _route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]

    def assert_clean(self) -> None:
        """Nothing left the appliance and the pages' scripts kept to their CSP."""
        assert self.outside == [], f"requests left the appliance: {self.outside}"
        assert self.csp_violations() == [], self.console_errors


def open_page(
    browser: Browser,
    base_url: str,
    path: str,
    username: str | None = None,
    password: str = "",
) -> tuple[Page, NetworkGuard]:
    """A new context (its own cookies) in Simplified Chinese, guarded, on ``path``; signed in
    through the login page when ``username`` is given."""
    context = browser.new_context(locale="zh-CN")
    guard = NetworkGuard(base_url)
    guard.attach(context)
    page = context.new_page()
    guard.watch(page)
    page.goto(base_url + path)
    if username is not None:
        sign_in(page, username, password)
    return page, guard


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in the login page the browser is on and submit it."""
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#login")


def assert_image_drawn(image: Locator) -> None:
    """An <img> finished loading and decoded. (Not ``wait_for_function``: its string predicate
    is an eval, which the pages' Content-Security-Policy refuses.)"""
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0


def pixels(png: bytes) -> np.ndarray:
    """A screenshot as a grey-level array."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)


def looks_blank(image: np.ndarray) -> bool:
    """All (or nearly all) one level: nothing drawn."""
    return float(image.std()) < 2.0 or len(np.unique(image)) < 8
