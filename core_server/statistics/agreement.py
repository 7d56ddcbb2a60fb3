"""Imaging and pathology agreement (影像与病理符合率), per reporting doctor (the report's
author) and per modality. An exam counts once a doctor judged it on the follow-up page or in
the report editor (the report's ``pathology_agreement``: agree 符合, partly 部分符合,
disagree 不符合); exams not judged are not in the figures. The agreement rate is agree over
judged; the rate with partly counts partly as agreeing too. The exam counts on its exam day
(:data:`~core_server.statistics.filters.EXAM_TIME`), like every figure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from core_server.auth.tables import users
from core_server.reporting.tables import reporting_reports as reports
from core_server.ris.tables import ris_exams
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import Filters, exams_joined

_JUDGEMENTS = ("agree", "partly", "disagree")
_COLUMNS = (
    Column("judged", "followup.column.judged"),
    Column("agree", "followup.column.agree"),
    Column("partly", "followup.column.partly"),
    Column("disagree", "followup.column.disagree"),
    Column("agreement_rate", "followup.column.agreement_rate", "percent"),
    Column("with_partly_rate", "followup.column.with_partly_rate", "percent"),
)


def _judged(conn: Connection, filters: Filters, key: Any) -> dict[str, Counter[str]]:
    query = exams_joined(select(key.label("key"), reports.c.pathology_agreement))
    query = query.join(reports, reports.c.exam_id == ris_exams.c.id, isouter=False)
    rows = conn.execute(
        query.where(filters.where(), reports.c.pathology_agreement.in_(_JUDGEMENTS))
    ).all()
    out: dict[str, Counter[str]] = {}
    for group, agreement in rows:
        out.setdefault(group or "", Counter())[agreement] += 1
    return out


def _row(counts: Counter[str]) -> dict[str, Any]:
    judged = sum(counts[j] for j in _JUDGEMENTS)
    return {
        "judged": judged,
        **{j: counts[j] for j in _JUDGEMENTS},
        "agreement_rate": ratio(counts["agree"], judged),
        "with_partly_rate": ratio(counts["agree"] + counts["partly"], judged),
    }


def _totals(per: dict[str, Counter[str]]) -> dict[str, Any]:
    return _row(sum(per.values(), Counter()))


@figure("followup.agreement_by_doctor", "followup.figure.agreement_by_doctor", "followup")
def by_doctor(conn: Connection, filters: Filters) -> Figure:
    per = _judged(conn, filters, reports.c.author)
    shown = dict(
        conn.execute(
            select(users.c.username, users.c.display_name).where(users.c.username.in_(list(per)))
        ).all()
    )
    table = sorted(
        (
            {"doctor": shown.get(author) or author, "username": author, **_row(counts)}
            for author, counts in per.items()
        ),
        key=lambda row: (-row["judged"], row["username"]),
    )
    return Figure(
        name="followup.agreement_by_doctor",
        title="followup.figure.agreement_by_doctor",
        columns=(Column("doctor", "followup.column.doctor", "text"), *_COLUMNS),
        rows=table,
        chart=Chart("bar", "doctor", ("agree", "partly", "disagree")),
        totals=_totals(per),
        drill=[{"followup_author": row["username"], "followup_judged": "1"} for row in table],
        note="followup.note.agreement",
    )


@figure("followup.agreement_by_modality", "followup.figure.agreement_by_modality", "followup")
def by_modality(conn: Connection, filters: Filters) -> Figure:
    per = _judged(conn, filters, ris_exams.c.modality)
    table = sorted(
        ({"modality": modality, **_row(counts)} for modality, counts in per.items()),
        key=lambda row: (-row["judged"], row["modality"]),
    )
    return Figure(
        name="followup.agreement_by_modality",
        title="followup.figure.agreement_by_modality",
        columns=(Column("modality", "statistics.column.modality", "text"), *_COLUMNS),
        rows=table,
        chart=Chart("bar", "modality", ("agree", "partly", "disagree")),
        totals=_totals(per),
        drill=[{"modality": row["modality"], "followup_judged": "1"} for row in table],
        note="followup.note.agreement",
    )


@drill_condition("followup_author")
def _author(value: str) -> ColumnElement[bool]:
    return ris_exams.c.id.in_(select(reports.c.exam_id).where(reports.c.author == value))


@drill_condition("followup_judged")
def _judged_only(value: str) -> ColumnElement[bool]:
    judged = reports.c.pathology_agreement.in_(_JUDGEMENTS)
    return ris_exams.c.id.in_(select(reports.c.exam_id).where(judged))
