"""Workload of the desk and the modality rooms (登记员, 技师), one row per person, counted the
way Chinese imaging departments count: exams registered; exams performed with their body parts
(部位) and images.

Each exam has one registrar and one technician, read from the RIS's status history (the exam
counts in the range of its exam time, like every figure):

* **registrar**: the person who created the exam, or, when it came from the HIS (``hl7:...``),
  the person who checked the patient in at the desk (``arrived``);
* **technician**: the person who completed it (``in_progress -> completed``), or else who
  started it (``in_progress``): a modality's MPPS (``mpps:<AE>``) counts only when no person
  took either step, and then shows as the modality.

Cancelled and no-show exams are never work done: they count for nobody. The person chosen for
an exam is one correlated sub-query per exam on the history's ``exam_fk`` index, after the
range of exam times narrowed the exams; the figure groups in SQL, and the drill-down condition
is the same expression, so the exam list behind a row holds exactly the exams it counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)

from core_server.archive.tables import instances, series, studies
from core_server.ris.tables import ris_exam_history, ris_exam_studies, ris_exams
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Column, Figure, figure
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.people import person_figure

h = ris_exam_history.c
NOT_WORK = ("cancelled", "no_show")
PERFORMED = ("completed", "reported", "verified")
# A name with a colon is a machine acting (hl7:HIS, mpps:CT01), never a person.
_MACHINE = case((h.username.contains(":"), 1), else_=0)


def _first_of(steps: ColumnElement[bool], *order: Any) -> Any:
    """The username of the exam's history step chosen by ``order`` among ``steps``."""
    return (
        select(h.username)
        .where(h.exam_fk == ris_exams.c.id, steps)
        .order_by(*order)
        .limit(1)
        .correlate(ris_exams)
        .scalar_subquery()
    )


REGISTRAR = _first_of(or_(h.old_status.is_(None), h.new_status == "arrived"), _MACHINE, h.id)
TECHNICIAN = _first_of(
    or_(
        and_(h.old_status == "in_progress", h.new_status == "completed"),
        h.new_status == "in_progress",
    ),
    _MACHINE,
    case((h.new_status == "completed", 0), else_=1),
    h.id.desc(),
)
REGISTERED = ris_exams.c.status.not_in(NOT_WORK)
DONE = ris_exams.c.status.in_(PERFORMED)

# The body parts of an exam: the distinct Body Part Examined of its images' series when the
# images name any, else the parts its RIS body part code names (a compound code such as
# CHESTABDOMEN, or codes joined by "+" or ","), and at least one.
COMPOUND_PARTS = {"ABDOMENPELVIS": 2, "CHESTABDOMEN": 2}


def _study_ids() -> Any:
    """The archive's studies of the exam: its own Study Instance UID and those linked to it
    (a merge, a modality that sent its own UID)."""
    linked = (
        select(ris_exam_studies.c.study_instance_uid)
        .where(ris_exam_studies.c.exam_fk == ris_exams.c.id)
        .correlate(ris_exams)
    )
    return (
        select(studies.c.id)
        .where(
            or_(
                studies.c.study_instance_uid == ris_exams.c.study_instance_uid,
                studies.c.study_instance_uid.in_(linked),
            )
        )
        .correlate(ris_exams)
    )


IMAGES = (
    select(func.count(instances.c.id))
    .select_from(instances.join(series, series.c.id == instances.c.series_fk))
    .where(series.c.study_fk.in_(_study_ids()))
    .correlate(ris_exams)
    .scalar_subquery()
)
_IMAGED_PARTS = (
    select(func.count(func.distinct(series.c.body_part_examined)))
    .where(series.c.study_fk.in_(_study_ids()), series.c.body_part_examined != "")
    .correlate(ris_exams)
    .scalar_subquery()
)
_bp = ris_exams.c.body_part
_CODED_PARTS = case(
    *((_bp == code, n) for code, n in COMPOUND_PARTS.items()),
    (_bp == "", 1),
    else_=1
    + func.length(_bp)
    - func.length(func.replace(_bp, "+", ""))
    + func.length(_bp)
    - func.length(func.replace(_bp, ",", "")),
)
BODY_PARTS = func.coalesce(func.nullif(_IMAGED_PARTS, 0), cast(_CODED_PARTS, Integer))


@drill_condition("registrar")
def _registrar(value: str) -> ColumnElement[bool]:
    return and_(REGISTERED, REGISTRAR == value)  # noqa: SIM300 (an SQL expression)


@drill_condition("technician")
def _technician(value: str) -> ColumnElement[bool]:
    return and_(DONE, TECHNICIAN == value)  # noqa: SIM300 (an SQL expression)


def _per_person(filters: Filters, who: Any, counted: ColumnElement[bool], **sums: Any) -> Any:
    """Exams of the range counted for ``who``, with ``sums`` added up, grouped in SQL."""
    inner = (
        exams_joined(select(who.label("who"), *(v.label(k) for k, v in sums.items())))
        .where(filters.where(), counted)
        .subquery()
    )
    return select(
        inner.c.who,
        func.count().label("exams"),
        *(func.sum(inner.c[k]).label(k) for k in sums),
    ).group_by(inner.c.who)


@figure("workload.registrar", "statistics.workload.figure.registrar", "workload")
def registrars(conn: Connection, filters: Filters) -> Figure:
    return person_figure(
        conn,
        _per_person(filters, REGISTRAR, REGISTERED),
        name="workload.registrar",
        title="statistics.workload.figure.registrar",
        columns=(Column("exams", "statistics.workload.column.exams_registered"),),
        drill_key="registrar",
        note="statistics.workload.note.registrar",
    )


@figure("workload.technician", "statistics.workload.figure.technician", "workload")
def technicians(conn: Connection, filters: Filters) -> Figure:
    return person_figure(
        conn,
        _per_person(filters, TECHNICIAN, DONE, parts=BODY_PARTS, images=IMAGES),
        name="workload.technician",
        title="statistics.workload.figure.technician",
        columns=(
            Column("exams", "statistics.workload.column.exams_performed"),
            Column("parts", "statistics.workload.column.body_parts"),
            Column("images", "statistics.workload.column.images"),
        ),
        drill_key="technician",
        note="statistics.workload.note.technician",
    )
