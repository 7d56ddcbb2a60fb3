"""In headless Chromium: a device asks for an enrolment code through the API as a device
does (``device_kit.enrol_code.by_code`` in a thread); the administrator opens the QR's link
``/queueing/admin?enrol=<code>``, finds that code marked and its form open, picks the screen
and confirms; the device's poll then gets its key, which works. A second code is refused and
its device hears so. Screenshots in ``test-artifacts/test_browser_enrolment/<test>/``."""

from __future__ import annotations

import threading

import httpx
import pytest
from playwright.sync_api import Page, expect

from device_kit import enrol_code, enrolment
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.device_kit.core_setup import setup_ct
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
PATH = "/api/queueing/enrolment-codes"


def test_administrator_confirms_and_refuses_device_codes(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    admin = setup_ct(core)
    shown: list[enrol_code.Code] = []
    result: list[enrolment.Enrolment] = []
    ready = threading.Event()

    def device() -> None:
        result.append(
            enrol_code.by_code(
                core.base_url, "queue-display", shown.append, interval=0.1, alive=ready.set
            )
        )

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    assert ready.wait(30)
    [code] = shown
    other = httpx.post(core.base_url + PATH, json={"kind": "kiosk", "hostname": "unknown-box"})
    assert other.status_code == 201

    tab.goto(code.qr)  # what the device's QR opens
    sign_in(tab, "admin", ADMIN_PASSWORD)
    assert tab.url == code.qr
    dialog = tab.locator("#enrol-dialog")
    expect(dialog).to_be_visible()
    expect(tab.locator("#enrol-title")).to_contain_text(code.code)
    marked = tab.locator(f"#enrolment-codes tr.wanted[data-code='{code.code}']")
    expect(marked).to_contain_text("候诊显示屏")
    expect(tab.locator(f"#enrolment-codes tr[data-code='{other.json()['code']}']")).to_contain_text(
        "unknown-box"
    )
    expect(tab.locator("#enrolment-fingerprint")).to_contain_text("未使用 HTTPS 证书")  # plain http
    tab.screenshot(path=str(shots / "confirm-form.png"), full_page=True)

    tab.fill("#enrol-fields input[name=name]", "hall-screen")
    tab.select_option("#enrol-fields select[name=screen]", "1F")
    tab.click("#enrol-save")
    expect(tab.locator("#status")).to_contain_text("已添加设备 hall-screen")
    expect(tab.locator("#devices tr[data-key=hall-screen]")).to_contain_text("一楼候诊区")
    thread.join(30)
    [record] = result
    assert record.device_name == "hall-screen"
    me = httpx.get(
        core.base_url + "/api/queueing/devices/me",
        headers={"Authorization": f"Bearer {record.device_key}"},
    )
    assert (me.status_code, me.json()["screen"]) == (200, "1F")

    tab.on("dialog", lambda box: box.accept())  # "refuse code ...?"
    refused = tab.locator(f"#enrolment-codes tr[data-code='{other.json()['code']}']")
    refused.locator("button.danger").click()
    expect(tab.locator("#status")).to_contain_text(f"已拒绝注册码 {other.json()['code']}")
    expect(refused).to_have_count(0)
    expect(tab.locator("#enrolment-codes")).to_contain_text("没有等待确认的设备")
    tab.screenshot(path=str(shots / "after.png"), full_page=True)
    assert httpx.get(core.base_url + other.json()["poll"]).status_code == 404
    assert admin.get(PATH).json() == []
