"""The figure frame on hand-made data with known answers: hospital days (an exam at 23:30 and
one at 00:30 local fall on two days although both are the same UTC day), cancelled exams,
dimensions, the drill-down to the exam list, and the Excel and PDF files agreeing with the
JSON."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from core_server.refusals import Invalid, NotFound
from core_server.statistics import Filters
from tests.core_server.statistics.conftest import Department

DAY = date(2026, 11, 2)


def week(**dimensions: str) -> Filters:
    return Filters.parse({"start": "2026-11-01", "end": "2026-11-07", **dimensions})


def seed(department: Department) -> None:
    department.exam(datetime(2026, 11, 2, 23, 30))  # 15:30 UTC on the 2nd
    department.exam(datetime(2026, 11, 3, 0, 30))  # 16:30 UTC on the 2nd: the 3rd here
    department.exam(datetime(2026, 11, 3, 9, 0), "MR-HEAD", status="in_progress")
    department.exam(datetime(2026, 11, 3, 10, 0), status="cancelled")
    department.exam(datetime(2026, 11, 4, 8, 0), "US-ABD", patient_class="physical_exam")
    department.exam(datetime(2026, 11, 9, 8, 0))  # outside the week


def test_exams_per_day_count_hospital_days(department: Department) -> None:
    seed(department)
    figure = department.statistics.figure("volume.by_day", week(), "zh")
    by_day = {row["day"]: row for row in figure["rows"]}
    assert list(by_day) == [f"2026-11-0{d}" for d in range(1, 8)]  # every day, also empty ones
    assert by_day["2026-11-02"] == {"day": "2026-11-02", "exams": 1, "done": 1, "cancelled": 0}
    assert by_day["2026-11-03"] == {"day": "2026-11-03", "exams": 2, "done": 1, "cancelled": 1}
    assert by_day["2026-11-04"]["exams"] == 1
    assert figure["totals"] == {"exams": 4, "done": 3, "cancelled": 1}
    assert figure["title"] == "每日检查量" and figure["columns"][1]["label"] == "检查数"
    assert figure["drill"][1] == {"day": "2026-11-02"}


def test_dimensions_narrow_and_the_drill_down_lists_the_exams(department: Department) -> None:
    seed(department)
    modalities = department.statistics.figure("volume.by_modality", week(), "en")
    assert [(r["modality"], r["exams"], r["done"]) for r in modalities["rows"]] == [
        ("CT", 2, 2),
        ("MR", 1, 0),
        ("US", 1, 1),
    ]
    assert modalities["rows"][0]["cancelled"] == 1
    health_checks = department.statistics.figure(
        "volume.by_modality", week(patient_class="physical_exam"), "en"
    )
    assert [r["modality"] for r in health_checks["rows"]] == ["US"]
    listed = department.statistics.exams(week(), {"day": "2026-11-03"})
    assert listed["total"] == 3
    assert {e["status"] for e in listed["exams"]} == {"completed", "in_progress", "cancelled"}
    exam = listed["exams"][0]
    assert exam["patient_name"] == "王建国"  # never the raw HL7 王^建国
    assert exam["exam_time"].endswith("+08:00") and exam["patient_class"] == "outpatient"
    assert exam["referring_department"] == "呼吸内科"
    by_status = department.statistics.exams(week(), {"status": "cancelled"})
    assert by_status["total"] == 1
    with pytest.raises(Invalid):
        department.statistics.exams(week(), {"nonsense": "1"})


def test_bad_ranges_and_unknown_figures_are_refused(department: Department) -> None:
    with pytest.raises(Invalid) as bad:
        Filters.parse({"start": "2026-11-07", "end": "2026-11-01"})
    assert bad.value.code == "statistics.bad_range"
    with pytest.raises(Invalid):
        Filters.parse({"start": "2026-13-01"})
    with pytest.raises(Invalid):
        Filters.parse({"start": "2020-01-01", "end": "2026-01-01"})
    with pytest.raises(NotFound):
        department.statistics.figure("nope", week(), "zh")
    defaults = Filters.parse({})
    assert defaults.start.day == 1 and defaults.end >= defaults.start


def test_excel_and_pdf_agree_with_the_figure(department: Department, tmp_path: Path) -> None:
    seed(department)
    figure = department.statistics.figure("volume.by_modality", week(), "zh")
    book = load_workbook(BytesIO(department.statistics.excel("volume.by_modality", week(), "zh")))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "各设备类型检查量" and "2026-11-01" in str(rows[1][0])
    header = rows[3]
    assert list(header) == [c["label"] for c in figure["columns"]]
    keys = [c["key"] for c in figure["columns"]]
    assert [list(r) for r in rows[4:-1]] == [[row[k] for k in keys] for row in figure["rows"]]
    assert list(rows[-1])[1:] == [figure["totals"][k] for k in keys[1:]]
    pdf = tmp_path / "figure.pdf"
    pdf.write_bytes(department.statistics.pdf("volume.by_modality", week(), "zh"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "某某市人民医院" in text and "各设备类型检查量" in text and "设备类型" in text
    for row in figure["rows"]:
        line = next(line for line in text.splitlines() if line.strip().startswith(row["modality"]))
        assert line.split()[1:] == [str(row[k]) for k in keys[1:]]
