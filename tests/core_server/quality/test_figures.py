"""The quality figures against hand-made data: grades per technician (% 差, retakes, sent
back) and report grades with the change size per doctor, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

from core_server import db
from core_server.statistics import Filters, facts
from core_server.statistics.quality import images_by_technician, reports_by_doctor
from tests.core_server.quality.conftest import ATTENDING, QC, RESIDENT, RESIDENT2, Dept

DAY = date(2026, 12, 7)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, datetime.min.time()).replace(hour=hour, minute=minute)


def _range() -> Filters:
    return Filters(start=DAY, end=DAY)


def test_image_grades_per_technician(dept: Dept) -> None:
    a1, a2, a3 = (dept.exam("tech.a", _at(9 + n)) for n in range(3))
    b1 = dept.exam("tech.b", _at(23, 50))  # ten to midnight: still the 7th
    dept.exam("tech.b", datetime.combine(date(2026, 12, 8), datetime.min.time()))  # next day
    dept.quality.grade_images(a1, "excellent", [], by=QC)
    dept.quality.grade_images(a2, "poor", ["motion"], by=QC)
    dept.quality.send_back(a2, by=QC)
    dept.ris.retake(a3, "additional", username="tech.a")  # a technician's own 加拍
    dept.quality.grade_images(b1, "poor", ["metal"], by=QC)
    facts.catch_up(dept.engine)  # as the service does first: who completed it is kept there
    with db.read(dept.engine) as conn:
        shown = images_by_technician(conn, _range())
    rows = {r["technician"]: r for r in shown.rows}
    assert rows["tech.a"] == {
        "technician": "tech.a",
        "exams": 3,
        "graded": 2,
        "excellent": 1,
        "good": 0,
        "fair": 0,
        "poor": 1,
        "poor_percent": 50.0,
        "retakes": 2,
        "sent_back": 1,
    }
    assert (rows["tech.b"]["exams"], rows["tech.b"]["poor_percent"]) == (1, 100.0)
    assert shown.totals is not None and shown.totals["exams"] == 4
    assert shown.totals["poor_percent"] == round(100 * 2 / 3, 1)
    assert shown.drill[0] == {"qc_technician": "tech.a"}


def test_report_grades_and_change_size_per_doctor(dept: Dept) -> None:
    changed = dept.exam(at=_at(8))
    kept = dept.exam(at=_at(9))
    unsigned = dept.exam(at=_at(11))
    r1 = dept.write(changed, RESIDENT, "左肺结节", "考虑炎性病变，建议复查。")
    dept.reporting.submit(r1, RESIDENT)
    dept.write(changed, ATTENDING, "右肺结节影", "考虑炎性病变。")  # 2 + 5 characters
    dept.reporting.sign(r1, ATTENDING)
    dept.reporting.grade_report(r1, ATTENDING, "good")
    r2 = dept.write(kept, RESIDENT, "未见异常", "正常")
    dept.reporting.submit(r2, RESIDENT)
    dept.reporting.sign(r2, ATTENDING)
    dept.reporting.grade_report(r2, ATTENDING, "excellent")
    r4 = dept.write(unsigned, RESIDENT2, "草稿", "草稿")
    dept.reporting.submit(r4, RESIDENT2)
    facts.catch_up(dept.engine)  # as the service does first: the change sizes are kept there
    with db.read(dept.engine) as conn:
        shown = reports_by_doctor(conn, _range())
    rows = {r["doctor"]: r for r in shown.rows}
    assert set(rows) == {RESIDENT.username}  # only signed reports
    assert rows[RESIDENT.username] == {
        "doctor": RESIDENT.username,
        "signed": 2,
        "graded": 2,
        "excellent": 1,
        "good": 1,
        "fair": 0,
        "poor": 0,
        "excellent_percent": 50.0,
        "changed": 1,
        "mean_change": 3.5,
    }
    assert shown.totals is not None and shown.totals["signed"] == 2
    assert shown.totals["mean_change"] == 3.5
    assert shown.drill == [{"qc_author": RESIDENT.username}]
