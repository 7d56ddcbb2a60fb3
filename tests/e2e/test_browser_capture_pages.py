"""In headless Chromium, the capture pages: a nurse registers a scope (it warns: never
disinfected), records a cycle and sees it fit for use and in today's log; a department head
watches a room's live picture drawn from a LiveFeed of numpy frames; a technician may not.
Nothing may leave the appliance."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import numpy as np
import pytest
from playwright.sync_api import Browser, expect

from capture_station.contract import Frame
from capture_station.live import LiveFeed
from core_server import auth, clock
from tests.conftest import RunningCore
from tests.e2e.browser import browser, open_page

pytestmark = pytest.mark.xdist_group("browser")
__all__ = ["browser"]

PASSWORD = "password-123"


def _wall(at: datetime) -> str:
    return clock.local(at).strftime("%Y-%m-%dT%H:%M")


def test_scopes_page(browser: Browser, core: RunningCore) -> None:
    auth.create_user(core.core.engine, "zhou", PASSWORD, "technician", "周护士")
    page, guard = open_page(browser, core.base_url, "/capture/scopes", "zhou", PASSWORD)
    page.fill("#scope-code", "GIF-01")
    page.fill("#scope-model", "GIF-H290")
    page.click("#scope-add")
    row = page.locator("#scopes tr[data-scope='GIF-01']")
    expect(row).to_contain_text("没有清洗消毒记录")
    now = clock.now()
    page.fill("#cycle-scope", "GIF-01")
    page.fill("#cycle-washer", "W1")
    page.fill("#cycle-number", "42")
    page.fill("#cycle-start", _wall(now - timedelta(minutes=40)))
    page.fill("#cycle-end", _wall(now - timedelta(minutes=5)))
    page.click("#cycle-save")
    expect(row).to_contain_text("可使用")
    expect(page.locator("#log tbody tr")).to_have_count(1)
    expect(page.locator("#log tbody tr")).to_contain_text("42")
    day = clock.today().isoformat()
    expect(page.locator("#log-pdf")).to_have_attribute(
        "href", f"/api/capture/disinfections.pdf?day={day}"
    )
    assert guard.outside == [] and guard.console_errors == [], guard.console_errors


def test_pathology_page(browser: Browser, core: RunningCore) -> None:
    from core_server.ris import OrderIn, PatientIn, ProcedureRequest

    auth.create_user(core.core.engine, "zhou", PASSWORD, "technician", "周护士")
    ris = core.core.ris
    ris.register_patient(PatientIn("P-PA-9", "WANG^JIANGUO=王^建国"), username="reg")
    order = OrderIn("O-PA-9", (ProcedureRequest("CT-CHEST"),))
    exam = ris.place_order("P-PA-9", "", order, username="reg").exams[0]
    path = f"/capture/exams/{exam.id}/pathology"
    page, guard = open_page(browser, core.base_url, path, "zhou", PASSWORD)
    expect(page.locator("#exam")).to_contain_text("王建国")
    rows = page.locator("#sites tr.cap-site")
    expect(rows).to_have_count(1)
    rows.nth(0).locator("input[type=text]").fill("胃窦")
    rows.nth(0).locator("input[type=number]").fill("2")
    page.click("#add-site")
    rows.nth(1).locator("input[type=text]").fill("胃角")
    expect(page.locator("#total")).to_have_text("3")
    page.fill("#clinical", "上腹痛")
    page.click("#save")
    expect(page.locator("#print-a5")).to_be_visible()
    with core.api() as admin:
        saved = admin.get(f"/api/capture/exams/{exam.id}/pathology").json()
    assert [(s["site"], s["specimens"]) for s in saved["sites"]] == [("胃窦", 2), ("胃角", 1)]
    page.reload()
    expect(rows).to_have_count(2)
    assert guard.outside == [] and guard.console_errors == [], guard.console_errors


def test_live_page(browser: Browser, core: RunningCore) -> None:
    engine = core.core.engine
    auth.create_user(engine, "wu", PASSWORD, "department_head", "吴主任")
    auth.create_user(engine, "ma", PASSWORD, "technician", "马技师")
    with core.api() as admin:
        key = admin.post("/api/queueing/devices", json={"name": "WEIJING1", "kind": "capture"})
    pixels = np.full((240, 320, 3), 90, np.uint8)
    feed = LiveFeed(core.base_url, key.json()["key"], lambda: Frame(pixels, time.monotonic()))
    feed.start()
    try:
        deadline = time.monotonic() + 15
        while not feed.connected:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        page, guard = open_page(browser, core.base_url, "/capture/live", "wu", PASSWORD)
        page.locator("#rooms button[data-room='WEIJING1']").click()
        canvas = page.locator("#picture")
        expect(canvas).to_have_attribute("data-frames", re.compile(r"^[3-9]|\d\d"))
        # The frame's grey (90) drawn, through JPEG: a pixel in the middle.
        grey = canvas.evaluate("c => c.getContext('2d').getImageData(160, 120, 1, 1).data[0]")
        assert 80 <= grey <= 100
        assert guard.outside == [] and guard.console_errors == [], guard.console_errors
        other, _ = open_page(browser, core.base_url, "/capture/live", "ma", PASSWORD)
        answer = other.goto(core.base_url + "/capture/live")
        assert answer is not None and answer.status == 403
        assert other.locator("#rooms").count() == 0
    finally:
        feed.stop()
