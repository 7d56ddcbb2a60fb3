"""Workload per person, positive rates, requests and exam items on hand-made data with known
answers, on SQLite and PostgreSQL: an exam reported by one doctor and signed by another, one
typed by a recorder and sent back once, a three-level report (reviewed, then signed), a
cancelled exam (work for nobody), 体检 patients, exams either side of a hospital midnight, the
drill-down list of every row holding exactly the exams it counts, and one Excel file compared
cell by cell with the JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from pydicom.uid import generate_uid

from core_server.archive import Origin
from core_server.auth import create_user
from core_server.reporting import Content, Doctor, Reporting
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from core_server.statistics import DIMENSIONS, Filters
from tests.core_server.statistics.conftest import Department
from tests.dicom_data import encode, make_ct

RESIDENT = Doctor("li.resident", "reporting_doctor")
RESIDENT2 = Doctor("zhao.resident", "reporting_doctor")
TYPIST = Doctor("typist", "reporting_doctor")  # a 记录员 who types what a doctor says
ATTENDING = Doctor("wang.attending", "reviewing_doctor")
CHIEF = Doctor("chen.chief", "reviewing_doctor")
TEXT = Content(findings="<p>所见</p>", impression="<p>结论</p>")


def week(**dimensions: str) -> Filters:
    return Filters.parse({"start": "2026-11-01", "end": "2026-11-07", **dimensions})


@dataclass
class Seeded:
    department: Department
    reporting: Reporting
    exams: dict[str, int]

    def figure(self, name: str, filters: Filters | None = None) -> dict[str, Any]:
        return self.department.statistics.figure(name, filters or week(), "zh")


def _perform(department: Department, exam_id: int, *steps: tuple[str, str]) -> None:
    for status, who in steps:
        department.ris.change_status(exam_id, status, username=who)


def _walk_in(department: Department, at: datetime, code: str, registrar: str) -> int:
    """An exam the desk registers itself (not from the HIS)."""
    department.ris.register_patient(PatientIn("W001", "赵^六"), username=registrar)
    order = OrderIn("W-ORDER-1", (ProcedureRequest(code, scheduled_at=at),))
    exam = department.ris.place_order("W001", "", order, username=registrar).exams[0]
    return int(exam.id)


def _store_images(department: Department, exam_id: int) -> None:
    """Three images of the exam's study, in two series: 胸部 (2) and 腹部 (1)."""
    exam, archive = department.ris.exam(exam_id), department.ris.archive
    assert archive is not None
    chest, abdomen = generate_uid(), generate_uid()
    for n, (series, part) in enumerate(((chest, "CHEST"), (chest, "CHEST"), (abdomen, "ABDOMEN"))):
        ds = make_ct(
            patient_id=exam.patient_id,
            study_uid=exam.study_instance_uid,
            series_uid=series,
            accession=exam.accession_number,
            instance_number=n + 1,
            BodyPartExamined=part,
        )
        archive.store_instance(encode(ds), Origin("test", "CT01"))


def _seed(department: Department) -> Seeded:
    engine = department.statistics.engine
    reporting = Reporting(engine, department.ris.bus, department.ris, department.ris.archive)
    reporting.set_grade(CHIEF.username, "chief")
    reporting.set_levels("US", 3)
    for username, role, shown in (
        ("reg1", "registrar", "孙^登记"),
        ("tech1", "technician", "周技师"),
        ("li.resident", "reporting_doctor", "李医生"),
    ):
        create_user(engine, username, "口令Password2024", role, display_name=shown)
    d = department
    exams: dict[str, int] = {}

    # E1 (HIS order): reg1 checks in, tech1 starts, tech2 completes; three images, two
    # parts; li writes, wang signs: positive.
    e1 = d.exam(datetime(2026, 11, 2, 9, 0), status="scheduled").id
    _perform(d, e1, ("arrived", "reg1"), ("in_progress", "tech1"), ("completed", "tech2"))
    _store_images(d, e1)
    report = reporting.start(e1, RESIDENT)
    reporting.submit(report.id, RESIDENT, TEXT)
    reporting.set_flags(report.id, ATTENDING, positive=True)
    reporting.sign(report.id, ATTENDING)
    exams["e1"] = e1

    # E2 (a walk-in registered by reg2, checked in by reg1): an MR typed by the recorder,
    # submitted by zhao, sent back by the chief, submitted again, signed by the chief:
    # negative.
    e2 = _walk_in(d, datetime(2026, 11, 3, 10, 0), "MR-HEAD", "reg2")
    _perform(d, e2, ("arrived", "reg1"), ("in_progress", "tech1"), ("completed", "tech1"))
    report = reporting.start(e2, TYPIST)
    reporting.autosave(report.id, TYPIST, TEXT)
    reporting.unlock(report.id, TYPIST.username)
    reporting.submit(report.id, RESIDENT2)
    reporting.reject(report.id, CHIEF, "结论不完整")
    reporting.submit(report.id, RESIDENT2, TEXT)
    reporting.set_flags(report.id, CHIEF, positive=False)
    reporting.sign(report.id, CHIEF)
    exams["e2"] = e2

    # E3: cancelled before it was done: work for nobody.
    exams["e3"] = d.exam(datetime(2026, 11, 3, 11, 0), status="cancelled").id

    # E4: a 体检 patient's ultrasound at three levels: li submits, wang reviews, chen signs:
    # positive.
    e4 = d.exam(
        datetime(2026, 11, 4, 8, 0), "US-ABD", status="scheduled", patient_class="physical_exam"
    ).id
    _perform(d, e4, ("arrived", "reg1"), ("in_progress", "tech1"), ("completed", "tech1"))
    report = reporting.start(e4, RESIDENT)
    reporting.submit(report.id, RESIDENT, TEXT)
    reporting.review(report.id, ATTENDING)
    reporting.set_flags(report.id, CHIEF, positive=True)
    reporting.sign(report.id, CHIEF)
    exams["e4"] = e4

    # E5 at 23:30 on the 7th (in the week) and E6 at 00:30 on the 8th (not): the same UTC day.
    for key, at in (("e5", datetime(2026, 11, 7, 23, 30)), ("e6", datetime(2026, 11, 8, 0, 30))):
        exam = d.exam(at, status="scheduled", referring="")
        _perform(d, exam.id, ("arrived", "reg1"), ("in_progress", "tech1"), ("completed", "tech1"))
        exams[key] = exam.id

    # E7: li's CT report submitted, not yet signed: written, but no positive rate yet.
    e7 = d.exam(datetime(2026, 11, 5, 9, 0), status="scheduled").id
    _perform(d, e7, ("arrived", "reg1"), ("in_progress", "mpps:CT01"), ("completed", "mpps:CT01"))
    report = reporting.start(e7, RESIDENT)
    reporting.submit(report.id, RESIDENT, TEXT)
    reporting.set_flags(report.id, RESIDENT, positive=True)
    exams["e7"] = e7
    return Seeded(department, reporting, exams)


@pytest.fixture
def seeded(department: Department) -> Seeded:
    return _seed(department)


def _table(figure: dict[str, Any], *keys: str) -> dict[str, tuple[Any, ...]]:
    return {row["username"]: tuple(row[k] for k in keys) for row in figure["rows"]}


def _drill_totals_match(seeded: Seeded, figure: dict[str, Any], key: str) -> None:
    """Every row's exam list holds exactly as many exams as the row counts (the drill keys
    split as the exam list's route splits its query: dimensions narrow the filters)."""
    for row, drill in zip(figure["rows"], figure["drill"], strict=True):
        params = {**week().as_params(), **drill}
        rest = {k: v for k, v in drill.items() if k not in DIMENSIONS}
        listed = seeded.department.statistics.exams(Filters.parse(params), rest)
        assert listed["total"] == row[key], (row, drill)


def test_registrars_and_technicians(seeded: Seeded) -> None:
    registrars = seeded.figure("workload.registrar")
    # reg1 checked in the HIS orders (e1, e4, e5, e7), reg2 typed the walk-in e2 in itself;
    # e3 was cancelled (work for nobody), e6 is on the 8th.
    assert _table(registrars, "name", "exams") == {
        "reg1": ("孙登记", 4),
        "reg2": ("reg2", 1),
    }
    assert registrars["totals"] == {"exams": 5}
    _drill_totals_match(seeded, registrars, "exams")
    technicians = seeded.figure("workload.technician")
    assert _table(technicians, "name", "exams", "parts", "images") == {
        "tech1": ("周技师", 3, 3, 0),  # e2, e4, e5: one body part each from the exam item
        "tech2": ("tech2", 1, 2, 3),  # e1: completed it; its images name two body parts
        "mpps:CT01": ("mpps:CT01", 1, 1, 0),  # e7: only the modality's MPPS took the steps
    }
    assert technicians["totals"] == {"exams": 5, "parts": 6, "images": 3}
    assert technicians["columns"][0]["label"] == "姓名" and technicians["chart"]["x"] == "name"
    _drill_totals_match(seeded, technicians, "exams")
    listed = seeded.department.statistics.exams(week(), {"technician": "tech2"})
    assert [e["exam_id"] for e in listed["exams"]] == [seeded.exams["e1"]]


def test_the_hospital_day_decides_the_range(seeded: Seeded) -> None:
    eighth = Filters.parse({"start": "2026-11-08", "end": "2026-11-08"})
    technicians = seeded.figure("workload.technician", eighth)
    assert _table(technicians, "exams") == {"tech1": (1,)}  # e6 only
    listed = seeded.department.statistics.exams(eighth, {"technician": "tech1"})
    assert [e["exam_id"] for e in listed["exams"]] == [seeded.exams["e6"]]


def test_doctors_each_count_in_their_own_role(seeded: Seeded) -> None:
    written = seeded.figure("workload.reporting_doctor")
    # li: e1, e4, e7; zhao: e2 (submitted twice after it was sent back: once).
    assert _table(written, "name", "reports") == {
        "li.resident": ("李医生", 3),
        "zhao.resident": ("zhao.resident", 1),
    }
    _drill_totals_match(seeded, written, "reports")
    reviewed = seeded.figure("workload.reviewing_doctor")
    # wang signed e1 and reviewed e4; chen signed e2 and e4 (the rejection is not a review).
    assert _table(reviewed, "reports", "signed") == {
        "wang.attending": (2, 1),
        "chen.chief": (2, 2),
    }
    _drill_totals_match(seeded, reviewed, "reports")
    recorders = seeded.figure("workload.recorder")
    assert _table(recorders, "reports") == {"typist": (1,)}
    _drill_totals_match(seeded, recorders, "reports")
    rejections = seeded.figure("workload.rejections")
    assert _table(rejections, "reports", "rejections") == {"zhao.resident": (1, 1)}
    _drill_totals_match(seeded, rejections, "reports")
    listed = seeded.department.statistics.exams(week(), {"rejected_writer": "zhao.resident"})
    assert [e["exam_id"] for e in listed["exams"]] == [seeded.exams["e2"]]


def test_a_second_rejection_is_counted_but_the_report_once(seeded: Seeded) -> None:
    reporting = seeded.reporting
    report = reporting.report_for_exam(seeded.exams["e7"])
    assert report is not None
    reporting.reject(report.id, ATTENDING, "请补充")
    reporting.submit(report.id, RESIDENT, TEXT)
    reporting.reject(report.id, ATTENDING, "仍不完整")
    rejections = seeded.figure("workload.rejections")
    assert _table(rejections, "reports", "rejections") == {
        "zhao.resident": (1, 1),
        "li.resident": (1, 2),
    }
    assert rejections["totals"] == {"reports": 2, "rejections": 3}
    # Sent back and not yet submitted again: still written once.
    assert _table(seeded.figure("workload.reporting_doctor"), "reports")["li.resident"] == (3,)


def test_positive_rate_with_and_without_health_checks(seeded: Seeded) -> None:
    keys = ("signed", "positive", "rate", "signed_patients", "positive_patients", "rate_patients")
    by_modality = seeded.figure("positive.by_modality")
    rows = {row["modality"]: tuple(row[k] for k in keys) for row in by_modality["rows"]}
    # e7 (CT, positive) is not signed: it does not count.
    assert rows == {
        "CT": (1, 1, 100.0, 1, 1, 100.0),
        "MR": (1, 0, 0.0, 1, 0, 0.0),
        "US": (1, 1, 100.0, 0, 0, None),  # the 体检 patient's
    }
    assert by_modality["totals"] == dict(zip(keys, (3, 2, 66.7, 2, 1, 50.0), strict=True))
    _drill_totals_match(seeded, by_modality, "signed")
    by_department = seeded.figure("positive.by_department")
    rows = {row["department"]: tuple(row[k] for k in keys) for row in by_department["rows"]}
    assert rows == {"RAD": (2, 1, 50.0, 2, 1, 50.0), "US": (1, 1, 100.0, 0, 0, None)}
    assert by_department["rows"][0]["department_name"] == "放射科"
    _drill_totals_match(seeded, by_department, "signed")
    positive = seeded.department.statistics.exams(week(), {"signed_report": "positive"})
    assert {e["exam_id"] for e in positive["exams"]} == {seeded.exams["e1"], seeded.exams["e4"]}
    checks_only = seeded.figure("positive.by_modality", week(patient_class="physical_exam"))
    assert [(r["modality"], r["signed"]) for r in checks_only["rows"]] == [("US", 1)]


def test_requests_by_referring_department_and_exam_items(seeded: Seeded) -> None:
    referring = seeded.figure("requests.by_referring")
    rows = {
        r["referring_department"]: (r["requests"], r["done"], r["cancelled"])
        for r in referring["rows"]
    }
    # 呼吸内科: e1, e3 (cancelled), e4, e7; the walk-in e2 and e5 named none (e6 is the 8th).
    assert rows == {"呼吸内科": (4, 3, 1), "": (2, 2, 0)}
    _drill_totals_match(seeded, referring, "requests")
    items = seeded.figure("requests.by_item")
    details = {
        r["procedure_code"]: (
            r["procedure_name"],
            r["modality"],
            r["requests"],
            r["done"],
            r["cancelled"],
        )
        for r in items["rows"]
    }
    assert details == {
        "CT-CHEST": ("胸部CT平扫", "CT", 4, 3, 1),
        "MR-HEAD": ("头颅MR平扫", "MR", 1, 1, 0),
        "US-ABD": ("腹部彩超（肝胆胰脾）", "US", 1, 1, 0),
    }
    assert items["totals"] == {"requests": 6, "done": 5, "cancelled": 1}
    _drill_totals_match(seeded, items, "requests")


def test_excel_of_the_technicians_agrees_with_the_json(seeded: Seeded) -> None:
    statistics = seeded.department.statistics
    figure = statistics.figure("workload.technician", week(), "zh")
    book = load_workbook(BytesIO(statistics.excel("workload.technician", week(), "zh")))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "技师工作量" and "2026-11-07" in str(rows[1][0])
    keys = [c["key"] for c in figure["columns"]]
    assert list(rows[3]) == [c["label"] for c in figure["columns"]]
    assert [list(r) for r in rows[4:-1]] == [[row[k] for k in keys] for row in figure["rows"]]
    assert list(rows[-1]) == [figure["totals"].get(k) for k in keys]
    assert rows[-1][2:] == (5, 6, 3)
