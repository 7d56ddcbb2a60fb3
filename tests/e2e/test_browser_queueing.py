"""The queue pages in Chromium: the administrator sets up a queue and a room; the desk checks
two patients in by barcode (one elderly); the web caller calls the elderly one first and starts
the exam, and the room's colour follows live on the setup page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.core_server.queueing.test_api import order_exam
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

# Browser modules share one worker, so two Chromiums never compete for the two cores.
pytestmark = pytest.mark.xdist_group("browser")


def test_setup_and_call_from_the_browser(
    core: RunningCore,
    browser: Browser,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    page, guard = open_page(browser, core.base_url, "/queueing/admin", "admin", ADMIN_PASSWORD)
    context = page.context
    expect(page.locator("h1")).to_have_text("排队叫号设置")
    expect(page.locator("#logo-preview")).to_be_hidden()  # no logo yet: no broken image
    expect(page.locator("#settings-form input[name=timezone]")).to_have_value("Asia/Shanghai")

    page.click("button.add[data-section=queues]")
    page.fill("#edit-fields input[name=code]", "CT")
    page.fill("#edit-fields input[name=name]", "CT检查")
    page.fill("#edit-fields input[name=modality]", "CT")
    page.fill("#edit-fields input[name=prefix]", "CT")
    page.click("#edit-save")
    expect(page.locator("#queues tr[data-key=CT]")).to_contain_text("CT检查")

    page.click("button.add[data-section=rooms]")
    page.fill("#edit-fields input[name=code]", "CT1")
    page.fill("#edit-fields input[name=name]", "CT一室")
    page.check("#edit-fields input[name=queues][value=CT]")  # a picker, not a typed code
    page.fill("#edit-fields input[name=min_call_interval_seconds]", "0")
    page.click("#edit-save")
    room_state = page.locator("#rooms tr[data-key=CT1] .state")
    expect(room_state).to_have_text("空闲")
    expect(room_state).to_have_class("state idle")

    # The registration desk scans the exam barcode; the slip shows the ticket.
    exam = order_exam(core, "B001", "张三丰")
    order_exam(core, "B002", "李四")
    desk = context.new_page()
    guard.watch(desk)
    desk.goto(core.base_url + "/queueing/desk")
    desk.fill("#barcode", exam.accession_number)
    desk.press("#barcode", "Enter")  # what a USB scanner sends after the code
    expect(desk.locator(".slip-number")).to_have_text("CT001")
    expect(desk.locator(".slip")).to_contain_text("张*丰")
    expect(desk.locator("#status")).to_have_text("已报到并取号")
    desk.fill("#barcode", "B002")
    desk.select_option("#priority", "elderly")
    desk.press("#barcode", "Enter")
    expect(desk.locator(".slip-number")).to_have_text("CT002")
    expect(desk.locator("#tickets tr[data-number=CT002] .ticket-priority")).to_have_value("elderly")

    caller = context.new_page()
    guard.watch(caller)
    caller.goto(core.base_url + "/queueing/caller")
    caller.select_option("#room-select", "CT1")
    expect(caller.locator("#waiting tbody tr")).to_have_count(2)
    caller.click("[data-action=call-next]")
    expect(caller.locator(".current-name")).to_have_text("李四")  # the elderly patient first
    expect(caller.locator("#room-state .state")).to_have_text("呼叫中")  # it stayed 空闲
    expect(room_state).to_have_text("呼叫中")
    caller.click("[data-action=start]")
    expect(caller.locator("#room-state .state")).to_have_text("检查中")
    # The admin page heard it over /api/ws, without a reload.
    expect(room_state).to_have_class("state busy")
    expect(room_state).to_have_text("检查中")
    caller.click("[data-action=recall]")  # recalling a patient in the exam is refused, clearly
    expect(caller.locator("#status")).to_have_text("本诊室没有当前患者")
    caller.click("[data-action=finish]")
    expect(room_state).to_have_text("空闲")
    folder = artifacts_for(request)
    caller.screenshot(path=str(folder / "caller.png"))
    desk.screenshot(path=str(folder / "desk.png"))
    page.screenshot(path=str(folder / "admin.png"), full_page=True)
    guard.assert_clean()
    context.close()


def test_the_ris_rooms_are_adopted_with_one_click(
    core: RunningCore,
    browser: Browser,  # noqa: F811
) -> None:
    page, guard = open_page(browser, core.base_url, "/queueing/admin", "admin", ADMIN_PASSWORD)
    expect(page.locator("#ris-rooms")).to_contain_text("超声一室 (US1)")
    page.click("#adopt-ris")
    expect(page.locator("#status")).to_have_text("已导入 8 个诊室、6 个队列")
    expect(page.locator("#rooms tbody tr")).to_have_count(8)
    expect(page.locator("#rooms tr[data-key=US2]")).to_contain_text("US检查")
    expect(page.locator("#screens tr[data-key=WAITING]")).to_be_visible()
    expect(page.locator("#adopt-ris")).to_be_hidden()
    # A device bound to the screen shows it under 绑定 as a screen, not under 诊室.
    page.click("button.add[data-section=devices]")
    page.fill("#edit-fields input[name=name]", "scr-1")
    page.select_option("#edit-fields select[name=kind]", "screen")
    page.select_option("#edit-fields select[name=screen]", "WAITING")
    page.click("#edit-save")
    page.click("#key-close")
    expect(page.locator("#devices thead")).to_contain_text("绑定")
    expect(page.locator("#devices tr[data-key=scr-1]")).to_contain_text("候诊屏: 候诊区")
    guard.assert_clean()
    page.context.close()
