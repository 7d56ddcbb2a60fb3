"""Turnaround per step against targets, on hand-made exams whose every step happened at a
time the test set: medians and p90, emergency apart, an exam over midnight, a cancelled exam
left out, a department counting in working hours; on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from core_server import db
from core_server.statistics import Filters
from core_server.statistics import targets as target_rules
from core_server.statistics.targets import Target
from core_server.statistics.turnaround import percentile
from core_server.statistics.workhours import WorkingHours
from tests.core_server.statistics import timeline as timelines
from tests.core_server.statistics.timeline import Timeline

timeline = timelines.timeline  # the fixture

MONDAY = Filters.parse({"start": "2026-11-30", "end": "2026-11-30"})


def seed(line: Timeline) -> None:
    """Monday 2026-11-30 in the hospital. Report times (completed -> first report):
    routine RAD 60, 120, 40 (over midnight), routine US 2880; emergency RAD 40, 20."""
    line.exam(
        "2026-11-30 08:00",
        arrived="2026-11-30 08:10",
        started="2026-11-30 08:20",
        completed="2026-11-30 08:30",
        reported="2026-11-30 09:30",
        signed="2026-11-30 10:00",
    )
    line.exam(
        "2026-11-30 09:00",
        arrived="2026-11-30 09:30",
        started="2026-11-30 09:40",
        completed="2026-11-30 10:00",
        reported="2026-11-30 12:00",
        signed="2026-11-30 12:30",
    )
    line.exam(  # over midnight: reported and signed the next day, counted on Monday
        "2026-11-30 23:00",
        arrived="2026-11-30 23:20",
        started="2026-11-30 23:40",
        completed="2026-11-30 23:50",
        reported="2026-12-01 00:30",
        signed="2026-12-01 01:00",
    )
    line.exam(
        "2026-11-30 10:00",
        arrived="2026-11-30 10:05",
        started="2026-11-30 10:10",
        completed="2026-11-30 10:20",
        reported="2026-11-30 11:00",
        signed="2026-11-30 11:10",
        emergency=True,
    )
    line.exam(
        "2026-11-30 13:00",
        arrived="2026-11-30 13:20",
        started="2026-11-30 13:40",
        completed="2026-11-30 14:00",
        reported="2026-11-30 14:20",
        signed="2026-11-30 14:30",
        emergency=True,
    )
    line.exam(
        "2026-11-30 07:00",
        arrived="2026-11-30 07:30",
        started="2026-11-30 07:45",
        completed="2026-11-30 08:00",
        reported="2026-12-02 08:00",
        code="US-ABD",
    )
    line.exam("2026-11-30 09:00", cancelled="2026-11-30 09:05")  # never counted
    line.exam(  # done, not reported: counts in the steps before the report only
        "2026-11-30 15:00",
        arrived="2026-11-30 15:10",
        started="2026-11-30 15:20",
        completed="2026-11-30 15:30",
    )
    line.exam("2026-12-01 09:00", arrived="2026-12-01 09:10")  # another day: outside


def rows(figure: dict[str, Any], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[k] for k in keys): row for row in figure["rows"]}


def test_percentiles_interpolate() -> None:
    assert percentile([10, 20, 30, 40, 50], 0.9) == 46
    assert percentile([50, 10, 30], 0.5) == 30
    assert percentile([10, 20], 0.5) == 15
    assert percentile([7], 0.9) == 7
    assert percentile([], 0.5) is None


def test_report_turnaround_by_department_against_the_default_targets(timeline: Timeline) -> None:
    seed(timeline)
    figure = timeline.statistics.figure("time.report_by_department", MONDAY, "en")
    by = rows(figure, "department", "priority")
    assert list(by) == [("RAD", "Emergency"), ("RAD", "Routine"), ("US", "Routine")]
    assert by[("RAD", "Routine")] | {} == {
        "department": "RAD",
        "priority": "Routine",
        "exams": 3,
        "median": 60.0,
        "p90": 108.0,  # 40, 60, 120
        "target": 1440,
        "met": 3,
        "missed": 0,
        "within": 100.0,
        "clock": "Calendar time",
    }
    emergency = by[("RAD", "Emergency")]
    assert (emergency["exams"], emergency["median"], emergency["p90"]) == (2, 30.0, 38.0)
    assert (emergency["target"], emergency["met"], emergency["missed"]) == (30, 1, 1)
    assert emergency["within"] == 50.0
    us = by[("US", "Routine")]
    assert (us["median"], us["met"], us["missed"], us["within"]) == (2880.0, 0, 1, 0.0)
    assert figure["drill"][0] == {"department": "RAD", "priority": "emergency"}
    zh = timeline.statistics.figure("time.report_by_department", MONDAY, "zh")
    assert zh["rows"][0]["priority"] == "急诊"


def test_every_step_emergency_apart(timeline: Timeline) -> None:
    seed(timeline)
    figure = timeline.statistics.figure("time.steps", MONDAY, "en")
    by = rows(figure, "step", "priority")
    routine = {step: row for (step, priority), row in by.items() if priority == "Routine"}
    # order -> arrival: 10, 30, 20, 30 (US), 10 (unreported): 5 exams, the cancelled one not.
    assert (routine["Order → arrival"]["exams"], routine["Order → arrival"]["median"]) == (5, 20.0)
    assert routine["Completed → first report"]["median"] == 90.0  # 40, 60, 120, 2880
    assert routine["Completed → first report"]["p90"] == 2052.0
    assert routine["First report → signed"]["exams"] == 3  # the US report is not signed
    assert routine["First report → signed"]["median"] == 30.0
    assert routine["Order → signed"]["median"] == 120.0  # 120, 210, 120
    assert routine["Order → signed"]["target"] is None  # no target for the step
    emergency = by[("Completed → first report", "Emergency")]
    assert (emergency["median"], emergency["missed"]) == (30.0, 1)
    # The page, its Excel and its PDF are drawn from these very rows.
    assert figure["columns"][0]["label"] == "Step"


def test_a_department_counting_in_working_hours(timeline: Timeline) -> None:
    """US counts its routine report target in working hours (closing 17:00): done Friday
    17:00, reported Monday 09:00 is 60 minutes; RAD, on the calendar, is not changed."""
    timeline.exam(
        "2026-12-04 16:00",
        arrived="2026-12-04 16:10",
        started="2026-12-04 16:20",
        completed="2026-12-04 17:00",
        reported="2026-12-07 09:00",
        code="US-ABD",
    )
    timeline.exam(
        "2026-12-04 16:00",
        arrived="2026-12-04 16:10",
        started="2026-12-04 16:20",
        completed="2026-12-04 17:00",
        reported="2026-12-07 09:00",
    )
    with db.write(timeline.engine) as conn:
        found = target_rules.rules(conn)
        target_rules.replace(
            conn,
            [*found.targets.values(), Target("US", "routine", "report", 120, working_hours=True)],
            {"US": WorkingHours.parse("1-5 08:00-12:00,13:00-17:00")},
        )
    friday = Filters.parse({"start": "2026-12-04", "end": "2026-12-04"})
    figure = timeline.statistics.figure("time.report_by_department", friday, "en")
    by = rows(figure, "department")
    assert (by[("US",)]["median"], by[("US",)]["target"], by[("US",)]["met"]) == (60.0, 120, 1)
    assert by[("US",)]["clock"] == "Working hours"
    assert (by[("RAD",)]["median"], by[("RAD",)]["met"]) == (3840.0, 0)  # 64 h > 24 h
    assert by[("RAD",)]["clock"] == "Calendar time"


def test_the_drill_down_lists_a_rows_exams(timeline: Timeline) -> None:
    seed(timeline)
    emergency = timeline.statistics.exams(MONDAY, {"priority": "emergency"})
    assert emergency["total"] == 2
    routine = timeline.statistics.exams(MONDAY.narrowed(department="RAD"), {"priority": "routine"})
    assert routine["total"] == 5  # the cancelled exam is on the list too, as itself


@pytest.mark.parametrize("name", ["time.steps", "time.report_by_modality"])
def test_an_empty_range_is_an_empty_figure(timeline: Timeline, name: str) -> None:
    figure = timeline.statistics.figure(name, MONDAY, "zh")
    assert figure["rows"] == []


def test_the_excel_and_pdf_show_the_labels_the_page_shows(
    timeline: Timeline, tmp_path: Path
) -> None:
    seed(timeline)
    figure = timeline.statistics.figure("time.steps", MONDAY, "zh")
    book = load_workbook(BytesIO(timeline.statistics.excel("time.steps", MONDAY, "zh")))
    sheet = book.active
    assert sheet is not None
    keys = [c["key"] for c in figure["columns"]]
    table = [list(r) for r in sheet.iter_rows(min_row=5, values_only=True)]
    assert table == [[row[k] for k in keys] for row in figure["rows"]]
    assert table[0][:2] == ["申请→到检", "急诊"]
    pdf = tmp_path / "steps.pdf"
    pdf.write_bytes(timeline.statistics.pdf("time.steps", MONDAY, "zh"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "各环节周转时间" in text and "检查完成→初步报告" in text and "自然时间" in text
