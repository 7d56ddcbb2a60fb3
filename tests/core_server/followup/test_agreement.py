"""Imaging-pathology agreement figures with known answers on SQLite and PostgreSQL: per
reporting doctor and per modality, only judged exams, the day's bounds in Asia/Shanghai (an
exam at 23:59 counts, one at 00:00 the next day does not), the drill-down's exams, and the
Excel file the same numbers as the JSON."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from io import BytesIO

from openpyxl import load_workbook

from core_server import auth, clock
from core_server.statistics import Filters
from tests.core_server.followup.conftest import Clinic


def _judged(clinic: Clinic, at: datetime, code: str, author: str, agreement: str) -> None:
    exam = clinic.exam(at, code, author=author)
    doctor = clinic.doctor(author)
    clinic.followup.mark(exam.id, doctor, due_date=None)
    if agreement:
        clinic.followup.record(exam.id, doctor, pathology_result="腺癌", agreement=agreement)


def test_agreement_per_doctor_and_modality(clinic: Clinic) -> None:
    day = clock.today() - timedelta(days=10)
    at = lambda h, m=0: datetime.combine(day, time(h, m))  # noqa: E731
    auth.create_user(
        clinic.engine, "dr_li", "Doctor-Li-2026", "reporting_doctor", display_name="李医生"
    )
    _judged(clinic, at(0, 0), "CT-CHEST", "dr_wang", "agree")
    _judged(clinic, at(9), "CT-CHEST", "dr_wang", "agree")
    _judged(clinic, at(23, 59), "CT-CHEST", "dr_wang", "disagree")
    _judged(clinic, at(10), "CT-CHEST", "dr_wang", "")  # not judged: not counted
    _judged(clinic, at(0, 0) + timedelta(days=1), "CT-CHEST", "dr_wang", "agree")  # next day
    _judged(clinic, at(11), "MR-HEAD", "dr_li", "partly")
    _judged(clinic, at(12), "CT-HEAD", "dr_li", "agree")
    filters = Filters(start=day, end=day)

    by_doctor = clinic.statistics.figure("followup.agreement_by_doctor", filters, "zh")
    keys = ("doctor", "judged", "agree", "partly", "disagree", "agreement_rate", "with_partly_rate")
    assert [tuple(r[k] for k in keys) for r in by_doctor["rows"]] == [
        ("dr_wang", 3, 2, 0, 1, 66.7, 66.7),
        ("李医生", 2, 1, 1, 0, 50.0, 100.0),
    ]
    assert by_doctor["totals"] == {
        "judged": 5, "agree": 3, "partly": 1, "disagree": 1,
        "agreement_rate": 60.0, "with_partly_rate": 80.0,
    }  # fmt: skip
    assert by_doctor["title"] == "影像与病理符合率（按报告医生）"

    by_modality = clinic.statistics.figure("followup.agreement_by_modality", filters, "zh")
    assert [tuple(r[k] for k in ("modality", *keys[1:])) for r in by_modality["rows"]] == [
        ("CT", 4, 3, 0, 1, 75.0, 75.0),
        ("MR", 1, 0, 1, 0, 0.0, 100.0),
    ]
    narrowed = clinic.statistics.figure(
        "followup.agreement_by_doctor", Filters(start=day, end=day, modality="MR"), "zh"
    )
    assert [(r["doctor"], r["judged"]) for r in narrowed["rows"]] == [("李医生", 1)]

    listed = clinic.statistics.exams(filters, by_doctor["drill"][0], 0)
    assert listed["total"] == 3  # dr_wang's judged exams of the day

    book = load_workbook(
        BytesIO(clinic.statistics.excel("followup.agreement_by_doctor", filters, "zh"))
    )
    sheet = book.active
    assert sheet is not None
    cells = [list(r) for r in sheet.iter_rows(min_row=4, values_only=True)]
    columns = [c["key"] for c in by_doctor["columns"]]
    assert cells[0] == [c["label"] for c in by_doctor["columns"]]
    assert cells[1:] == [
        *([row[k] for k in columns] for row in by_doctor["rows"]),
        [by_doctor["totals"].get(k) for k in columns],
    ]


def test_no_judged_exam_is_an_empty_figure(clinic: Clinic) -> None:
    day = clock.today()
    clinic.exam(author="dr_wang")
    empty = clinic.statistics.figure("followup.agreement_by_modality", Filters(day, day), "en")
    assert empty["rows"] == [] and empty["totals"]["judged"] == 0
    assert empty["totals"]["agreement_rate"] is None
