"""The study list's search: one box for what a front desk types, plus modality and dates.

Unlike DICOM matching (:mod:`core_server.archive.query`), the box guesses what it was given:

- Chinese characters: part of the patient's name (张三 finds 张^三 and 张三丰),
- letters only: the start of the name's pinyin initials (``zs``) or spelling (``zhangs``),
  any case, and the start of a patient ID or accession number,
- anything else: the start of a patient ID or accession number, or a whole study ID.

Newest studies first; a page of answers with the total that matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, exists, func, or_, select, union

from core_server import db, names
from core_server.archive import tables as t
from core_server.pinyin import normalize_query
from core_server.refusals import Invalid

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_DATE = re.compile(r"^\d{8}$")
MAX_PAGE = 200


class StudySearchError(Invalid):
    """A filter the search cannot use (``field`` and ``value`` say which)."""


@dataclass(frozen=True)
class StudyFilter:
    text: str = ""
    patient_id: str = ""
    accession_number: str = ""
    modality: str = ""
    date_from: str = ""  # YYYYMMDD, inclusive
    date_to: str = ""  # YYYYMMDD, inclusive
    limit: int = 50
    offset: int = 0


def search_studies(engine: Engine, wanted: StudyFilter) -> tuple[int, list[dict[str, Any]]]:
    """(how many studies match, the requested page of them as dicts)."""
    conditions = _conditions(wanted)
    limit = max(1, min(wanted.limit, MAX_PAGE))
    with db.read(engine) as conn:
        total = int(
            conn.execute(
                select(func.count()).select_from(t.studies).where(*conditions)
            ).scalar_one()
        )
        rows = conn.execute(
            select(t.studies, *_PATIENT_COLUMNS)
            .join(t.patients, t.patients.c.id == t.studies.c.patient_fk)
            .where(*conditions)
            .order_by(
                t.studies.c.study_date.desc(), t.studies.c.study_time.desc(), t.studies.c.id.desc()
            )
            .limit(limit)
            .offset(max(0, wanted.offset))
        ).all()
        ids = [row.id for row in rows]
        series = _series_summary(conn, ids)
    return total, [_answer(row, series.get(row.id)) for row in rows]


_PATIENT_COLUMNS = (
    t.patients.c.patient_id,
    t.patients.c.issuer_of_patient_id,
    t.patients.c.patient_name,
    t.patients.c.birth_date,
    t.patients.c.sex,
)


def _conditions(wanted: StudyFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    text = "".join(wanted.text.split())  # spaces never matter: 张 三 = 张三, ZHANG SAN
    if text:
        conditions.append(_text_condition(text))
    if wanted.patient_id.strip():
        conditions.append(_of_patients(t.patients.c.patient_id == wanted.patient_id.strip()))
    if wanted.accession_number.strip():
        conditions.append(t.studies.c.accession_number == wanted.accession_number.strip())
    if wanted.modality.strip():
        modality = wanted.modality.strip().upper()
        conditions.append(
            exists().where(t.series.c.study_fk == t.studies.c.id, t.series.c.modality == modality)
        )
    for value, name in ((wanted.date_from, "date_from"), (wanted.date_to, "date_to")):
        if value and not _DATE.match(value):
            raise StudySearchError("archive.study_search.bad_date", field=name, value=value)
    if wanted.date_from:
        conditions.append(t.studies.c.study_date >= wanted.date_from)
    if wanted.date_to:
        conditions.append(
            and_(t.studies.c.study_date != "", t.studies.c.study_date <= wanted.date_to)
        )
    return conditions


def _text_condition(text: str) -> ColumnElement[bool]:
    """Conditions on the study row only: patient keys through a sub-select of patient ids, so
    that each alternative can use its own index (a join with OR across tables uses none)."""
    p = t.patients.c
    study: list[ColumnElement[bool]] = []
    if _HAN.search(text):
        # The stored name keeps DICOM's ^ between family and given name: compare without it.
        patient = [func.replace(p.patient_name, "^", "").contains(text, autoescape=True)]
    else:
        patient = [_prefix(p.patient_id, text)]
        if text.isascii() and text.isalpha():
            patient += [
                _prefix(p.patient_name_initials, text.upper()),
                _prefix(p.patient_name_pinyin, normalize_query(text)),
            ]
        study = [_prefix(t.studies.c.accession_number, text), t.studies.c.study_id == text]
    if not study:
        return _of_patients(*patient)
    # A union of index look-ups: an OR between the sub-select and the study's own columns made
    # PostgreSQL scan every study (about 200 ms for 100,000 studies; 1-4 ms as a union).
    s = t.studies.c
    ids = union(
        select(s.id).where(_of_patients(*patient)),
        *(select(s.id).where(condition) for condition in study),
    )
    return s.id.in_(ids)


def _prefix(column: Any, text: str) -> ColumnElement[bool]:
    """``LIKE 'text%'`` with the pattern built here: SQLite walks an index for a LIKE only
    when the pattern is one bound string (``startswith`` binds ``text || '%'``)."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return column.like(escaped + "%", escape="/")


def _of_patients(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return t.studies.c.patient_fk.in_(select(t.patients.c.id).where(or_(*conditions)))


def _series_summary(conn: Any, ids: list[int]) -> dict[int, tuple[list[str], int, int]]:
    """Study id -> (modalities, number of series, number of instances)."""
    if not ids:
        return {}
    found: dict[int, tuple[list[str], int, int]] = {}
    instances = (
        # series_fk, not id: the index (series_fk, instance_number) answers it alone.
        select(func.count(t.instances.c.series_fk))
        .where(t.instances.c.series_fk == t.series.c.id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(t.series.c.study_fk, t.series.c.modality, instances.label("instances")).where(
            t.series.c.study_fk.in_(ids)
        )
    ).all()
    for row in rows:
        modalities, n_series, n_instances = found.get(row.study_fk, ([], 0, 0))
        if row.modality and row.modality not in modalities:
            modalities.append(row.modality)
        found[row.study_fk] = (modalities, n_series + 1, n_instances + int(row.instances))
    return found


def _answer(row: Any, series: tuple[list[str], int, int] | None) -> dict[str, Any]:
    modalities, n_series, n_instances = series or ([], 0, 0)
    return {
        "study_instance_uid": row.study_instance_uid,
        "study_date": row.study_date,
        "study_time": row.study_time,
        "accession_number": row.accession_number,
        "study_id": row.study_id,
        "study_description": row.study_description,
        "referring_physician_name": row.referring_physician_name,
        "patient_id": row.patient_id,
        "issuer_of_patient_id": row.issuer_of_patient_id,
        "patient_name": row.patient_name,
        "patient_name_display": names.display(row.patient_name),
        "patient_name_latin": names.PersonName.parse(row.patient_name).latin(),
        "patient_birth_date": row.birth_date,
        "patient_sex": row.sex,
        "modalities": sorted(modalities),
        "series": n_series,
        "instances": n_instances,
    }
