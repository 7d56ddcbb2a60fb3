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
an exam is kept in the statistics facts table (:mod:`.facts`, one row per exam, derived from
the history by the rules above and caught up before every figure); the figure groups in SQL
over it, and the drill-down condition reads the same column, so the exam list behind a row
holds exactly the exams it counts.
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
    exists,
    func,
    or_,
    select,
)

from core_server.archive.tables import instances, series, studies
from core_server.ris.tables import ris_exam_studies, ris_exams
from core_server.statistics.exams import drill_condition
from core_server.statistics.facts import statistics_exam_facts
from core_server.statistics.figures import Column, Figure, figure
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.people import person_figure

NOT_WORK = ("cancelled", "no_show")
PERFORMED = ("completed", "reported", "verified")
# The registrar and technician of an exam (the rules in the module's docstring) are kept per
# exam in the facts table (:mod:`.facts`, derived from the history by the same SQL).
f = statistics_exam_facts.c
REGISTRAR = f.registrar
TECHNICIAN = f.technician
REGISTERED = ris_exams.c.status.not_in(NOT_WORK)
DONE = ris_exams.c.status.in_(PERFORMED)

# The body parts of an exam: the distinct Body Part Examined of its images' series when the
# images name any, else the parts its RIS body part code names (a compound code such as
# CHESTABDOMEN, or codes joined by "+" or ","), and at least one.
COMPOUND_PARTS = {"ABDOMENPELVIS": 2, "CHESTABDOMEN": 2}


def _coded_parts(bp: Any) -> Any:
    """The parts a RIS body part code names (CHESTABDOMEN: 2, CT+MR joined codes: each)."""
    return cast(
        case(
            *((bp == code, n) for code, n in COMPOUND_PARTS.items()),
            (bp == "", 1),
            else_=1
            + func.length(bp)
            - func.length(func.replace(bp, "+", ""))
            + func.length(bp)
            - func.length(func.replace(bp, ",", "")),
        ),
        Integer,
    )


def _linked(*columns: Any) -> Any:
    """``columns`` over the series of the studies linked to the exam other than its own (a
    merge, a modality that sent its own Study Instance UID: rare, so one indexed probe per
    exam that mostly finds nothing)."""
    link = ris_exam_studies.c
    other = studies.alias("linked_study")
    return (
        select(*columns)
        .select_from(
            ris_exam_studies.join(other, other.c.study_instance_uid == link.study_instance_uid)
            .join(series, series.c.study_fk == other.c.id)
            .outerjoin(instances, instances.c.series_fk == series.c.id)
        )
        .where(
            link.exam_fk == ris_exams.c.id,
            link.study_instance_uid != ris_exams.c.study_instance_uid,
        )
        .correlate(ris_exams)
    )


def _performed(filters: Filters) -> Any:
    """Per performed exam of the range: its technician, body part code, images and imaged
    body parts. Its own study's series and instances are joined and grouped per exam (by
    equality only, which both databases follow by index; an OR with the linked studies made
    PostgreSQL compare every exam with every study); linked studies add a probe each."""
    own_parts = func.count(func.distinct(func.nullif(series.c.body_part_examined, "")))
    any_part = func.nullif(series.c.body_part_examined, "")
    with_linked_parts = (
        select(func.count(func.distinct(any_part)))
        .select_from(series)
        .where(
            or_(
                series.c.study_fk.in_(
                    select(studies.c.id).where(
                        studies.c.study_instance_uid == ris_exams.c.study_instance_uid
                    )
                ),
                series.c.study_fk.in_(
                    _linked(series.c.study_fk).with_only_columns(series.c.study_fk)
                ),
            )
        )
        .correlate(ris_exams)
        .scalar_subquery()
    )
    linked_images = _linked(func.count(instances.c.id)).scalar_subquery()
    has_links = _linked(ris_exam_studies.c.id).exists()
    return (
        exams_joined(
            select(
                TECHNICIAN.label("who"),
                ris_exams.c.body_part,
                (func.count(instances.c.id) + case((has_links, linked_images), else_=0)).label(
                    "images"
                ),
                case((has_links, with_linked_parts), else_=own_parts).label("imaged"),
            )
        )
        .join(statistics_exam_facts, f.exam_id == ris_exams.c.id)
        .outerjoin(studies, studies.c.study_instance_uid == ris_exams.c.study_instance_uid)
        .outerjoin(series, series.c.study_fk == studies.c.id)
        .outerjoin(instances, instances.c.series_fk == series.c.id)
        .where(filters.where(), DONE)
        .group_by(ris_exams.c.id, TECHNICIAN, ris_exams.c.body_part)
        .subquery()
    )


def _fact_is(column: Any, value: str) -> ColumnElement[bool]:
    return exists(select(f.exam_id).where(f.exam_id == ris_exams.c.id, column == value))


@drill_condition("registrar")
def _registrar(value: str) -> ColumnElement[bool]:
    return and_(REGISTERED, _fact_is(REGISTRAR, value))


@drill_condition("technician")
def _technician(value: str) -> ColumnElement[bool]:
    return and_(DONE, _fact_is(TECHNICIAN, value))


def _per_person(filters: Filters, who: Any, counted: ColumnElement[bool], **sums: Any) -> Any:
    """Exams of the range counted for ``who``, with ``sums`` added up, grouped in SQL."""
    inner = (
        exams_joined(select(who.label("who"), *(v.label(k) for k, v in sums.items())))
        .join(statistics_exam_facts, f.exam_id == ris_exams.c.id)
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
    exam = _performed(filters)
    # The body parts: the distinct Body Part Examined of its series, else what its code names.
    parts = func.coalesce(func.nullif(exam.c.imaged, 0), _coded_parts(exam.c.body_part))
    query = select(
        exam.c.who,
        func.count().label("exams"),
        func.sum(parts).label("parts"),
        func.sum(exam.c.images).label("images"),
    ).group_by(exam.c.who)
    return person_figure(
        conn,
        query,
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
