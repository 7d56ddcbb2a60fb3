"""The forwarding page in headless Chromium, in Chinese: an admin adds a DICOM destination
with the form and tests it (a real pynetdicom peer answers the C-ECHO), adds a rule for CT,
applies it to the stored study (its objects queued, the queue's counts show them) and
disables it, sees a dead task's last error appear in the tasks table (polled) and re-queues
it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from core_server import auth
from core_server.archive import Origin
from core_server.jobs import Retry
from core_server.storage.forwarding import queue
from tests.conftest import RunningCore, free_port
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")
PASSWORD = "password-123"
WAIT = 30_000  # ms: a loaded machine is slow, never wrong
ERROR = "C-STORE 被拒绝：0xA700 存储空间不足"


@pytest.fixture
def echo_peer() -> Iterator[int]:
    ae = AE(ae_title="PEER")
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        yield port
    finally:
        server.shutdown()


def test_destination_rule_dead_task_and_requeue_in_the_page(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    echo_peer: int,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    engine = core.core.engine
    study, series = generate_uid(), generate_uid()
    for n in (1, 2):
        ds = make_ct(study_uid=study, series_uid=series, instance_number=n)
        core.core.archive.store_instance(encode(ds), Origin("dimse", "CT01"))
    auth.create_user(engine, "fw-admin", PASSWORD, "admin")
    page, guard = open_page(
        browser, core.base_url, "/admin/storage/forwarding", "fw-admin", PASSWORD
    )
    expect(page.locator("h1")).to_have_text("影像转发")

    form = "#destination-form"
    page.fill(f"{form} [name=name]", "二号PACS")
    page.fill(f"{form} [name=ae_title]", "PEER")
    page.fill(f"{form} [name=host]", "127.0.0.1")
    page.fill(f"{form} [name=port]", str(echo_peer))
    page.uncheck(f"{form} [name=enabled]")  # the worker leaves its tasks as the test makes them
    page.click(f"{form} [type=submit]")
    row = page.locator("#destinations tbody tr")
    expect(row).to_have_count(1, timeout=WAIT)
    expect(row).to_contain_text(f"PEER@127.0.0.1:{echo_peer}")
    row.get_by_role("button", name="测试连接").click()
    expect(row.locator(".answer")).to_have_attribute("data-ok", "true", timeout=WAIT)
    expect(row.locator(".answer")).to_have_text("连接正常")
    destination_id = int(row.get_attribute("data-id") or 0)

    page.fill("#rule-form [name=name]", "CT 到二号PACS")
    page.select_option("#rule-form [name=destination_id]", str(destination_id))
    page.fill("#rule-form [name=modality]", "CT")
    page.click("#rule-form [type=submit]")
    rule = page.locator("#rules tbody tr")
    expect(rule).to_have_count(1, timeout=WAIT)
    expect(rule).to_contain_text("二号PACS")
    rule.get_by_role("button", name="应用到已存检查").click()
    expect(rule.locator(".answer")).to_have_attribute("data-queued", "2", timeout=WAIT)
    pending = page.locator(f"#queue tr[data-id='{destination_id}'] td[data-state=pending]")
    expect(pending).to_contain_text("2", timeout=WAIT)
    rule.get_by_role("button", name="停用").click()  # saved by PUT, shown on the row
    expect(rule).to_contain_text("已停用", timeout=WAIT)
    expect(rule.get_by_role("button", name="启用")).to_be_visible()

    (task,) = queue.claim_batch(
        engine, "test", timedelta(minutes=5), 1, destinations=[destination_id]
    )
    queue.record(engine, task, "test", Retry(1, 1, 1), status="failed", error=ERROR)
    dead = page.locator(f"#tasks tr[data-id='{task.id}']")  # the table shows dead ones first
    expect(dead.locator(".last-error")).to_have_text(ERROR, timeout=WAIT)  # polled
    expect(dead.locator(".state")).to_have_text("失败")
    page.screenshot(path=str(artifacts / "forwarding.png"), full_page=True)
    dead.get_by_role("button", name="重新排队").click()
    expect(dead).to_have_count(0, timeout=WAIT)
    (again,) = [t for t in queue.listed(engine, status="pending") if t["id"] == task.id]
    assert again["attempts"] == 0
    expect(pending).to_contain_text("2", timeout=WAIT)
    guard.assert_clean()
