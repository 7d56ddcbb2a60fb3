"""The statistics facts table (core_server/statistics/facts.py): each exam's registrar,
technician and moments kept from the histories by cursor, caught up before every figure, and
the same rows whether caught up step by step or rebuilt from scratch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from core_server import db
from core_server.statistics import Filters, facts
from core_server.statistics.facts import statistics_exam_facts, statistics_facts_cursor
from tests.core_server.statistics.conftest import Department

DAY = Filters(start=datetime(2026, 3, 2).date(), end=datetime(2026, 3, 2).date())


def _rows(department: Department) -> list[dict[str, Any]]:
    with db.read(department.statistics.engine) as conn:
        found = conn.execute(select(statistics_exam_facts).order_by("exam_id")).mappings()
        return [dict(r) for r in found]


def _technicians(department: Department) -> dict[str, int]:
    figure = department.statistics.figure("workload.technician", DAY, "en")
    return {r["username"]: r["exams"] for r in figure["rows"]}


def test_a_figure_sees_the_step_taken_just_before_it(department: Department) -> None:
    first = department.exam(datetime(2026, 3, 2, 9, 0), status="in_progress")
    assert _technicians(department) == {}
    department.ris.change_status(first.id, "completed", username="tech2")
    # No tick in between: the figure caught the facts up itself.
    assert _technicians(department) == {"tech2": 1}
    second = department.exam(datetime(2026, 3, 2, 10, 0))
    assert _technicians(department) == {"tech2": 1, "tech1": 1}
    drilled = department.statistics.exams(DAY, {"technician": "tech1"})
    assert [e["exam_id"] for e in drilled["exams"]] == [second.id]


def test_catch_up_rederives_only_the_exams_that_moved(department: Department) -> None:
    one = department.exam(datetime(2026, 3, 2, 9, 0), status="arrived")
    two = department.exam(datetime(2026, 3, 2, 9, 30), status="arrived")
    assert department.statistics.catch_up() == 2
    assert department.statistics.catch_up() == 0  # nothing moved: two small reads
    department.ris.change_status(two.id, "in_progress", username="tech3")
    assert department.statistics.catch_up() == 1
    rows = {r["exam_id"]: r for r in _rows(department)}
    assert rows[one.id]["technician"] is None and rows[two.id]["technician"] == "tech3"
    assert rows[two.id]["arrived"] is not None and rows[two.id]["started"] is not None


def test_a_rebuild_gives_the_rows_the_catch_ups_kept(department: Department) -> None:
    exams = [department.exam(datetime(2026, 3, 2, 8 + n, 0), status="arrived") for n in range(3)]
    department.statistics.catch_up()
    department.ris.change_status(exams[0].id, "in_progress", username="tech1")
    department.ris.change_status(exams[0].id, "completed", username="tech4")
    department.exam(datetime(2026, 3, 2, 15, 0), status="cancelled")
    department.statistics.catch_up()
    kept = _rows(department)
    with db.write(department.statistics.engine) as conn:
        assert facts.rebuild(conn) == 4
    assert _rows(department) == kept
    assert {r["technician"] for r in kept} == {"tech4", None}
    assert {r["completed_by"] for r in kept} == {"tech4", None}


def test_a_large_backlog_is_a_rebuild(department: Department, monkeypatch: Any) -> None:
    for n in range(3):
        department.exam(datetime(2026, 3, 2, 8 + n, 0))
    with db.write(department.statistics.engine) as conn:  # as a fresh migration leaves it
        conn.execute(update(statistics_facts_cursor).values(last_id=0))
        conn.execute(statistics_exam_facts.delete())
    rebuilt: list[int] = []
    real = facts.rebuild
    monkeypatch.setattr(facts, "REBUILD_AFTER", 5)
    monkeypatch.setattr(facts, "rebuild", lambda conn: rebuilt.append(1) or real(conn))
    assert _technicians(department) == {"tech1": 3}
    assert rebuilt == [1]
    with db.read(department.statistics.engine) as conn:
        cursors = {r.name: r.last_id for r in conn.execute(select(statistics_facts_cursor))}
    assert cursors["ris_exam_history"] > 0
