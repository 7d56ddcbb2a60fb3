"""In headless Chromium: the administrator sets up the HIS destination on the HL7 page, sees
an order arrive in the inbound log, its status message become a dead letter while the HIS is
down, and sends it again once the HIS is back. Nothing may leave the appliance."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth
from tests.conftest import RunningCore, free_port
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send
from tests.core_server.hl7.test_inbound import msh, pid, segment
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "password-123"


def test_destination_dead_letter_and_retry(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    auth.create_user(core.core.engine, "it", PASSWORD, "admin")
    page, guard = open_page(browser, core.base_url, "/admin/hl7", "it", PASSWORD)
    expect(page.locator("#status")).to_contain_text(f"正在监听端口 {core.settings.hl7_port}")

    his_port = free_port()
    page.click("#add-destination")
    page.fill("#destination-host", "127.0.0.1")
    page.fill("#destination-port", str(his_port))
    page.select_option("#destination-charset", "GB 18030-2000")
    page.fill("#destination-attempts", "1")
    page.fill("#destination-base", "0.1")
    # Exam status is ticked for a new destination; reports and critical values are offered.
    expect(page.locator("#destination-purposes input[value=order_status]")).to_be_checked()
    page.check("#destination-purposes input[value=critical_values]")
    page.click("#destination-form button[type=submit]")
    expect(page.locator("#destinations tbody tr")).to_contain_text("GB 18030-2000")
    expect(page.locator("#destinations tbody tr td.purposes")).to_have_text("检查状态、危急值")
    assert core.core.hl7 is not None
    assert core.core.hl7.destination("HIS").purposes == "order_status,critical_values"

    order = message(
        msh("ORM^O01", "W1", version="2.3.1"),
        pid("W001", "马^六"),
        segment("ORC", {1: "NW", 2: "WEB1^HIS"}),
        segment("OBR", {1: "1", 2: "WEB1^HIS", 4: "DR-CHEST-PA"}),
    )
    (answer,) = send(core.settings.hl7_port, order)
    assert ack_fields(answer)["code"] == "AA"
    page.select_option("#outbound-filter", "dead")
    dead = page.locator("#outbound tbody tr.job.dead")
    expect(dead).to_contain_text("死信", timeout=20_000)
    expect(page.locator("#inbound tbody tr.message.accepted")).to_contain_text("W1")
    page.locator("#inbound tbody tr.message.accepted button", has_text="查看").click()
    expect(page.locator("#message-text")).to_contain_text("WEB1^HIS")
    expect(page.locator("#message-ack")).to_contain_text("MSA|AA|W1")
    page.click("#message-close")
    page.screenshot(path=str(artifacts / "dead-letter.png"), full_page=True)

    with HisListener(his_port) as his:
        dead.locator("button.retry").click()
        page.select_option("#outbound-filter", "sent")
        expect(page.locator("#outbound tbody tr.job.sent")).to_contain_text(
            "已发送", timeout=20_000
        )
        assert len(his.messages) == 1
    page.screenshot(path=str(artifacts / "sent.png"), full_page=True)
    guard.assert_clean()


def test_allowing_a_refused_sender(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    """Once the administrator names the HIS's network, this machine is no longer let in: its
    message is refused, shows in the log as refused, and one click allows it."""
    artifacts: Path = artifacts_for(request)
    auth.create_user(core.core.engine, "it2", PASSWORD, "admin")
    page, guard = open_page(browser, core.base_url, "/admin/hl7", "it2", PASSWORD)
    expect(page.locator("#status")).to_contain_text("只接收本机")
    page.fill("#sender-address", "10.20.0.0/16")
    page.fill("#sender-note", "HIS 服务器")
    page.click("#add-sender")
    expect(page.locator("#senders tbody tr")).to_contain_text("10.20.0.0/16")
    try:
        order = message(
            msh("ORM^O01", "W2", version="2.3.1"),
            pid("W002", "马^七"),
            segment("ORC", {1: "NW", 2: "WEB2^HIS"}),
            segment("OBR", {1: "1", 2: "WEB2^HIS", 4: "DR-CHEST-PA"}),
        )
        (answer,) = send(core.settings.hl7_port, order)
        assert ack_fields(answer)["code"] == "AR"
        refused = page.locator("#inbound tbody tr.message.refused")
        expect(refused).to_contain_text("已拒绝", timeout=10_000)
        refused.locator("button.allow").click()
        expect(page.locator("#senders tbody tr")).to_have_count(2)
        expect(page.locator("#senders tbody")).to_contain_text("127.0.0.1")
        (again,) = send(core.settings.hl7_port, order)
        assert ack_fields(again)["code"] == "AA"
        page.screenshot(path=str(artifacts / "senders.png"), full_page=True)
    finally:
        assert core.core.hl7 is not None
        for sender in core.core.hl7.allowed_senders():
            core.core.hl7.forbid_sender(sender.id)
    guard.assert_clean()
