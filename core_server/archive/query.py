"""Matching the archive's index the DICOM way (PS3.4 C.2.2.2), for C-FIND and later QIDO-RS.

A query is a level and a mapping of attribute keyword -> matching string as DICOM writes it:
empty (universal), a single value, ``*``/``?`` wildcards, ``A-B`` date/time ranges, or a
backslash-separated UID list. Person names match case-insensitively on each component group;
a query with one group matches the alphabetic, ideographic or phonetic group. Answers are
dicts of keyword -> value, so that each protocol adapter encodes them its own way.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
)

from core_server.archive import tables as t
from core_server.archive.fuzzy import fuzzy_name
from core_server.archive.objects import normalize_name


class Level(StrEnum):
    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"


_DEPTH = {Level.PATIENT: 0, Level.STUDY: 1, Level.SERIES: 2, Level.IMAGE: 3}


class QueryError(ValueError):
    """The query cannot be answered as asked (for example an unknown level)."""


@dataclass(frozen=True)
class Attribute:
    keyword: str
    level: Level
    column: Any  # the column the answer comes from
    match: str  # "pn", "date", "time", "uid", "text", "int"; "" = return key only
    keys: tuple[Any, ...] = ()  # person names: the upper-cased match keys per group


ATTRIBUTES: dict[str, Attribute] = {
    a.keyword: a
    for a in (
        Attribute(
            "PatientName",
            Level.PATIENT,
            t.patients.c.patient_name,
            "pn",
            (
                t.patients.c.patient_name_alpha,
                t.patients.c.patient_name_ideo,
                t.patients.c.patient_name_phon,
            ),
        ),
        Attribute("PatientID", Level.PATIENT, t.patients.c.patient_id, "text"),
        Attribute("IssuerOfPatientID", Level.PATIENT, t.patients.c.issuer_of_patient_id, "text"),
        Attribute("PatientBirthDate", Level.PATIENT, t.patients.c.birth_date, "date"),
        Attribute("PatientSex", Level.PATIENT, t.patients.c.sex, "text"),
        Attribute("StudyInstanceUID", Level.STUDY, t.studies.c.study_instance_uid, "uid"),
        Attribute("StudyDate", Level.STUDY, t.studies.c.study_date, "date"),
        Attribute("StudyTime", Level.STUDY, t.studies.c.study_time, "time"),
        Attribute("AccessionNumber", Level.STUDY, t.studies.c.accession_number, "text"),
        Attribute("StudyID", Level.STUDY, t.studies.c.study_id, "text"),
        Attribute("StudyDescription", Level.STUDY, t.studies.c.study_description, "text"),
        Attribute(
            "ReferringPhysicianName",
            Level.STUDY,
            t.studies.c.referring_physician_name,
            "pn",
            (t.studies.c.referring_physician_key,),
        ),
        Attribute("SeriesInstanceUID", Level.SERIES, t.series.c.series_instance_uid, "uid"),
        Attribute("Modality", Level.SERIES, t.series.c.modality, "text"),
        Attribute("SeriesNumber", Level.SERIES, t.series.c.series_number, "int"),
        Attribute("SeriesDescription", Level.SERIES, t.series.c.series_description, "text"),
        Attribute("BodyPartExamined", Level.SERIES, t.series.c.body_part_examined, "text"),
        Attribute("SeriesDate", Level.SERIES, t.series.c.series_date, "date"),
        Attribute("SeriesTime", Level.SERIES, t.series.c.series_time, "time"),
        Attribute("StationName", Level.SERIES, t.series.c.station_name, "text"),
        Attribute("SOPInstanceUID", Level.IMAGE, t.instances.c.sop_instance_uid, "uid"),
        Attribute("SOPClassUID", Level.IMAGE, t.instances.c.sop_class_uid, "uid"),
        Attribute("InstanceNumber", Level.IMAGE, t.instances.c.instance_number, "int"),
        Attribute("NumberOfFrames", Level.IMAGE, t.instances.c.number_of_frames, ""),
        Attribute("Rows", Level.IMAGE, t.instances.c.rows, ""),
        Attribute("Columns", Level.IMAGE, t.instances.c.columns, ""),
    )
}

# Answered from the index but computed, not stored; ModalitiesInStudy can also be matched.
DERIVED: dict[str, Level] = {
    "NumberOfPatientRelatedStudies": Level.PATIENT,
    "NumberOfPatientRelatedSeries": Level.PATIENT,
    "NumberOfPatientRelatedInstances": Level.PATIENT,
    "ModalitiesInStudy": Level.STUDY,
    "NumberOfStudyRelatedSeries": Level.STUDY,
    "NumberOfStudyRelatedInstances": Level.STUDY,
    "NumberOfSeriesRelatedInstances": Level.SERIES,
}

_TABLES = (t.patients, t.studies, t.series, t.instances)
_PINYIN_KEYS = (t.patients.c.patient_name_initials, t.patients.c.patient_name_pinyin)
_BATCH = 500


def find(
    conn: Connection,
    level: Level | str,
    query: Mapping[str, str],
    *,
    limit: int | None = None,
    offset: int = 0,
    fuzzy: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every entity at ``level`` that matches ``query``, with all the attributes the index
    holds for it and its parents, and the derived ones the query asks for. ``fuzzy`` person
    name matching is QIDO-RS's (see :mod:`core_server.archive.fuzzy`)."""
    level = _level(level)
    statement, params = _select(level, query, fuzzy)
    _custom_plan(conn)
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    wanted = [k for k in query if k in DERIVED and _DEPTH[DERIVED[k]] <= _DEPTH[level]]
    result = conn.execute(statement, params)
    while batch := result.fetchmany(_BATCH):
        answers = [_answer(row, level) for row in batch]
        if wanted:
            _add_derived(conn, level, batch, answers, wanted)
        yield from answers


def count(
    conn: Connection, level: Level | str, query: Mapping[str, str], fuzzy: bool = False
) -> int:
    statement, params = _select(_level(level), query, fuzzy)
    _custom_plan(conn)
    inner = statement.subquery()
    return int(conn.execute(select(func.count()).select_from(inner), params).scalar_one())


def _custom_plan(conn: Connection) -> None:
    """PostgreSQL plans this transaction's statements with their values. The driver prepares
    a statement run often, and PostgreSQL's generic plan of a prepared one cannot see the
    values: it took a day's StudyDate range for 0.5 % of the studies and, under QIDO's LIMIT,
    walked the whole primary key in ``ORDER BY id`` (37 ms at 100 k studies instead of 1 ms
    through the date index; docs/index-scale.md)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def _level(level: Level | str) -> Level:
    try:
        return Level(str(level).upper())
    except ValueError:
        raise QueryError(f"unknown query level {level!r}") from None


# A condition's shape: what its SQL looks like whatever the values (which become parameters).
Shape = tuple[Any, ...]


def _select(
    level: Level, query: Mapping[str, str], fuzzy: bool = False
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement answering ``query`` and its parameters. Statements are built once per
    shape of query (which keys, which kind of matching) and reused: building one with
    SQLAlchemy cost more than running it on SQLite."""
    depth = _DEPTH[level]
    shapes: list[tuple[str, Shape]] = []
    values: list[Any] = []
    fuzzy_conditions = []
    for keyword, raw in query.items():
        value = "" if raw is None else str(raw)
        if value in ("", "*"):
            continue  # universal matching
        attribute = ATTRIBUTES.get(keyword)
        if attribute is not None and attribute.match and _DEPTH[attribute.level] <= depth:
            if fuzzy and attribute.match == "pn":
                patient = attribute.keyword == "PatientName"
                keys = _PINYIN_KEYS if patient else None
                fuzzy_conditions.append(fuzzy_name(attribute.keys, value, keys))
                continue
            shape, params = _plan(attribute, value)
        elif keyword == "ModalitiesInStudy" and depth >= 1:
            planned = [_plan_text(m.strip()) for m in value.split("\\") if m.strip()]
            shape = ("modalities", tuple(kind for kind, _ in planned))
            params = [param for _, param in planned]
        else:
            continue
        shapes.append((keyword, shape))
        values.extend(params)
    bound = {f"p{n}": v for n, v in enumerate(values)}
    if fuzzy_conditions:
        return _statement(level, tuple(shapes), fuzzy_conditions), bound
    return _cached_statement(level, tuple(shapes)), bound


@lru_cache(maxsize=512)
def _cached_statement(level: Level, shapes: tuple[tuple[str, Shape], ...]) -> Select[Any]:
    return _statement(level, shapes, [])


def _statement(
    level: Level, shapes: tuple[tuple[str, Shape], ...], extra: list[ColumnElement[bool]]
) -> Select[Any]:
    depth = _DEPTH[level]
    tables = _TABLES[: depth + 1]
    joined: Any = t.patients
    if depth >= 1:
        joined = joined.join(t.studies, t.studies.c.patient_fk == t.patients.c.id)
    if depth >= 2:
        joined = joined.join(t.series, t.series.c.study_fk == t.studies.c.id)
    if depth >= 3:
        joined = joined.join(t.instances, t.instances.c.series_fk == t.series.c.id)
    columns = [c.label(f"{table.name}__{c.name}") for table in tables for c in table.c]
    names = (f"p{n}" for n in itertools.count())
    conditions = [*extra]
    for keyword, shape in shapes:
        if keyword == "ModalitiesInStudy":
            conditions.append(_modalities_in_study(shape[1], names))
        else:
            conditions.append(_condition(ATTRIBUTES[keyword], shape, names))
    deepest = tables[-1]
    return (
        select(*columns).select_from(joined).where(and_(true(), *conditions)).order_by(deepest.c.id)
    )


def _plan(attribute: Attribute, value: str) -> tuple[Shape, list[Any]]:
    """The shape of the condition matching ``value`` and its parameters, in order."""
    match attribute.match:
        case "uid":
            uids = [u.strip() for u in value.split("\\") if u.strip()]
            if len(uids) == 1:
                return ("uid",), uids
            return ("uids",), [uids]
        case "date" | "time":
            value = value.strip()
            if "-" not in value:
                kind, param = _plan_text(value)
                return (kind,), [param]
            low, high = (part.strip() for part in value.split("-", 1))
            # '~' sorts after digits and '.', so "1200" includes 12:00:59.5 and "20261231".
            params = [p for p in (low, high + "~" if high else "") if p]
            return ("range", bool(low), bool(high)), params
        case "int":
            try:
                return ("eq",), [int(value)]
            except ValueError:
                return ("false",), []
        case "pn":
            groups = value.split("=")
            if len(groups) == 1 or len(attribute.keys) == 1:
                kind, param = _plan_text(_name_pattern(groups[0]))
                return ("any group", kind), [param]
            kinds, params = [], []
            for index, group in enumerate(groups[: len(attribute.keys)]):
                if group.strip() and group.strip() != "*":
                    kind, param = _plan_text(_name_pattern(group))
                    kinds.append((index, kind))
                    params.append(param)
            return ("groups", tuple(kinds)), params
        case _:
            kind, param = _plan_text(value.strip())
            return (kind,), [param]


def _plan_text(value: str) -> tuple[str, str]:
    """Single value or wildcard matching: ("eq", value) or ("like", SQL pattern)."""
    if "*" in value or "?" in value:
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return "like", escaped.replace("*", "%").replace("?", "_")
    return "eq", value


def _compare(column: Any, kind: str, param: Any) -> ColumnElement[bool]:
    return column.like(param, escape="\\") if kind == "like" else column == param


def _condition(attribute: Attribute, shape: Shape, names: Iterator[str]) -> ColumnElement[bool]:
    column = attribute.column
    match shape[0]:
        case "uids":
            return column.in_(bindparam(next(names), expanding=True))
        case "uid":
            return column == bindparam(next(names))
        case "range":
            conditions = [column != ""]
            if shape[1]:
                conditions.append(column >= bindparam(next(names)))
            if shape[2]:
                conditions.append(column <= bindparam(next(names)))
            return and_(*conditions)
        case "false":
            return false()
        case "any group":
            param: Any = bindparam(next(names))
            return or_(*(_compare(key, shape[1], param) for key in attribute.keys))
        case "groups":
            keys = attribute.keys
            compared = [_compare(keys[i], kind, bindparam(next(names))) for i, kind in shape[1]]
            return and_(true(), *compared)
        case kind:
            return _compare(column, kind, bindparam(next(names)))


def _name_pattern(group: str) -> str:
    group = group.strip()
    return group.upper() if group.endswith("*") else normalize_name(group)


def _modalities_in_study(kinds: tuple[str, ...], names: Iterator[str]) -> ColumnElement[bool]:
    """A study-level key: the entity's study has a series of one of the modalities. The
    sub-select reads its own alias of the series table: at the series and image levels the
    outer query joins ``series`` too, and the sub-select would otherwise be correlated to it
    (no FROM left, an SQL error)."""
    other = t.series.alias("study_series")
    modality = other.c.modality
    return exists(
        select(other.c.id).where(
            other.c.study_fk == t.studies.c.id,
            or_(*(_compare(modality, kind, bindparam(next(names))) for kind in kinds)),
        )
    )


def _answer_fields(level: Level) -> list[tuple[str, int]]:
    """(answer key, position in the statement's row) for every value an answer carries, in
    the column order :func:`_statement` selects."""
    tables = _TABLES[: _DEPTH[level] + 1]
    labels = [f"{table.name}__{c.name}" for table in tables for c in table.c]
    wanted = {
        keyword: f"{a.column.table.name}__{a.column.name}"
        for keyword, a in ATTRIBUTES.items()
        if _DEPTH[a.level] <= _DEPTH[level]
    }
    wanted |= {f"_{table.name}_id": f"{table.name}__id" for table in tables}
    if level is Level.IMAGE:
        wanted |= {
            "_path": "instances__path",
            "_size": "instances__size",
            "_transfer_syntax_uid": "instances__transfer_syntax_uid",
        }
    return [(key, labels.index(label)) for key, label in wanted.items()]


_ANSWER_FIELDS = {level: _answer_fields(level) for level in Level}


def _answer(row: Any, level: Level) -> dict[str, Any]:
    answer: dict[str, Any] = {"QueryRetrieveLevel": level.value}
    for key, position in _ANSWER_FIELDS[level]:
        answer[key] = row[position]
    return answer


def _add_derived(
    conn: Connection,
    level: Level,
    rows: Sequence[Any],
    answers: list[dict[str, Any]],
    wanted: list[str],
) -> None:
    """Counts and ModalitiesInStudy for one batch of answers: one grouped query per level
    that owns some of them (a study-level query asking all three costs one statement)."""
    for owner in sorted({DERIVED[k] for k in wanted}, key=_DEPTH.__getitem__):
        key = f"_{_TABLES[_DEPTH[owner]].name}_id"
        owner_ids = [a[key] for a in answers]
        values = _summaries(conn, owner, sorted(set(owner_ids)))
        for keyword in (k for k in wanted if DERIVED[k] is owner):
            empty: Any = [] if keyword == "ModalitiesInStudy" else 0
            for answer, owner_id in zip(answers, owner_ids, strict=True):
                answer[keyword] = values.get(owner_id, {}).get(keyword, empty)


def _summary_statements() -> dict[Level, Select[Any]]:
    """Built once: the grouped statements behind the derived attributes, per owner level.
    Instances are counted by ``series_fk`` (never NULL on a matched row, as ``id``), which the
    (series_fk, instance_number) index holds: an index-only scan. Counting ``id`` read every
    instance row and made PostgreSQL plan a parallel scan of all series at 10 M instances
    (150 ms for a day's 100 studies; 7 ms now: docs/index-scale.md)."""
    _, st, se, i = (table.c for table in _TABLES)
    ids: Any = bindparam("ids", expanding=True)
    return {
        Level.SERIES: select(i.series_fk, func.count(i.series_fk))
        .where(i.series_fk.in_(ids))
        .group_by(i.series_fk),
        Level.STUDY: select(se.study_fk, se.id, se.modality, func.count(i.series_fk))
        .select_from(t.series.outerjoin(t.instances, i.series_fk == se.id))
        .where(se.study_fk.in_(ids))
        .group_by(se.study_fk, se.id, se.modality),
        Level.PATIENT: select(st.patient_fk, st.id, se.id, func.count(i.series_fk))
        .select_from(
            t.studies.outerjoin(t.series, se.study_fk == st.id).outerjoin(
                t.instances, i.series_fk == se.id
            )
        )
        .where(st.patient_fk.in_(ids))
        .group_by(st.patient_fk, st.id, se.id),
    }


_SUMMARIES = _summary_statements()


def _summaries(conn: Connection, owner: Level, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The derived attributes of the ``owner``-level entities ``ids``, from one statement
    grouped per series (per study for a patient's studies without series)."""
    rows = conn.execute(_SUMMARIES[owner], {"ids": ids})
    found: dict[int, dict[str, Any]] = {}
    if owner is Level.SERIES:
        return {int(o): {"NumberOfSeriesRelatedInstances": int(n)} for o, n in rows}
    if owner is Level.STUDY:
        modalities: dict[int, set[str]] = defaultdict(set)
        for study_id, _series_id, modality, instances in rows:
            values = found.setdefault(
                int(study_id), {"NumberOfStudyRelatedSeries": 0, "NumberOfStudyRelatedInstances": 0}
            )
            values["NumberOfStudyRelatedSeries"] += 1
            values["NumberOfStudyRelatedInstances"] += int(instances)
            if modality:
                modalities[int(study_id)].add(modality)
        for study_id, values in found.items():
            values["ModalitiesInStudy"] = sorted(modalities[study_id])
        return found
    studies: dict[int, set[int]] = defaultdict(set)
    for patient_id, study_id, series_id, instances in rows:
        values = found.setdefault(
            int(patient_id),
            {"NumberOfPatientRelatedSeries": 0, "NumberOfPatientRelatedInstances": 0},
        )
        studies[int(patient_id)].add(int(study_id))
        if series_id is not None:
            values["NumberOfPatientRelatedSeries"] += 1
            values["NumberOfPatientRelatedInstances"] += int(instances)
    for patient_id, values in found.items():
        values["NumberOfPatientRelatedStudies"] = len(studies[patient_id])
    return found
