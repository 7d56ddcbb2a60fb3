"""Film figures with known answers on both databases: sheets on their exam's hospital day (an
exam at 23:30 and one at 00:30 fall on two days), printed vs cloud only for sheets and exams,
reprints, per modality and department, a modality filter, the newest grade of each sheet and
its reasons, and the exam lists behind the rows."""

from __future__ import annotations

from datetime import datetime

from core_server.film import grades
from core_server.statistics import Filters
from tests.core_server.film.sheet_data import add_sheet
from tests.core_server.statistics.conftest import Department

WEEK = {"start": "2026-11-01", "end": "2026-11-07"}


def _seed(department: Department) -> dict[str, int]:
    engine = department.statistics.engine
    e1 = department.exam(datetime(2026, 11, 2, 23, 30), "CT-CHEST").id
    e2 = department.exam(datetime(2026, 11, 3, 0, 30), "CT-CHEST").id
    e3 = department.exam(datetime(2026, 11, 3, 10, 0), "MR-HEAD").id
    department.exam(datetime(2026, 11, 3, 11, 0), "US-ABD")  # no film
    late = department.exam(datetime(2026, 11, 9, 9, 0), "CT-CHEST").id  # outside the week
    sheets = {
        "s1": add_sheet(engine, None, e1, printed=True, copies=1, printed_copies=2),
        "s2": add_sheet(engine, None, e1),
        "s3": add_sheet(engine, None, e2),
        "s4": add_sheet(engine, None, e3, printed=True, copies=2),
        "s5": add_sheet(engine, None, e3, printed=True),
        "late": add_sheet(engine, None, late, printed=True),
        "loose": add_sheet(engine, None, None),  # not matched to an exam yet
    }
    qc = {"by": "chen.qc", "role": "reviewing_doctor"}
    grades.grade(engine, sheets["s1"], "poor", ["window"], **qc)
    grades.grade(engine, sheets["s1"], "good", [], **qc)  # the newest counts
    grades.grade(engine, sheets["s3"], "fair", ["artifact"], **qc)
    grades.grade(engine, sheets["s4"], "poor", ["layout", "missing"], **qc)
    return {"e1": e1, "e2": e2, "e3": e3, **sheets}


def _counts(row: dict) -> tuple:
    keys = ("exams", "sheets", "per_exam", "printed", "cloud_only")
    return tuple(row[k] for k in (*keys, "exams_printed", "exams_cloud_only", "reprints"))


def test_film_use_by_day_modality_department(department: Department) -> None:
    ids = _seed(department)
    stats = department.statistics
    week = Filters.parse(WEEK)
    per_day = stats.figure("film.by_day", week, "zh")
    rows = {r["day"]: r for r in per_day["rows"]}
    assert len(rows) == 7
    assert _counts(rows["2026-11-02"]) == (1, 2, "2.0", 1, 1, 1, 0, 1)
    assert _counts(rows["2026-11-03"]) == (2, 3, "1.5", 2, 1, 1, 1, 0)
    assert _counts(rows["2026-11-04"]) == (0, 0, "", 0, 0, 0, 0, 0)
    assert _counts(per_day["totals"]) == (3, 5, "1.7", 3, 2, 2, 1, 1)
    assert per_day["title"] == "每日胶片"
    by_modality = stats.figure("film.by_modality", week, "en")
    assert [(r["modality"], *_counts(r)) for r in by_modality["rows"]] == [
        ("CT", 2, 3, "1.5", 1, 2, 1, 1, 1),
        ("MR", 1, 2, "2.0", 2, 0, 1, 0, 0),
    ]
    by_department = stats.figure("film.by_department", week, "en")
    assert [(r["department"], r["sheets"]) for r in by_department["rows"]] == [("RAD", 5)]
    mr = stats.figure("film.by_day", Filters.parse({**WEEK, "modality": "MR"}), "en")
    assert mr["totals"]["sheets"] == 2

    def listed(**drill: str) -> list[int]:
        return sorted(e["exam_id"] for e in stats.exams(week, drill)["exams"])

    assert listed(film="sheets") == sorted([ids["e1"], ids["e2"], ids["e3"]])
    assert listed(film="printed") == sorted([ids["e1"], ids["e3"]])
    assert listed(film="cloud_only") == [ids["e2"]]
    assert listed(**per_day["drill"][2]) == [ids["e2"], ids["e3"]]  # 2026-11-03


def test_film_quality_grades_per_modality(department: Department) -> None:
    ids = _seed(department)
    week = Filters.parse(WEEK)
    figure = department.statistics.figure("film.quality", week, "zh")
    rows = {r["modality"]: r for r in figure["rows"]}
    ct, mr = rows["CT"], rows["MR"]
    assert (ct["sheets"], ct["graded"], ct["good"], ct["fair"], ct["poor"]) == (3, 2, 1, 1, 0)
    assert ct["poor_percent"] == 0.0 and ct["reason_artifact"] == 1 and ct["reason_window"] == 0
    assert (mr["sheets"], mr["graded"], mr["poor"], mr["poor_percent"]) == (2, 1, 1, 100.0)
    assert (mr["reason_layout"], mr["reason_missing"]) == (1, 1)
    assert figure["totals"]["graded"] == 3 and figure["totals"]["poor_percent"] == 33.3
    labels = {c["key"]: c["label"] for c in figure["columns"]}
    assert labels["reason_window"] == "窗宽窗位不当" and labels["poor"] == "差"
    graded = department.statistics.exams(week.narrowed(modality="MR"), {"film": "graded"})
    assert [e["exam_id"] for e in graded["exams"]] == [ids["e3"]]
    excel = department.statistics.excel("film.quality", week, "zh")
    assert excel[:2] == b"PK"
