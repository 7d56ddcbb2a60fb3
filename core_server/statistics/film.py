"""Film use and film quality (胶片统计): the film sheets of the range's exams by day, modality
and department (sheets, sheets per exam, printed vs cloud film only, reprints) and the film
quality grades per modality.

- A sheet counts with its exam, on the exam's hospital day (as every figure counts), so the
  department, modality and other filters apply; a sheet not yet matched to an exam is not
  counted until it is.
- *Printed*: a laser imager printed the sheet (``printed_at`` set); *cloud only*: it was not
  printed. An exam is *printed* when one of its sheets was, else *cloud only*.
- *Reprints*: copies printed beyond those the sender asked for (``printed_copies - copies``
  when positive: the sheet sent to a printer again).
- Grades: each graded sheet's newest grade (``film.grades``), and how often each reason was
  given with it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from core_server import clock
from core_server.film.grades import GRADES, REASONS, current_grades
from core_server.film.tables import film_sheets
from core_server.ris.tables import ris_exams
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import EXAM_TIME, Filters, exams_joined

COUNTS = (
    "exams",
    "sheets",
    "printed",
    "cloud_only",
    "exams_printed",
    "exams_cloud_only",
    "reprints",
)
_COLUMNS = (
    Column("exams", "statistics.film.column.exams"),
    Column("sheets", "statistics.film.column.sheets"),
    Column("per_exam", "statistics.film.column.per_exam", "text"),
    Column("printed", "statistics.film.column.printed"),
    Column("cloud_only", "statistics.film.column.cloud_only"),
    Column("exams_printed", "statistics.film.column.exams_printed"),
    Column("exams_cloud_only", "statistics.film.column.exams_cloud_only"),
    Column("reprints", "statistics.film.column.reprints"),
)


def _sheets(conn: Connection, filters: Filters) -> list[Any]:
    s = film_sheets.c
    query = exams_joined(
        select(
            ris_exams.c.id.label("exam_id"),
            ris_exams.c.modality,
            ris_exams.c.department,
            EXAM_TIME.label("exam_time"),
            s.printed_at,
            s.copies,
            s.printed_copies,
        )
    ).join(film_sheets, s.exam_id == ris_exams.c.id)
    return list(conn.execute(query.where(filters.where())))


def _tally(rows: list[Any], key: Callable[[Any], str]) -> dict[str, Counter[str]]:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    exams: dict[str, dict[int, bool]] = defaultdict(dict)  # group -> exam -> any printed
    for row in rows:
        group = key(row)
        counts = per[group]
        printed = row.printed_at is not None
        counts["sheets"] += 1
        counts["printed" if printed else "cloud_only"] += 1
        counts["reprints"] += max(0, int(row.printed_copies) - int(row.copies)) if printed else 0
        seen = exams[group]
        seen[row.exam_id] = seen.get(row.exam_id, False) or printed
    for group, seen in exams.items():
        per[group]["exams"] = len(seen)
        per[group]["exams_printed"] = sum(seen.values())
        per[group]["exams_cloud_only"] = len(seen) - sum(seen.values())
    return per


def _row(label: str, name: str, counts: Counter[str]) -> dict[str, Any]:
    exams = counts["exams"]
    per_exam = f"{counts['sheets'] / exams:.1f}" if exams else ""
    return {label: name, **{k: counts[k] for k in COUNTS}, "per_exam": per_exam}


def _figure(
    name: str, label: str, rows: list[dict[str, Any]], chart: Chart, **extra: Any
) -> Figure:
    total: Counter[str] = Counter()
    for row in rows:
        total.update({k: row[k] for k in COUNTS})
    totals = _row(label, "", total)
    del totals[label]
    return Figure(
        name=name,
        title=f"statistics.figure.{name.replace('.', '_')}",
        columns=(Column(label, f"statistics.film.column.{label}", "text"), *_COLUMNS),
        rows=rows,
        chart=chart,
        totals=totals,
        note="statistics.film.note",
        **extra,
    )


@figure("film.by_day", "statistics.figure.film_by_day", "volume")
def by_day(conn: Connection, filters: Filters) -> Figure:
    per = _tally(_sheets(conn, filters), lambda r: clock.local(r.exam_time).date().isoformat())
    days = [d.isoformat() for d in filters.days]
    rows = [_row("day", day, per.get(day, Counter())) for day in days]
    drill = [{"day": day, "film": "sheets"} for day in days]
    return _figure(
        "film.by_day", "day", rows, Chart("bar", "day", ("printed", "cloud_only")), drill=drill
    )


@figure("film.by_modality", "statistics.figure.film_by_modality", "volume")
def by_modality(conn: Connection, filters: Filters) -> Figure:
    per = _tally(_sheets(conn, filters), lambda r: r.modality or "")
    rows = sorted(
        (_row("modality", m, c) for m, c in per.items()),
        key=lambda r: (-r["sheets"], r["modality"]),
    )
    drill = [{"modality": r["modality"], "film": "sheets"} for r in rows]
    chart = Chart("bar", "modality", ("printed", "cloud_only"))
    return _figure("film.by_modality", "modality", rows, chart, drill=drill)


@figure("film.by_department", "statistics.figure.film_by_department", "volume")
def by_department(conn: Connection, filters: Filters) -> Figure:
    per = _tally(_sheets(conn, filters), lambda r: r.department or "")
    rows = sorted(
        (_row("department", d, c) for d, c in per.items()),
        key=lambda r: (-r["sheets"], r["department"]),
    )
    drill = [{"department": r["department"], "film": "sheets"} for r in rows]
    chart = Chart("bar", "department", ("printed", "cloud_only"))
    return _figure("film.by_department", "department", rows, chart, drill=drill)


@figure("film.quality", "statistics.figure.film_quality", "quality")
def quality(conn: Connection, filters: Filters) -> Figure:
    s = film_sheets.c
    graded = current_grades().subquery()
    query = (
        exams_joined(select(ris_exams.c.modality, s.id, graded.c.grade, graded.c.reasons))
        .join(film_sheets, s.exam_id == ris_exams.c.id)
        .outerjoin(graded, graded.c.sheet_id == s.id)
        .where(filters.where())
    )
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for modality, _sheet, grade, reasons in conn.execute(query):
        counts = per[modality or ""]
        counts["sheets"] += 1
        if grade in GRADES:
            counts["graded"] += 1
            counts[grade] += 1
            counts.update(f"reason_{r}" for r in json.loads(reasons or "[]"))
    rows = sorted(
        (_quality_row(m, c) for m, c in per.items()), key=lambda r: (-r["sheets"], r["modality"])
    )
    totals = _quality_row("", sum(per.values(), Counter()))
    del totals["modality"]
    return Figure(
        name="film.quality",
        title="statistics.figure.film_quality",
        columns=(
            Column("modality", "statistics.film.column.modality", "text"),
            Column("sheets", "statistics.film.column.sheets"),
            Column("graded", "statistics.film.column.graded"),
            *(Column(g, f"statistics.column.qc_{g}") for g in GRADES),
            Column("poor_percent", "statistics.column.qc_poor_percent", "percent"),
            *(Column(f"reason_{r}", f"film.reason.{r}") for r in REASONS),
        ),
        rows=rows,
        chart=Chart("bar", "modality", GRADES),
        totals=totals,
        drill=[{"modality": r["modality"], "film": "graded"} for r in rows],
        note="statistics.film.note_quality",
    )


def _quality_row(modality: str, counts: Counter[str]) -> dict[str, Any]:
    return {
        "modality": modality,
        "sheets": counts["sheets"],
        "graded": counts["graded"],
        **{g: counts[g] for g in GRADES},
        "poor_percent": ratio(counts["poor"], counts["graded"]),
        **{f"reason_{r}": counts[f"reason_{r}"] for r in REASONS},
    }


@drill_condition("film")
def _film(value: str) -> ColumnElement[bool]:
    """``sheets``: exams with film sheets; ``printed`` / ``cloud_only``: with a printed sheet /
    with sheets none printed; ``graded``: with a graded sheet."""
    s = film_sheets.c
    having = select(s.exam_id).where(s.exam_id.is_not(None))
    printed = having.where(s.printed_at.is_not(None))
    if value == "printed":
        return ris_exams.c.id.in_(printed)
    if value == "cloud_only":
        return ris_exams.c.id.in_(having) & ris_exams.c.id.not_in(printed)
    if value == "graded":
        graded = current_grades().subquery()
        return ris_exams.c.id.in_(having.join(graded, graded.c.sheet_id == s.id))
    return ris_exams.c.id.in_(having)
