"""In headless Chromium, the study list and a study whose online copy is gone: it is marked
"近线" (a wholly online study is not); its retrieve button asks for the recall and the mark
follows the archive.recall events pushed by /api/ws ("取回失败" while its offline set is
taken away, "已在线" once recalled); opening it goes through the retrieving page, which
names the set to insert, tries again once it is back, recalls and then opens the viewer;
the viewer's own address (how other pages open it) sends a nearline study through the
retrieving page as well."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pydicom.uid import generate_uid

from core_server import auth
from core_server.archive import Archive, Origin, copies
from core_server.archive.areas import AreaSpec
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")
PASSWORD = "password-123"


def _study(archive: Archive, name: str, count: int) -> tuple[str, list[str]]:
    study, series = generate_uid(), generate_uid()
    uids = [
        archive.store_instance(
            encode(
                make_ct(
                    study_uid=study,
                    series_uid=series,
                    instance_number=n,
                    patient_name=name,
                    charset="ISO_IR 192",
                )
            ),
            Origin("dimse", "CT01"),
        ).sop_instance_uid
        for n in range(1, count + 1)
    ]
    return study, uids


def _drop(archive: Archive, uids: list[str]) -> None:
    for uid in uids:
        assert copies.drop_online(archive.engine, archive.areas, uid)


def _popup_of(page: Page, guard: NetworkGuard, study: str) -> Page:
    with page.expect_popup() as opened:
        page.locator(f"tr[data-study-instance-uid='{study}'] a.open-viewer").click()
    popup = opened.value
    guard.watch(popup)
    return popup


def test_nearline_study_is_retrieved_from_the_list(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    artifacts: Path = artifacts_for(request)
    archive = core.core.archive
    vault = tmp_path / "vault"
    vault.mkdir()
    archive.areas.create(AreaSpec("vault", "offline", str(vault), label="SET-A"))
    study, uids = _study(archive, "WANG^JIANGUO=王^建国", 3)
    online_study, _ = _study(archive, "李^四", 1)
    for uid in uids:
        assert copies.copy_to(archive.engine, archive.areas, uid, "vault").verified
    _drop(archive, uids)
    shutil.move(vault / "SET-A", tmp_path / "SET-A")  # the set is taken away
    auth.create_user(core.core.engine, "reader", PASSWORD, "reporting_doctor")
    page, guard = open_page(browser, core.base_url, "/studies", "reader", PASSWORD)
    page.context.route(  # OHIF itself is not needed here: its page is a stand-in
        "**/viewer?*",
        lambda route: route.fulfill(body="<p id=viewer>viewer</p>", content_type="text/html"),
    )
    row = page.locator(f"tr[data-study-instance-uid='{study}']")
    mark = row.locator(".badge.nearline")
    expect(mark).to_have_text("近线")
    expect(
        page.locator(f"tr[data-study-instance-uid='{online_study}'] .badge.nearline")
    ).to_have_count(0)
    expect(row.locator("a.open-viewer")).to_have_attribute(
        "href", f"/storage/retrieve?study={study}"
    )

    row.locator("button.retrieve").click()
    expect(mark).to_have_attribute("data-state", "retrieve_failed", timeout=30_000)
    popup = _popup_of(page, guard, study)
    expect(popup.locator("#error")).to_contain_text("SET-A", timeout=30_000)
    popup.screenshot(path=str(artifacts / "retrieve-insert-set.png"), full_page=True)
    shutil.move(tmp_path / "SET-A", vault / "SET-A")  # the set is put back: try again
    popup.click("#retry")
    popup.wait_for_url("**/viewer?StudyInstanceUIDs=*", timeout=30_000)
    expect(popup.locator("#viewer")).to_have_text("viewer")
    popup.close()
    expect(mark).to_have_text("已在线", timeout=30_000)  # the list heard the same recall
    expect(row.locator("a.open-viewer")).to_have_attribute(
        "href", f"/viewer?StudyInstanceUIDs={study}"
    )
    assert copies.not_online(archive.engine, uids) == set()

    _drop(archive, uids)
    page.reload()
    expect(mark).to_have_text("近线")
    row.locator("button.retrieve").click()
    expect(mark).to_have_text("已在线", timeout=30_000)
    assert copies.not_online(archive.engine, uids) == set()

    _drop(archive, uids)
    page.reload()
    expect(mark).to_have_text("近线")
    page.screenshot(path=str(artifacts / "studies-nearline.png"), full_page=True)
    popup = _popup_of(page, guard, study)
    popup.wait_for_url("**/viewer?StudyInstanceUIDs=*", timeout=30_000)
    expect(popup.locator("#viewer")).to_have_text("viewer")
    assert copies.not_online(archive.engine, uids) == set()

    # Opened elsewhere (the report editor, the technician's list) by the viewer's address:
    # the viewer sends a nearline study through the retrieving page too.
    _drop(archive, uids)
    both = f"/viewer?StudyInstanceUIDs={study},{online_study}"
    with core.api() as client:
        sent = client.get(both, follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/storage/retrieve?study={study}%2C{online_study}"
        straight = client.get(f"/viewer?StudyInstanceUIDs={online_study}", follow_redirects=False)
        assert straight.headers["location"].startswith("/viewer/viewer?")
    page.goto(core.base_url + sent.headers["location"])
    page.wait_for_url("**/viewer?StudyInstanceUIDs=*", timeout=30_000)
    expect(page.locator("#viewer")).to_have_text("viewer")
    assert copies.not_online(archive.engine, uids) == set()
    guard.assert_clean()


def test_a_registrar_reaches_the_import_page_from_registration(
    browser: Browser,  # noqa: F811
    core: RunningCore,
) -> None:
    """The import page is a registrar's too: linked from the registration page (a seventh
    header link would fold the registrar's work menu)."""
    auth.create_user(core.core.engine, "desk", PASSWORD, "registrar")
    page, guard = open_page(browser, core.base_url, "/ris/register", "desk", PASSWORD)
    page.click("#import-disc")
    page.wait_for_url("**/storage/import")
    expect(page.locator("h1")).to_have_text("导入外院光盘或文件")
    guard.assert_clean()
