"""In headless Chromium: a doctor signs in, finds a patient by pinyin initials, opens the study
in OHIF (a new tab), sees the CT image drawn, changes its window/level with the mouse and opens
the MPR layout; the viewport's corners name the patient (王建国 from WANG^JIANGUO=王^建国) and the
image in the hospital's layout, in Chinese or English; an EMR's launch link goes through sign-in
to the accession's images, opens them directly once signed in, and a session ended elsewhere
sends the viewer back to sign-in; compressed images are decoded in the browser. Nothing may
leave the appliance.

Screenshots are kept in ``test-artifacts/test_browser_viewer/<test>/``.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pydicom import dcmread
from pydicom.uid import generate_uid

from core_server.archive import Origin
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct, testdata
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    looks_blank,
    pixels,
    sign_in,
    skip_without_ohif,
)

# Browser modules share one worker, so two Chromiums never compete for the two cores.
pytestmark = pytest.mark.xdist_group("browser")

DOCTOR, PASSWORD = "dr_wang", "password-123"
ACCESSION = "CT20261128001"
# OHIF renders in a web worker and WebGL (SwiftShader here): give it time on a busy machine.
RENDER_WAIT_S = 60
SLICES = 12  # enough for OHIF to build a volume for its MPR layout


def _phantom(slice_index: int) -> np.ndarray:
    """A 128x128 CT slice in stored values (HU + 1024): air, a soft-tissue disc with a left-
    to-right ramp, and a bone insert that moves from slice to slice."""
    y, x = np.mgrid[-64:64, -64:64]
    hu = np.full((128, 128), -1000.0)
    body = x * x + y * y < 56 * 56
    hu[body] = 20 + (x[body] + 64) * 1.5
    hu[(x - 12 + 4 * slice_index) ** 2 + (y + 8) ** 2 < 14 * 14] = 900
    return (hu + 1024).astype(np.int16)


# pydicom's compressed samples, kept compressed: OHIF decodes them in the browser with its
# WebAssembly codecs, in web workers, under the viewer's CSP and COEP.
COMPRESSED = (
    ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS lossless"),
    ("JPEG2000.dcm", "JPEG 2000"),
    ("SC_rgb_jpeg_dcmtk.dcm", "JPEG baseline RGB"),
)
COMPRESSED_ACCESSION = "MIX001"
# A patient whose modality wrote both name groups, in UTF-8; four 5 mm slices.
WANG_ACCESSION, WANG_ID, WANG_SLICES = "CT20261201001", "P20261201", 4


def _store_compressed_study(core: RunningCore) -> None:
    """One study, one series per compressed transfer syntax, new UIDs (the samples share some)."""
    study = generate_uid()
    for number, (name, description) in enumerate(COMPRESSED, start=1):
        sample = dcmread(testdata(name))
        sample.StudyInstanceUID, sample.SeriesInstanceUID = study, generate_uid()
        sample.SOPInstanceUID = sample.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        sample.PatientID, sample.PatientName = "P3", "Wang^Wu"
        sample.AccessionNumber, sample.SeriesNumber = COMPRESSED_ACCESSION, number
        sample.SeriesDescription = description
        buffer = io.BytesIO()
        sample.save_as(buffer, enforce_file_format=True)
        core.core.archive.store_instance(buffer.getvalue(), Origin("test"))


def _store_wang_study(core: RunningCore) -> None:
    study, series = generate_uid(), generate_uid()
    for index in range(WANG_SLICES):
        ct = make_ct(
            patient_id=WANG_ID,
            patient_name="WANG^JIANGUO=王^建国",
            charset="ISO_IR 192",
            study_uid=study,
            series_uid=series,
            accession=WANG_ACCESSION,
            study_date="20261201",
            study_time="143000",
            instance_number=index + 1,
            size=128,
            InstitutionName="北京协和医院",
            StudyDescription="头颅CT平扫",
            SeriesNumber=3,
            SeriesDescription="脑窗",
            RescaleIntercept=-1024,
            RescaleSlope=1,
            WindowCenter=40,
            WindowWidth=80,
            ImagePositionPatient=[-64.0, -64.0, 5.0 * index],
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
            PixelSpacing=[1, 1],
            SliceThickness=5,
        )
        ct.PixelData = _phantom(index).tobytes()
        core.core.archive.store_instance(encode(ct), Origin("test"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCore, str]]:
    """A running core holding 张三's CT (GB18030, Chinese name only) and another patient,
    and a reporting doctor who has chosen a password. Yields (core, study UID)."""
    skip_without_ohif()
    core = RunningCore(tmp_path_factory.mktemp("browser") / "data").start()
    try:
        study, series = generate_uid(), generate_uid()
        frame_of_reference = generate_uid()
        for index in range(SLICES):
            ct = make_ct(
                patient_id="P20261128",
                patient_name="张^三",
                charset="GB18030",
                study_uid=study,
                series_uid=series,
                accession=ACCESSION,
                instance_number=index + 1,
                size=128,
                StudyDescription="胸部CT平扫",
                RescaleIntercept=-1024,
                RescaleSlope=1,
                WindowCenter=40,
                WindowWidth=400,
                ImagePositionPatient=[-64.0, -64.0, 5.0 * index],
                ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                PixelSpacing=[1, 1],
                SliceThickness=5,
                FrameOfReferenceUID=frame_of_reference,
            )
            ct.PixelData = _phantom(index).tobytes()
            core.core.archive.store_instance(encode(ct), Origin("test"))
        # A second series, not opened until the session has ended (the EMR test).
        late = generate_uid()
        for index in range(SLICES):
            ct = make_ct(
                patient_id="P20261128",
                patient_name="张^三",
                charset="GB18030",
                study_uid=study,
                series_uid=late,
                accession=ACCESSION,
                instance_number=index + 1,
                size=128,
                SeriesNumber=2,
                SeriesDescription="肺窗",
            )
            ct.PixelData = _phantom(index + 1).tobytes()
            core.core.archive.store_instance(encode(ct), Origin("test"))
        other = make_ct(patient_id="P2", patient_name="李^四", charset="GB18030", accession="X2")
        core.core.archive.store_instance(encode(other), Origin("test"))
        _store_compressed_study(core)
        _store_wang_study(core)
        with core.api() as admin:
            admin.post(
                "/api/users",
                json={"username": DOCTOR, "password": "first-pass-1", "role": "reporting_doctor"},
            ).raise_for_status()
        with core.api(DOCTOR, "first-pass-1") as first:
            change = {"current_password": "first-pass-1", "new_password": PASSWORD}
            first.post("/api/auth/password", json=change).raise_for_status()
        yield core, study
    finally:
        core.stop()


@pytest.fixture
def context(browser: Browser, site: tuple[RunningCore, str]) -> Iterator[BrowserContext]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        yield context
    finally:
        context.close()


def _guarded_page(context: BrowserContext, core: RunningCore) -> tuple[Page, NetworkGuard]:
    guard = NetworkGuard(core.base_url)
    guard.attach(context)
    page = context.new_page()
    guard.watch(page)
    return page, guard


def _rendered_image(page: Page, folder: Path, name: str, viewport: int = 0) -> np.ndarray:
    """A viewport's pixels once OHIF has drawn something in it; screenshots kept."""
    canvas = page.locator(".cornerstone-canvas").nth(viewport)
    canvas.wait_for(state="visible", timeout=RENDER_WAIT_S * 1000)
    deadline = time.monotonic() + RENDER_WAIT_S
    while True:
        shot = canvas.screenshot()
        image = pixels(shot)
        if not looks_blank(image) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    (folder / f"{name}-viewport.png").write_bytes(shot)
    page.screenshot(path=str(folder / f"{name}-page.png"))
    return image


# The window the viewport's corner shows: 窗宽 400 窗位 40 (W: 400 L: 40 in English).
_WINDOW = r"(?:窗宽|W:)\s*(-?\d+)\s*(?:窗位|L:)\s*(-?\d+)"


def _window_level(page: Page) -> tuple[str, str]:
    """The W/L that OHIF's viewport overlay shows."""
    shown = re.search(_WINDOW, page.locator("body").inner_text())
    assert shown, "no W/L overlay"
    return shown.group(1), shown.group(2)


def _corner(page: Page, corner: str, viewport: int = 0) -> list[str]:
    """The lines of one corner of a viewport's overlay (top-left, bottom-right...), spaces
    collapsed, empty lines left out."""
    box = page.locator(f'[data-cy="viewport-overlay-{corner}"]').nth(viewport)
    return [" ".join(line.split()) for line in box.inner_text().splitlines() if line.strip()]


def _assert_stayed_home(page: Page, guard: NetworkGuard) -> None:
    assert guard.outside == [], f"requests left the appliance: {guard.outside}"
    assert guard.failed == [], f"failed requests: {guard.failed}"
    assert guard.csp_violations() == []
    assert page.evaluate("() => self.crossOriginIsolated") is True  # SharedArrayBuffer works


def test_find_by_pinyin_initials_open_and_window(
    context: BrowserContext, site: tuple[RunningCore, str], request: pytest.FixtureRequest
) -> None:
    core, study = site
    folder = artifacts_for(request)
    page, guard = _guarded_page(context, core)

    page.goto(core.base_url + "/studies")
    assert page.url.startswith(core.base_url + "/login?next=")  # sign in first
    sign_in(page, DOCTOR, PASSWORD)
    assert page.url.startswith(core.base_url + "/studies")
    page.wait_for_load_state("networkidle")  # the list's module script is deferred

    page.fill("#q", "ZS")
    page.press("#q", "Enter")
    rows = page.locator("tr.study")
    expect(rows).to_have_count(1)  # the list showed every study before the search answered
    assert "张三" in rows.first.inner_text().replace(" ", "").replace("^", "")
    page.screenshot(path=str(folder / "1-study-list.png"))

    with context.expect_page() as opened:  # the viewer opens in a new tab
        rows.first.locator("a[href^='/viewer']").first.click()
    page = opened.value
    guard.watch(page)
    page.wait_for_url(f"**/viewer/viewer?StudyInstanceUIDs={study}*")
    before = _rendered_image(page, folder, "2-opened")
    assert not looks_blank(before), "OHIF drew nothing"
    assert before.max() - before.min() > 100  # air, tissue ramp and bone: real contrast

    assert _window_level(page) == ("400", "40")  # from the objects' WindowWidth/Center
    # OHIF's patient panel, open without a click (no English "Patient" to press): the GB18030
    expect(page.get_by_text(re.compile(r"^张,\s*三$"))).to_have_count(1)  # name came intact
    expect(page.get_by_text("Patient", exact=True)).to_have_count(0)
    assert _corner(page, "top-left")[:1] == ["张三"]  # and the viewport's corner, as we write it
    page.screenshot(path=str(folder / "2-patient-panel.png"))
    # Window/level is OHIF's primary mouse tool: drag right (wider) and down (brighter level).
    box = page.locator(".cornerstone-canvas").first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y + 100, steps=15)
    page.mouse.up()
    # OHIF updates its overlay on Cornerstone's VOI-modified event, after the new frame.
    page.wait_for_function(r"() => !/窗宽\s*400\s*窗位\s*40\b/.test(document.body.innerText)")
    after = _rendered_image(page, folder, "3-windowed")
    width, level = _window_level(page)
    assert int(width) > 400 and int(level) > 40, (width, level)
    changed = np.abs(after - before) > 8
    assert changed.mean() > 0.05, f"window/level changed only {changed.mean():.1%} of pixels"

    # The layout menu's MPR (in OHIF's Chinese: 多平面重建) builds a volume from the series:
    # axial, sagittal and coronal planes drawn.
    page.click('[data-cy="Layout"]')
    page.get_by_text("多平面重建", exact=True).click()
    expect(page.locator(".cornerstone-canvas")).to_have_count(3, timeout=RENDER_WAIT_S * 1000)
    planes = [_rendered_image(page, folder, f"4-mpr-{index}", index) for index in range(3)]
    assert not any(looks_blank(plane) for plane in planes)
    _assert_stayed_home(page, guard)


def test_viewport_corners_name_the_patient_and_the_image(
    context: BrowserContext, site: tuple[RunningCore, str], request: pytest.FixtureRequest
) -> None:
    """The four corners in the hospital's layout: who (王建国 from WANG^JIANGUO=王^建国, sex,
    age, birth date, ID), where and what (hospital, study, series), which image (number, slice)
    and how it is shown (window, zoom); in English when the appliance is."""
    core, _study = site
    folder = artifacts_for(request)
    page, guard = _guarded_page(context, core)
    page.goto(f"{core.base_url}/viewer/launch?AccessionNumber={WANG_ACCESSION}")
    sign_in(page, DOCTOR, PASSWORD)
    page.wait_for_url("**/viewer/viewer?StudyInstanceUIDs=*")
    assert not looks_blank(_rendered_image(page, folder, "1-chinese"))
    expect(page.locator('[data-cy="viewport-overlay-top-left"]')).to_contain_text("王建国")
    assert _corner(page, "top-left") == ["王建国", "男 · 46岁 · 1980-01-01", f"患者ID {WANG_ID}"]
    assert _corner(page, "top-right") == [
        "北京协和医院",  # no hospital name configured: the images' institution
        "2026-12-01 14:30",
        "头颅CT平扫",
        "序列 3 脑窗",
    ]
    image, slice_text = _corner(page, "bottom-left")
    first = re.fullmatch(r"层位 (\d+) mm 层厚 5 mm", slice_text)
    # OHIF orders the stack by position (first at one end: 0 or 15 mm); no SliceLocation in
    # the objects, so the location comes from ImagePositionPatient.
    assert image == f"图像 1/{WANG_SLICES}" and first and first.group(1) in ("0", "15"), slice_text
    window, zoom = _corner(page, "bottom-right")
    assert window == "窗宽 80 窗位 40" and re.fullmatch(r"缩放 \d+\.\d\d×", zoom), zoom
    # The next image (the mouse wheel scrolls the stack): its number and slice follow.
    box = page.locator(".cornerstone-canvas").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 120)
    expect(page.locator('[data-cy="viewport-overlay-bottom-left"]')).to_contain_text(
        f"图像 2/{WANG_SLICES}"
    )
    step = 5 if first.group(1) == "0" else -5
    following = f"层位 {int(first.group(1)) + step} mm 层厚 5 mm"
    assert _corner(page, "bottom-left") == [f"图像 2/{WANG_SLICES}", following]
    page.screenshot(path=str(folder / "2-next-image.png"))

    # The appliance switched to English: the corners' labels follow on the next load.
    context.add_cookies([{"name": "lang", "value": "en", "url": core.base_url}])
    page.reload()
    assert not looks_blank(_rendered_image(page, folder, "3-english"))
    expect(page.locator('[data-cy="viewport-overlay-top-left"]')).to_contain_text(WANG_ID)
    assert _corner(page, "top-left") == ["王建国", "M · 46 y · 1980-01-01", f"ID {WANG_ID}"]
    assert _corner(page, "top-right")[-1] == "Se 3 脑窗"
    assert _corner(page, "bottom-left")[0] == f"Im 1/{WANG_SLICES}"
    assert _corner(page, "bottom-right")[0] == "W: 80 L: 40"
    _assert_stayed_home(page, guard)


def test_emr_launch_link_signs_in_then_opens_the_accession(
    context: BrowserContext, site: tuple[RunningCore, str], request: pytest.FixtureRequest
) -> None:
    core, study = site
    folder = artifacts_for(request)
    page, guard = _guarded_page(context, core)
    launch = f"{core.base_url}/viewer/launch?AccessionNumber={ACCESSION}"
    # The EMR is another site; its page links to our launch URL (served here by the browser
    # itself, so nothing leaves the machine).
    emr = "http://emr.hospital.example/patient"
    context.route(
        emr,
        lambda route: route.fulfill(
            content_type="text/html; charset=utf-8",
            body=f'<!doctype html><a id="images" href="{launch}">影像</a>',
        ),
    )

    page.goto(launch)  # not signed in yet: the login page, then back to the launch
    assert page.url.startswith(core.base_url + "/login?next=")
    sign_in(page, DOCTOR, PASSWORD)
    # Back at the launch URL, which sends on to the viewer (drawn in the steps below).
    page.wait_for_url(f"**/viewer/viewer?StudyInstanceUIDs={study}", wait_until="commit")

    # Signed in, the EMR's link opens the images straight away: the session cookie
    # (SameSite=Lax) rides along on a top-level navigation from another site.
    page.goto(emr)
    with page.expect_navigation():
        page.click("#images")
    page.wait_for_url(f"**/viewer/viewer?StudyInstanceUIDs={study}")
    assert not looks_blank(_rendered_image(page, folder, "2-from-emr"))
    _assert_stayed_home(page, guard)
    home = page.get_by_role("link", name="医学影像中心")  # the appliance's name in OHIF's header
    expect(home).to_have_attribute("href", "/")

    # Signed out in another tab (or idle too long): opening the second series loads its frames,
    # which now get 401; the session guard sends the user to sign in, then back to this view.
    signed_out = context.request.post(
        core.base_url + "/logout", headers={"Origin": core.base_url}, max_redirects=0
    )
    assert signed_out.status == 303
    page.locator('[data-cy="study-browser-thumbnail"]').nth(1).dblclick()
    page.wait_for_url("**/login?next=%2Fviewer%2Fviewer%3FStudyInstanceUIDs%3D*")
    page.screenshot(path=str(folder / "3-session-ended.png"))
    sign_in(page, DOCTOR, PASSWORD)
    page.wait_for_url(f"**/viewer/viewer?StudyInstanceUIDs={study}")


def test_compressed_images_are_decoded_in_the_browser(
    context: BrowserContext, site: tuple[RunningCore, str], request: pytest.FixtureRequest
) -> None:
    """JPEG-LS, JPEG 2000 and JPEG baseline frames go to OHIF as stored; its codecs (WebAssembly
    in workers) must run under the viewer's Content-Security-Policy and COEP."""
    core, _study = site
    folder = artifacts_for(request)
    page, guard = _guarded_page(context, core)
    page.goto(f"{core.base_url}/viewer/launch?AccessionNumber={COMPRESSED_ACCESSION}")
    sign_in(page, DOCTOR, PASSWORD)
    page.wait_for_url("**/viewer/viewer?StudyInstanceUIDs=*")
    thumbnails = page.locator('[data-cy="study-browser-thumbnail"]')
    expect(thumbnails).to_have_count(len(COMPRESSED), timeout=RENDER_WAIT_S * 1000)
    seen: list[np.ndarray] = []
    for index, (_name, description) in enumerate(COMPRESSED):
        thumbnails.nth(index).dblclick()  # into the viewport
        expect(page.locator(".cornerstone-canvas")).to_have_count(1)
        image = _rendered_image(page, folder, f"{index + 1}-{description.replace(' ', '-')}")
        assert not looks_blank(image), description
        seen.append(image)
    # Three different pictures were drawn, not the first one three times.
    for first, second in itertools.pairwise(seen):
        assert first.shape != second.shape or np.abs(first - second).mean() > 2
    _assert_stayed_home(page, guard)
