"""In headless Chromium: a capture station's still (VL Endoscopic Image, JPEG Baseline) and clip
(Video Endoscopic Image, MPEG-4 AVC/H.264 High Profile) stored in one study; OHIF draws the
still and plays the clip (its ``<video>`` element's ``currentTime`` advances), fetched from our
DICOMweb as ``video/mp4`` from the instance's rendered resource. Nothing leaves the appliance.

Screenshots are kept in ``test-artifacts/test_browser_capture_viewer/<test>/``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from capture_station.contract import Frame
from capture_station.media.clip import ClipRecorder, clip_dataset
from capture_station.media.still import encode_still, still_dataset
from core_server.archive import Origin
from tests.capture_station.media_data import capture, pattern, station
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    looks_blank,
    pixels,
    sign_in,
    skip_without_ohif,
)

pytestmark = pytest.mark.xdist_group("browser")
RENDER_WAIT_S = 60


def _bytes(ds) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCore, str, str]]:
    """A running core with one study: a still (series 1) and a 4 s clip (series 2)."""
    skip_without_ohif()
    folder = tmp_path_factory.mktemp("capture-viewer")
    core = RunningCore(folder / "data").start()
    try:
        still = capture("still", 320, 240)
        frame = pattern(320, 240)
        ds = still_dataset(encode_still(frame, 90), still, station("endoscopy"))
        core.core.archive.store_instance(_bytes(ds), Origin("test"))
        recorder = ClipRecorder(folder / "clip.mp4", 320, 240, 25, max_seconds=60)
        for index in range(100):  # 4 s: long enough to see it play
            recorder.add(Frame(np.roll(frame.pixels, index * 3, axis=1), 0.0, index))
        recorder.finish()
        clip = capture("clip", 320, 240)
        ds = clip_dataset(folder / "clip.mp4", clip, station("endoscopy"))
        core.core.archive.store_instance(_bytes(ds), Origin("test"))
        yield core, still.exam.study_instance_uid, clip.sop_instance_uid
    finally:
        core.stop()


def _drawn(page: Page) -> np.ndarray:
    canvas = page.locator(".cornerstone-canvas").first
    canvas.wait_for(state="visible", timeout=RENDER_WAIT_S * 1000)
    deadline = time.monotonic() + RENDER_WAIT_S
    while True:
        image = pixels(canvas.screenshot())
        if not looks_blank(image) or time.monotonic() > deadline:
            return image
        page.wait_for_timeout(250)


_VIDEO_STATE = """() => {
    for (const engine of window.cornerstone.getRenderingEngines()) {
        for (const viewport of engine.getViewports()) {
            const video = viewport.videoElement;
            if (video && video.src) {
                return {time: video.currentTime, ready: video.readyState, src: video.src,
                        paused: video.paused, error: video.error ? video.error.code : null};
            }
        }
    }
    return null;
}"""


def _wait_video(page: Page, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The video viewport's element state (currentTime, readyState, error) once ``done``."""
    deadline = time.monotonic() + RENDER_WAIT_S
    while True:
        state = page.evaluate(_VIDEO_STATE)
        if state is not None and done(state):
            return state
        assert time.monotonic() < deadline, f"video state never reached: {state}"
        page.wait_for_timeout(200)


def test_ohif_draws_the_still_and_plays_the_clip(
    browser: Browser,  # noqa: F811
    site: tuple[RunningCore, str, str],
    request: pytest.FixtureRequest,
) -> None:
    core, study, clip_uid = site
    folder = artifacts_for(request)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    guard = NetworkGuard(core.base_url)
    guard.attach(context)
    page = context.new_page()
    guard.watch(page)
    videos: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            videos.append((r.status, r.headers.get("content-type", "")))
            if "/rendered" in r.url
            else None
        ),
    )
    try:
        page.goto(f"{core.base_url}/viewer/viewer?StudyInstanceUIDs={study}")
        sign_in(page, "admin", ADMIN_PASSWORD)
        page.wait_for_url(f"**/viewer/viewer?StudyInstanceUIDs={study}*")
        # Two series: the still (series 1) and the clip (series 2, a thumbnail without image).
        thumbnails = page.locator('[data-cy^="study-browser-thumbnail"]')
        expect(thumbnails).to_have_count(2, timeout=RENDER_WAIT_S * 1000)
        still = _drawn(page)
        page.screenshot(path=str(folder / "1-still.png"))
        assert not looks_blank(still), "OHIF drew nothing for the still"
        assert still.max() - still.min() > 100  # testsrc2's bars and gradients

        thumbnails.nth(1).dblclick()
        # Cornerstone's video viewport holds a <video> element off the page: loaded, no error.
        loaded = _wait_video(page, lambda v: v["ready"] >= 2 or v["error"] is not None)
        assert loaded["error"] is None, f"the browser cannot play the clip: {loaded}"
        assert loaded["src"].endswith(f"/instances/{clip_uid}/rendered")
        page.screenshot(path=str(folder / "2-clip-loaded.png"))
        # OHIF's cine player (更多工具 -> Cine) plays it.
        page.click('[data-cy="MoreTools-split-button-secondary"]')
        page.click('[data-cy="Cine"]')
        page.click('[data-cy="cine-player-play-pause"]')
        playing = _wait_video(page, lambda v: v["time"] > 0.5)
        page.screenshot(path=str(folder / "3-clip-playing.png"))
        assert playing["time"] > 0.5 and not playing["paused"], playing
        assert not looks_blank(pixels(page.locator(".cornerstone-canvas").first.screenshot()))
        assert (206, "video/mp4") in videos or (200, "video/mp4") in videos, videos
        assert guard.outside == [], guard.outside
        # Before the video viewport takes over, OHIF's stack prefetch asks for frames of the
        # clip; a frame cannot be cut out of an H.264 stream: 404 (docs/capture-media.md).
        unexpected = [f for f in guard.failed if "/frames/" not in f]
        assert unexpected == [], guard.failed
        assert guard.csp_violations() == []
    finally:
        context.close()
