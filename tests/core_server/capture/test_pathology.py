"""The pathology request form: recorded on the exam (audit trail), replaced by a second save,
printed A5/A4 with the hospital, the patient's readable name and a Code 128 barcode."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core_server import auth
from tests.core_server.capture.conftest import Unit


def _text(pdf: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode()


def _barcodes(pdf: bytes, tmp_path: Path) -> str:
    """What zbarimg reads off the printed page (rendered at 300 dpi)."""
    (tmp_path / "form.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "300",
            "-png",
            "-singlefile",
            str(tmp_path / "form.pdf"),
            str(tmp_path / "form"),
        ],
        check=True,
    )
    done = subprocess.run(["zbarimg", "-q", str(tmp_path / "form.png")], capture_output=True)
    return done.stdout.decode()


def _page_size(pdf: bytes) -> str:
    done = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    return next(line for line in done.stdout.decode().splitlines() if line.startswith("Page size"))


def test_form_recorded_and_printed(unit: Unit, tmp_path: Path) -> None:
    exam = unit.exam("P-PA-1", "王^建国")
    body = {
        "sites": [{"site": "胃窦", "specimens": 2}, {"site": "胃角", "specimens": 1}],
        "clinical_info": "上腹痛三月，胃窦黏膜粗糙",
        "requested_by": "李^医生",
    }
    saved = unit.nurse.post(f"/api/capture/exams/{exam}/pathology", json=body)
    assert saved.status_code == 200, saved.text
    form = saved.json()
    assert form["specimens"] == 3 and form["request_number"] == f"BL{exam:08d}"
    body["sites"].append({"site": "食管下段", "specimens": 1})
    again = unit.nurse.post(f"/api/capture/exams/{exam}/pathology", json=body).json()
    assert again["specimens"] == 4 and again["request_number"] == form["request_number"]
    _, trail = auth.query_audit(
        unit.core.core.engine, action="capture.pathology.recorded", target=f"exam:{exam}"
    )
    assert [e.detail["specimens"] for e in trail] == [4, 3]

    a5 = unit.nurse.get(f"/api/capture/exams/{exam}/pathology.pdf")
    assert a5.status_code == 200 and a5.headers["content-type"] == "application/pdf"
    text = _text(a5.content)
    for expected in (
        "病理检查申请单",
        "王建国",
        "胃窦",
        "食管下段",
        "上腹痛三月",
        "李医生",
        form["request_number"],
    ):
        assert expected in text, expected
    assert "^" not in text
    assert _barcodes(a5.content, tmp_path).strip() == f"CODE-128:{form['request_number']}"
    assert "419.528 x 595.276" in _page_size(a5.content)  # A5 in points
    a4 = unit.nurse.get(f"/api/capture/exams/{exam}/pathology.pdf", params={"size": "A4"})
    assert _page_size(a4.content).endswith("(A4)")


def test_every_name_form_prints_readable(unit: Unit) -> None:
    for number, name in enumerate(("WANG^JIANGUO=王^建国", "王建国")):
        exam = unit.exam(f"P-PN-{number}", name)
        body = {"sites": [{"site": "胃窦", "specimens": 1}]}
        assert unit.nurse.post(f"/api/capture/exams/{exam}/pathology", json=body).status_code == 200
        text = _text(unit.nurse.get(f"/api/capture/exams/{exam}/pathology.pdf").content)
        assert "王建国" in text and "^" not in text and "JIANGUO" not in text


def test_bad_forms_are_refused(unit: Unit) -> None:
    exam = unit.exam("P-PA-X")
    assert unit.nurse.get(f"/api/capture/exams/{exam}/pathology.pdf").status_code == 404
    empty = unit.nurse.post(f"/api/capture/exams/{exam}/pathology", json={"sites": []})
    assert empty.status_code == 422
    blank = unit.nurse.post(
        f"/api/capture/exams/{exam}/pathology", json={"sites": [{"site": "  ", "specimens": 1}]}
    )
    assert blank.status_code == 422
    assert blank.json()["detail"]["code"] == "capture.pathology.bad_site"
    assert (
        unit.nurse.post(
            "/api/capture/exams/999999/pathology", json={"sites": [{"site": "胃窦"}]}
        ).status_code
        == 404
    )
    assert unit.clinician.get(f"/api/capture/exams/{exam}/pathology").status_code == 403
    assert (
        unit.nurse.get(
            f"/api/capture/exams/{exam}/pathology.pdf", params={"size": "B5"}
        ).status_code
        == 422
    )
