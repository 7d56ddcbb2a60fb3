"""The printed report: a PDF checked as text (pdftotext) and as an image (pdftoppm), with the
Chinese font embedded; the print log; reprints refused without permission, allowed with it;
the electronic copy for clinicians; a modality's own layout."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core_server import auth
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.core_server.reporting.output_data import api, signed_report

HOSPITAL = "测试市第一人民医院"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("print") / "data", hospital_name=HOSPITAL)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def first_page(pdf: Path, dpi: int = 150) -> np.ndarray:
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(pdf), str(pdf.with_suffix(""))],
        check=True,
    )
    return np.asarray(Image.open(pdf.with_suffix(".png")).convert("L"))


def test_the_printed_pdf_has_the_report_in_chinese_as_text_and_as_ink(
    core: RunningCore, tmp_path: Path
) -> None:
    signed = signed_report(core, "P-PRINT-1")
    with api(core, "wang.registrar") as http:
        answer = http.post(f"/api/reporting/reports/{signed.report.id}/print", json={"copies": 2})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["x-reprint"] == "0"
    pdf = answer.content

    text = pdf_text(pdf)
    for expected in (
        HOSPITAL,
        "CT 检查报告单",
        "张三",
        "右肺上叶见一实性结节，大小约8mm，边缘光滑。",
        "右肺上叶结节，建议6个月后复查。",
        "放射科",
        signed.exam.accession_number,
        "66岁",
        "陈主任",
        "第1页/共1页",  # a page margin box: the CJK font is named there too
    ):
        assert expected.replace(" ", "") in text.replace(" ", ""), expected

    (tmp_path / "report.pdf").write_bytes(pdf)
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "report.pdf")], capture_output=True, text=True, check=True
    ).stdout
    wqy = [line for line in fonts.splitlines() if "WenQuanYi" in line]
    assert wqy and all(" yes " in line for line in wqy)  # embedded

    page = first_page(tmp_path / "report.pdf")
    height, width = page.shape
    assert (page < 128).mean() > 0.01  # not blank
    # The title block (hospital name and 检查报告单 in large type) is drawn: dark pixels in
    # the band below the top margin, across the middle of the page.
    title = page[int(height * 0.06) : int(height * 0.14), int(width * 0.25) : int(width * 0.75)]
    assert (title < 128).sum() > 200
    # The key image is printed: a block of grey levels between black and white.
    grey = (page > 30) & (page < 220)
    assert grey.sum() > 500

    # The QR code leads to the report's page on this server.
    decoded = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "report.png")], capture_output=True, text=True
    ).stdout.strip()
    assert decoded == f"{core.base_url}/reports/view?AccessionNumber={signed.exam.accession_number}"


def test_print_log_and_reprint_permission(core: RunningCore) -> None:
    signed = signed_report(core, "P-PRINT-2", name="李四")
    url = f"/api/reporting/reports/{signed.report.id}/print"
    with api(core, "wang.registrar") as registrar:
        assert registrar.post(url, json={"copies": 1}).status_code == 200
        refused = registrar.post(url, json={"copies": 1, "reason": "患者遗失"})
        assert refused.status_code == 403
        assert "补打需授权" in refused.json()["detail"]["message"]
    with api(core, "liu.clinician") as clinician:
        assert clinician.post(url, json={}).status_code == 403  # clinicians read, not print
    with api(core, "admin", ADMIN_PASSWORD) as admin:
        assert admin.post(url, json={"copies": 1}).status_code == 400  # a reprint needs a reason
        again = admin.post(url, json={"copies": 1, "reason": "患者遗失"})
        assert again.status_code == 200 and again.headers["x-reprint"] == "1"
        assert "补打" in pdf_text(again.content)
        granted = admin.put(
            "/api/reporting/reprint-grants/zhou.registrar", json={"note": "前台组长"}
        )
        assert granted.status_code == 200
    with api(core, "zhou.registrar") as lead:
        assert lead.post(url, json={"copies": 3, "reason": "复印件不清"}).status_code == 200
        log = lead.get(f"/api/reporting/reports/{signed.report.id}/prints").json()
    assert log["may_reprint"] is True
    assert [(p["username"], p["copies"], p["reprint"]) for p in log["prints"]] == [
        ("wang.registrar", 1, False),
        ("admin", 1, True),
        ("zhou.registrar", 3, True),
    ]
    assert log["prints"][2]["reason"] == "复印件不清"
    with api(core, "admin", ADMIN_PASSWORD) as admin:
        assert admin.delete("/api/reporting/reprint-grants/zhou.registrar").status_code == 204
        assert admin.get("/api/reporting/reprint-grants").json() == []
    with api(core, "zhou.registrar") as lead:
        assert lead.post(url, json={"copies": 1, "reason": "再次"}).status_code == 403

    _total, events = auth.query_audit(core.core.engine, target=f"report:{signed.report.id}")
    actions = [e.action for e in events]
    assert actions.count("report.print") == 1
    assert actions.count("report.reprint") == 2
    assert actions.count("report.reprint_refused") == 2


def test_clinicians_read_the_electronic_copy(core: RunningCore) -> None:
    signed = signed_report(core, "P-PRINT-3", name="王五")
    with api(core, "liu.clinician") as clinician:
        answer = clinician.get(f"/api/reporting/reports/{signed.report.id}/pdf")
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF-")
    text = pdf_text(answer.content)
    assert "王五" in text and "电子版" in text
    # Reading is not printing: the print log stays empty.
    assert core.core.report_output.print_log(signed.report.id) == []


def test_ultrasound_reports_use_the_ultrasound_layout(core: RunningCore) -> None:
    signed = signed_report(
        core,
        "P-PRINT-4",
        name="赵六",
        procedure="US-THYROID",
        images=0,
        findings="<p>甲状腺右叶见一低回声结节，大小约6mm×5mm。</p>",
        impression="<p>甲状腺右叶结节（C-TIRADS 3类）。</p>",
    )
    pdf, _record = core.core.report_output.print_report(
        signed.report.id, auth.get_user(core.core.engine, "admin"), base_url=core.base_url
    )
    text = pdf_text(pdf)
    assert "超声检查报告单" in text and "超声所见" in text and "超声提示" in text
    assert "甲状腺右叶见一低回声结节" in text


def test_endoscopy_prints_its_colour_pictures_not_the_report_objects(
    core: RunningCore, tmp_path: Path
) -> None:
    signed = signed_report(
        core,
        "P-PRINT-5",
        name="钱九",
        procedure="ES-GASTRO",
        images=3,
        colour=True,
        key_image=False,  # no key image chosen: the study's pictures are printed
        findings="<p>胃窦黏膜红白相间，以白为主。</p>",
        impression="<p>慢性非萎缩性胃炎。</p>",
    )
    output = core.core.report_output
    deadline = time.monotonic() + 60  # the core's worker archives the report's SR and PDF
    while {o.status for o in output.objects(signed.report.id)} != {"stored"}:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    admin = auth.get_user(core.core.engine, "admin")
    pdf, _record = output.print_report(signed.report.id, admin, base_url=core.base_url)
    assert "内镜检查报告单" in pdf_text(pdf) and "内镜所见" in pdf_text(pdf)
    listing = subprocess.run(
        [
            "pdfimages",
            "-list",
            "-",
        ],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout.decode()
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    pictures = [r for r in rows if r[2] == "image"]
    assert len(pictures) == 3 and {r[5] for r in pictures} == {"rgb"}
