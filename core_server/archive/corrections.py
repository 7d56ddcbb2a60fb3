"""Corrections of stored objects (IHE Patient Information Reconciliation, Presentation of
Grouped Procedures): one primitive, :func:`correct`, for renaming a patient, merging two
patients, linking an unmatched study to its exam, splitting a study and merging two studies.

A correction selects stored objects (by patient, study, series or instance) and gives new
values for patient- and study-level attributes. Every selected object whose file differs is
rewritten as a new file (a new version, see :mod:`core_server.archive.rewrite`); the index rows
are re-pointed so that C-FIND, QIDO and every retrieve show and send the new values at once;
the older file is kept and listed in ``replaced_instances`` with the correction's id.

The index holds one row per patient and per study, so a correction keeps rows and files in
agreement:

* patient-level values (a new name, birth date...) belong to the patient: every object of that
  patient is brought to them, not only the selected ones; study-level values likewise belong to
  the study;
* an object that moves to another patient or study moves with its whole series (a series has
  one study), and part of a study moves to another patient only with a new Study Instance UID;
* an object that joins an existing patient or study takes that row's values for the
  attributes the correction does not give (a merge takes the surviving patient's name);
* a patient whose last study left, and a study whose last series left, are removed.

Order of work, so that a crash leaves every object either old or new and nothing lost: the
correction is recorded as "pending" with the names of the files it will write; the new files
are written and fsynced; one transaction checks that nothing changed meanwhile, switches the
index rows, lists the old files as versions and marks the correction "done". A pending
correction whose process died is settled by :func:`settle_unfinished` (its new files removed).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.valuerep import validate_value
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.archive import tables as t
from core_server.archive.objects import InvalidObject, parse, person_name_keys
from core_server.archive.rewrite import REQUEST_ITEM_KEYWORDS, rewrite
from core_server.archive.storage import StorageArea

log = logging.getLogger(__name__)

Identity = tuple[str, str]  # (PatientID, IssuerOfPatientID)

SELECTOR_KEYS = (
    "PatientID",
    "IssuerOfPatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)
IDENTITY = ("PatientID", "IssuerOfPatientID")
# What a correction may change. Patient level: the Patient module; study level: the General
# Study and Patient Study modules, and the order an image was acquired for (request items).
PATIENT_LEVEL = frozenset(
    {
        *IDENTITY,
        "PatientName",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientSex",
        "OtherPatientNames",
        "EthnicGroup",
        "PatientComments",
    }
)
STUDY_LEVEL = frozenset(
    {
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
        "ReferringPhysicianName",
        "PatientAge",
        "PatientSize",
        "PatientWeight",
        "AdmissionID",
        *REQUEST_ITEM_KEYWORDS,
    }
)
_NEVER = {
    "SOPInstanceUID": "identifies the object itself",
    "SOPClassUID": "says what kind of object it is",
    "SeriesInstanceUID": "identifies the series (a correction moves whole series)",
    "PixelData": "is the image itself",
    "FloatPixelData": "is the image itself",
    "DoubleFloatPixelData": "is the image itself",
    "SpecificCharacterSet": "is chosen by the archive so that the new values can be encoded",
    "TransferSyntaxUID": "is kept as stored",
}
_REQUIRED = frozenset({"PatientID", "StudyInstanceUID"})
_MULTI_VALUED = frozenset({"OtherPatientNames"})
_SEXES = frozenset({"M", "F", "O", ""})
# Index columns per attribute: (table, column), and the person-name match keys beside the name.
_PATIENT_COLUMNS = {
    "PatientID": "patient_id",
    "IssuerOfPatientID": "issuer_of_patient_id",
    "PatientBirthDate": "birth_date",
    "PatientSex": "sex",
}
_STUDY_COLUMNS = {
    "StudyDate": "study_date",
    "StudyTime": "study_time",
    "AccessionNumber": "accession_number",
    "StudyID": "study_id",
    "StudyDescription": "study_description",
}
_IMPLIED_PATIENT = ("PatientName", "PatientBirthDate", "PatientSex")
_IMPLIED_STUDY = ("StudyDate", "StudyTime", "AccessionNumber", "StudyID", "StudyDescription")
_ATTEMPTS = 3
STALE_AFTER = timedelta(hours=1)


class CorrectionError(ValueError):
    """A correction refused as asked (nothing was changed); ``code`` names the kind for a UI:
    empty_selector, unknown_selector, ambiguous_patient, no_changes, unknown_attribute,
    forbidden_attribute, invalid_value, partial_series, patient_conflict, unwritable, busy."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Correction:
    id: int
    instances: int  # objects rewritten
    old_study_uids: tuple[str, ...]
    new_study_uids: tuple[str, ...]
    old_patients: tuple[Identity, ...]
    new_patients: tuple[Identity, ...]
    username: str
    reason: str
    selector: dict[str, list[str]]
    changes: dict[str, str]
    created_at: datetime
    status: str  # "done", "pending" (being applied) or "abandoned" (failed, nothing changed)


@dataclass(frozen=True)
class Version:
    """One file an object has had: the current one first, then older ones, newest first."""

    sop_instance_uid: str
    path: Path
    size: int
    received_at: datetime
    replaced_at: datetime | None  # None: the current version
    correction_id: int | None  # the correction that replaced it (None: a re-sent object)

    @property
    def current(self) -> bool:
        return self.replaced_at is None


# -- checking what was asked ------------------------------------------------------------------


def check_selector(selector: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    """The selector as keyword -> values; refused when it selects nothing by itself."""
    unknown = sorted(set(selector) - set(SELECTOR_KEYS))
    if unknown:
        raise CorrectionError(
            "unknown_selector",
            f"cannot select objects by {', '.join(unknown)}; use {', '.join(SELECTOR_KEYS)}",
        )
    checked: dict[str, list[str]] = {}
    for key, raw in selector.items():
        values = [raw] if isinstance(raw, str) else list(raw)
        if not all(isinstance(v, str) for v in values):
            raise CorrectionError("invalid_value", f"selector {key} must be text")
        cleaned = [v.strip() for v in values]
        if key == "IssuerOfPatientID":
            checked[key] = cleaned  # an empty issuer is a real one: "no issuer"
        elif any(cleaned):
            checked[key] = [v for v in cleaned if v]
    if "IssuerOfPatientID" in checked and "PatientID" not in checked:
        raise CorrectionError(
            "empty_selector", "IssuerOfPatientID only qualifies a PatientID in a selector"
        )
    if not any(k in checked for k in SELECTOR_KEYS if k != "IssuerOfPatientID"):
        raise CorrectionError(
            "empty_selector",
            "the selector names no objects: give a PatientID, StudyInstanceUID, "
            "SeriesInstanceUID or SOPInstanceUID",
        )
    return checked


def check_changes(changes: Mapping[str, str]) -> dict[str, str]:
    """The changes with each value checked against its attribute's VR; refused when an
    attribute may not be changed or a value is not valid DICOM."""
    if not changes:
        raise CorrectionError("no_changes", "a correction must change at least one attribute")
    checked: dict[str, str] = {}
    for keyword, raw in changes.items():
        if keyword in _NEVER:
            raise CorrectionError(
                "forbidden_attribute", f"{keyword} cannot be corrected: it {_NEVER[keyword]}"
            )
        if keyword not in keyword_dict:
            raise CorrectionError("unknown_attribute", f"{keyword} is not a DICOM keyword")
        if keyword not in PATIENT_LEVEL and keyword not in STUDY_LEVEL:
            allowed = ", ".join(sorted(PATIENT_LEVEL | STUDY_LEVEL))
            raise CorrectionError(
                "forbidden_attribute",
                f"{keyword} is not a patient- or study-level attribute a correction may "
                f"change; these are: {allowed}",
            )
        if not isinstance(raw, str):
            raise CorrectionError("invalid_value", f"{keyword} must be given as text")
        value = raw.strip()
        if not value and keyword in _REQUIRED:
            raise CorrectionError("invalid_value", f"{keyword} cannot be empty")
        if "\\" in value and keyword not in _MULTI_VALUED:
            raise CorrectionError("invalid_value", f"{keyword} takes one value (no backslash)")
        if keyword == "PatientSex" and value not in _SEXES:
            raise CorrectionError("invalid_value", "PatientSex is M, F, O or empty")
        vr = dictionary_VR(keyword)
        for part in value.split("\\") if value else []:
            try:
                validate_value(vr, part, pydicom_config.RAISE)
            except (ValueError, TypeError) as exc:
                raise CorrectionError("invalid_value", f"{keyword}: {exc}") from None
        checked[keyword] = value
    return checked


# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One stored object as the index places it."""

    id: int
    sop_instance_uid: str
    path: str
    size: int
    received_at: datetime
    series_id: int
    series_uid: str
    study_id: int
    study_uid: str
    patient_pk: int
    identity: Identity


@dataclass(frozen=True)
class _Rewrite:
    row: _Row
    values: dict[str, str]
    study_uid: str  # where the object ends up (names its new file's folder)
    new_path: str


@dataclass
class _Plan:
    rewrites: list[_Rewrite] = field(default_factory=list)
    # final identity -> (row exists, index columns to set on it or to insert it with)
    patients: dict[Identity, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    # final study uid -> (row exists, its patient, columns to set or to insert it with)
    studies: dict[str, tuple[bool, Identity, dict[str, Any]]] = field(default_factory=dict)
    series_moves: dict[int, str] = field(default_factory=dict)  # series id -> final study uid
    source_studies: set[int] = field(default_factory=set)
    source_patients: set[int] = field(default_factory=set)
    scope_patients: set[int] = field(default_factory=set)
    fingerprint: frozenset[tuple[Any, ...]] = frozenset()
    old_study_uids: tuple[str, ...] = ()
    new_study_uids: tuple[str, ...] = ()
    old_patients: tuple[Identity, ...] = ()
    new_patients: tuple[Identity, ...] = ()


_i, _se, _st, _p = t.instances.c, t.series.c, t.studies.c, t.patients.c
_ROW_COLUMNS = (
    _i.id,
    _i.sop_instance_uid,
    _i.path,
    _i.size,
    _i.received_at,
    _se.id.label("series_id"),
    _se.series_instance_uid,
    _st.id.label("study_id"),
    _st.study_instance_uid,
    _p.id.label("patient_pk"),
    _p.patient_id,
    _p.issuer_of_patient_id,
)
_JOINED = (
    t.instances.join(t.series, _i.series_fk == _se.id)
    .join(t.studies, _se.study_fk == _st.id)
    .join(t.patients, _st.patient_fk == _p.id)
)


def _rows(conn: Connection, *conditions: Any) -> list[_Row]:
    statement = select(*_ROW_COLUMNS).select_from(_JOINED).where(*conditions).order_by(_i.id)
    return [
        _Row(
            r.id,
            r.sop_instance_uid,
            r.path,
            r.size,
            r.received_at,
            r.series_id,
            r.series_instance_uid,
            r.study_id,
            r.study_instance_uid,
            r.patient_pk,
            (r.patient_id, r.issuer_of_patient_id),
        )
        for r in conn.execute(statement)
    ]


def _selected(conn: Connection, selector: Mapping[str, list[str]]) -> list[_Row]:
    columns = {
        "PatientID": _p.patient_id,
        "IssuerOfPatientID": _p.issuer_of_patient_id,
        "StudyInstanceUID": _st.study_instance_uid,
        "SeriesInstanceUID": _se.series_instance_uid,
        "SOPInstanceUID": _i.sop_instance_uid,
    }
    rows = _rows(conn, *(columns[key].in_(values) for key, values in selector.items()))
    if "PatientID" in selector and "IssuerOfPatientID" not in selector:
        issuers: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            issuers[row.identity[0]].add(row.identity[1])
        ambiguous = sorted(pid for pid, found in issuers.items() if len(found) > 1)
        if ambiguous:
            raise CorrectionError(
                "ambiguous_patient",
                f"PatientID {', '.join(ambiguous)} is held by patients of several issuers; "
                "give IssuerOfPatientID",
            )
    return rows


def _patient_row(conn: Connection, identity: Identity) -> Any:
    return conn.execute(
        select(t.patients).where(
            _p.patient_id == identity[0], _p.issuer_of_patient_id == identity[1]
        )
    ).first()


def _study_row(conn: Connection, uid: str) -> Any:
    return conn.execute(
        select(t.studies, _p.patient_id, _p.issuer_of_patient_id)
        .select_from(t.studies.join(t.patients, _st.patient_fk == _p.id))
        .where(_st.study_instance_uid == uid)
    ).first()


def _fingerprint(conn: Connection, patients: Iterable[int]) -> frozenset[tuple[Any, ...]]:
    """Where every object of these patients is and which file it has: compared just before the
    switch, so that an object stored or moved meanwhile makes the correction start again."""
    return frozenset(
        (r.id, r.path, r.series_id, r.study_id, r.patient_pk)
        for r in _rows(conn, _p.id.in_(sorted(patients)))
    )


def _plan(
    conn: Connection,
    storage: StorageArea,
    selector: Mapping[str, list[str]],
    changes: Mapping[str, str],
) -> _Plan:
    selected = _selected(conn, selector)
    if not selected:
        return _Plan()
    explicit_identity = any(k in changes for k in IDENTITY)
    target_uid = changes.get("StudyInstanceUID")
    target_study = _study_row(conn, target_uid) if target_uid else None

    def final_identity(row: _Row) -> Identity:
        if explicit_identity:
            return (
                changes.get("PatientID", row.identity[0]),
                changes.get("IssuerOfPatientID", row.identity[1]),
            )
        if target_study is not None:
            return (target_study.patient_id, target_study.issuer_of_patient_id)
        return row.identity

    finals = {row.id: (target_uid or row.study_uid, final_identity(row)) for row in selected}
    final_patients = {identity: _patient_row(conn, identity) for _, identity in finals.values()}
    scope = {row.patient_pk for row in selected}
    scope |= {p.id for p in final_patients.values() if p is not None}
    if target_study is not None:
        scope.add(target_study.patient_fk)
    everything = _rows(conn, _p.id.in_(sorted(scope)))
    selected_ids = set(finals)
    _check_whole(selected, everything, selected_ids, finals)

    plan = _Plan(scope_patients=scope)
    plan.fingerprint = frozenset(
        (r.id, r.path, r.series_id, r.study_id, r.patient_pk) for r in everything
    )
    patient_values = {k: v for k, v in changes.items() if k in PATIENT_LEVEL}
    study_values = {k: v for k, v in changes.items() if k in STUDY_LEVEL}
    demographics = {k: v for k, v in patient_values.items() if k not in IDENTITY}
    study_attributes = {k: v for k, v in study_values.items() if k != "StudyInstanceUID"}
    study_rows = {uid: _study_row(conn, uid) for uid, _ in finals.values()}
    # ("patient", identity) or ("study", uid) -> the first selected row going there: a new
    # patient or study row starts as a copy of that row's patient or study.
    first_source: dict[tuple[str, Any], _Row] = {}
    for row in selected:
        study_uid, identity = finals[row.id]
        first_source.setdefault(("patient", identity), row)
        first_source.setdefault(("study", study_uid), row)
        values = dict(changes)
        target_patient = final_patients[identity]
        if identity != row.identity:
            values.update(zip(IDENTITY, identity, strict=True))
        if target_patient is not None and target_patient.id != row.patient_pk:
            implied = _patient_values(target_patient)
            values.update({k: v for k, v in implied.items() if k not in changes})
        target_row = study_rows[study_uid]
        if target_row is not None and target_row.id != row.study_id:
            implied = _study_values(target_row)
            values.update({k: v for k, v in implied.items() if k not in changes})
        plan.rewrites.append(_rewrite(storage, row, values, study_uid))
        if study_uid != row.study_uid:
            plan.series_moves[row.series_id] = study_uid
        plan.source_studies.add(row.study_id)
        plan.source_patients.add(row.patient_pk)

    # Values that belong to a patient or a study reach its other objects too.
    final_study_uids = {uid for uid, _ in finals.values()}
    final_identities = {identity for _, identity in finals.values()}
    for row in everything:
        if row.id in selected_ids:
            continue
        values = {}
        if demographics and row.identity in final_identities:
            values.update(patient_values)
        if study_attributes and row.study_uid in final_study_uids:
            values.update(patient_values)
            values.update(study_attributes)
        if values:
            plan.rewrites.append(_rewrite(storage, row, values, row.study_uid))

    # Index rows after the correction.
    for identity in final_identities:
        existing = final_patients[identity]
        if existing is not None:
            plan.patients[identity] = (True, _patient_columns(demographics))
        else:
            source = _source_patient(conn, first_source[("patient", identity)].patient_pk)
            source.update(
                _patient_columns({**demographics, **dict(zip(IDENTITY, identity, strict=True))})
            )
            plan.patients[identity] = (False, source)
    for uid in final_study_uids:
        owner = next(identity for u, identity in finals.values() if u == uid)
        if study_rows[uid] is not None:
            plan.studies[uid] = (True, owner, _study_columns(study_attributes))
        else:
            source = _source_study(conn, first_source[("study", uid)].study_id)
            source.update(_study_columns(study_attributes))
            source["study_instance_uid"] = uid
            plan.studies[uid] = (False, owner, source)
    plan.old_study_uids = tuple(sorted({row.study_uid for row in selected}))
    plan.new_study_uids = tuple(sorted(final_study_uids))
    plan.old_patients = tuple(sorted({row.identity for row in selected}))
    plan.new_patients = tuple(sorted(final_identities))
    return plan


def _check_whole(
    selected: list[_Row],
    everything: list[_Row],
    selected_ids: set[int],
    finals: Mapping[int, tuple[str, Identity]],
) -> None:
    """Refuse a correction that would leave a series in two studies or a study with two
    patients."""
    left_series = {r.series_id for r in everything if r.id not in selected_ids}
    for row in selected:
        if row.series_id in left_series and finals[row.id] != (row.study_uid, row.identity):
            raise CorrectionError(
                "partial_series",
                f"series {row.series_uid} would be split: an object moves to another patient "
                "or study only with its whole series; select the series",
            )
    owners: dict[str, set[Identity]] = defaultdict(set)
    for row in everything:
        if row.id not in finals:
            owners[row.study_uid].add(row.identity)
    for study_uid, identity in finals.values():
        owners[study_uid].add(identity)
    for study_uid, identities in owners.items():
        if len(identities) > 1:
            names = ", ".join(f"{pid} ({issuer})" if issuer else pid for pid, issuer in identities)
            raise CorrectionError(
                "patient_conflict",
                f"study {study_uid} would belong to several patients ({names}): move part of "
                "a study to another patient with a new StudyInstanceUID, or give the patient "
                "of the study the objects join",
            )


def _rewrite(storage: StorageArea, row: _Row, values: dict[str, str], study_uid: str) -> _Rewrite:
    # The new file goes in the day folder of the object's first receipt, as its row's
    # received_at says, so that recovery after a crash finds it where it looks.
    return _Rewrite(row, values, study_uid, storage.new_path(study_uid, row.received_at))


def _patient_values(row: Any) -> dict[str, str]:
    return {
        "PatientName": row.patient_name,
        "PatientBirthDate": row.birth_date,
        "PatientSex": row.sex,
    }


def _study_values(row: Any) -> dict[str, str]:
    values = {k: getattr(row, _STUDY_COLUMNS[k]) for k in _IMPLIED_STUDY}
    values["ReferringPhysicianName"] = row.referring_physician_name
    return values


def _patient_columns(values: Mapping[str, str]) -> dict[str, Any]:
    columns: dict[str, Any] = {
        _PATIENT_COLUMNS[k]: v[:64] for k, v in values.items() if k in _PATIENT_COLUMNS
    }
    if "PatientName" in values:
        name = values["PatientName"][:324]
        alpha, ideo, phon = person_name_keys(name)
        columns.update(
            patient_name=name,
            patient_name_alpha=alpha,
            patient_name_ideo=ideo,
            patient_name_phon=phon,
        )
    return columns


def _study_columns(values: Mapping[str, str]) -> dict[str, Any]:
    columns: dict[str, Any] = {
        _STUDY_COLUMNS[k]: v[:64] for k, v in values.items() if k in _STUDY_COLUMNS
    }
    if "ReferringPhysicianName" in values:
        name = values["ReferringPhysicianName"][:324]
        columns.update(
            referring_physician_name=name, referring_physician_key=person_name_keys(name)[0]
        )
    return columns


def _source_patient(conn: Connection, pk: int) -> dict[str, Any]:
    """A patient row's columns, as the start of a new patient's row."""
    row = conn.execute(select(t.patients).where(_p.id == pk)).one()._asdict()
    row.pop("id")
    row["created_at"] = datetime.now(UTC)
    return row


def _source_study(conn: Connection, pk: int) -> dict[str, Any]:
    row = conn.execute(select(t.studies).where(_st.id == pk)).one()._asdict()
    row.pop("id")
    row.pop("patient_fk")
    row["created_at"] = datetime.now(UTC)
    return row


# -- applying it ------------------------------------------------------------------------------


class _Changed(Exception):
    """The objects changed between the plan and the switch: start again."""


def correct(
    engine: Engine,
    storage: StorageArea,
    selector: Mapping[str, str | Sequence[str]],
    changes: Mapping[str, str],
    *,
    reason: str,
    username: str,
) -> Correction:
    """Rewrite the selected objects with the changes, switch the index to the new files and
    keep the old ones as versions; refused with :class:`CorrectionError` (nothing changed)."""
    checked_selector = check_selector(selector)
    checked_changes = check_changes(changes)
    settle_unfinished(engine, storage)
    correction_id: int | None = None
    for _attempt in range(_ATTEMPTS):
        try:
            with db.read(engine) as conn:
                plan = _plan(conn, storage, checked_selector, checked_changes)
        except BaseException:
            if correction_id is not None:
                _abandon(engine, correction_id)
            raise
        paths = [rewrite.new_path for rewrite in plan.rewrites]
        correction_id = _record_pending(
            engine, correction_id, checked_selector, checked_changes, paths, reason, username
        )
        written: list[tuple[_Rewrite, int]] = []
        try:
            now = datetime.now(UTC)
            _write(storage, plan.rewrites, now, written)
            with db.write(engine) as conn:
                _switch(conn, plan, written, correction_id, now)
        except (_Changed, IntegrityError):
            log.info("correction %s: objects changed meanwhile, starting again", correction_id)
            _remove(storage, written)
            continue
        except BaseException:
            if _status(engine, correction_id) != "done":
                _remove(storage, written)
                _abandon(engine, correction_id)
            raise
        log.info(
            "correction %s by %s: %d objects rewritten (%s)",
            correction_id,
            username,
            len(written),
            reason,
        )
        with db.read(engine) as conn:
            return _load(conn, correction_id)
    assert correction_id is not None
    _abandon(engine, correction_id)
    raise CorrectionError(
        "busy",
        "the selected objects kept changing while being corrected (images still arriving?); "
        "nothing was changed, try again",
    )


def _write(
    storage: StorageArea, rewrites: list[_Rewrite], now: datetime, written: list[Any]
) -> None:
    """Write each object that differs as a new, durable file; ``written`` collects them, so
    that the caller can remove them if the correction does not go through."""
    for item in rewrites:
        row = item.row
        try:
            data = rewrite(storage.absolute(row.path), item.values, now)
        except Exception as exc:
            raise CorrectionError(
                "unwritable", f"object {row.sop_instance_uid} cannot be rewritten: {exc}"
            ) from exc
        if data is None:
            continue  # already holds the values: no new version
        incoming = storage.receive(data)
        try:
            parsed = parse(incoming)  # the new file must read back as the same object
            if (parsed.sop_instance_uid, parsed.study_instance_uid) != (
                row.sop_instance_uid,
                item.study_uid,
            ):
                raise InvalidObject("identifying UIDs differ after the rewrite")
            storage.adopt(incoming, item.new_path)
        except InvalidObject as exc:
            incoming.unlink(missing_ok=True)
            raise CorrectionError(
                "unwritable", f"object {row.sop_instance_uid} cannot be rewritten: {exc}"
            ) from exc
        except BaseException:
            incoming.unlink(missing_ok=True)
            raise
        written.append((item, len(data)))


def _switch(
    conn: Connection,
    plan: _Plan,
    written: list[tuple[_Rewrite, int]],
    correction_id: int,
    now: datetime,
) -> None:
    """One transaction: check nothing moved, switch rows and files, list the old files."""
    corrections = t.archive_corrections
    marked = conn.execute(
        update(corrections)
        .where(corrections.c.id == correction_id, corrections.c.status == "pending")
        .values(
            status="done",
            finished_at=now,
            instances=len(written),
            old_study_uids=json.dumps(plan.old_study_uids),
            new_study_uids=json.dumps(plan.new_study_uids),
            old_patients=json.dumps(plan.old_patients, ensure_ascii=False),
            new_patients=json.dumps(plan.new_patients, ensure_ascii=False),
            pending_paths="[]",
        )
    ).rowcount
    if marked != 1:
        raise CorrectionError("busy", f"correction {correction_id} was abandoned meanwhile")
    _lock(conn, plan.scope_patients)
    if plan.scope_patients and _fingerprint(conn, plan.scope_patients) != plan.fingerprint:
        raise _Changed
    patient_pks: dict[Identity, int] = {}
    for identity, (existed, columns) in plan.patients.items():
        if existed:
            found = _patient_row(conn, identity)
            if found is None:
                raise _Changed
            if columns:
                conn.execute(update(t.patients).where(_p.id == found.id).values(**columns))
            patient_pks[identity] = found.id
        else:
            key = conn.execute(insert(t.patients).values(**columns)).inserted_primary_key
            assert key is not None
            patient_pks[identity] = int(key[0])
    study_pks: dict[str, int] = {}
    for uid, (existed, owner, columns) in plan.studies.items():
        values = {**columns, "patient_fk": patient_pks[owner]}
        if existed:
            found = conn.execute(select(_st.id).where(_st.study_instance_uid == uid)).scalar()
            if found is None:
                raise _Changed
            conn.execute(update(t.studies).where(_st.id == found).values(**values))
            study_pks[uid] = int(found)
        else:
            key = conn.execute(insert(t.studies).values(**values)).inserted_primary_key
            assert key is not None
            study_pks[uid] = int(key[0])
    for series_id, uid in plan.series_moves.items():
        conn.execute(update(t.series).where(_se.id == series_id).values(study_fk=study_pks[uid]))
    for item, size in written:
        row = item.row
        conn.execute(
            update(t.instances)
            .where(_i.id == row.id, _i.path == row.path)
            .values(path=item.new_path, size=size)
        )
        conn.execute(
            insert(t.replaced_instances).values(
                sop_instance_uid=row.sop_instance_uid,
                path=row.path,
                size=row.size,
                received_at=row.received_at,
                replaced_at=now,
                correction_id=correction_id,
            )
        )
    # A study whose last series left and a patient whose last study left are gone: a merged
    # patient must not linger in C-FIND answers as an empty entry.
    if plan.source_studies:
        conn.execute(
            delete(t.studies).where(
                _st.id.in_(sorted(plan.source_studies)),
                ~exists(select(_se.id).where(_se.study_fk == _st.id)),
            )
        )
    if plan.source_patients:
        conn.execute(
            delete(t.patients).where(
                _p.id.in_(sorted(plan.source_patients)),
                ~exists(select(_st.id).where(_st.patient_fk == _p.id)),
            )
        )


def _lock(conn: Connection, patients: set[int]) -> None:
    """PostgreSQL: hold the rows objects could be added under until the switch commits (an
    insert referencing a locked row waits). SQLite's write transaction already excludes all."""
    if not patients or db.is_sqlite(conn.engine):
        return
    pks = sorted(patients)
    conn.execute(select(_p.id).where(_p.id.in_(pks)).with_for_update()).all()
    studies = select(_st.id).where(_st.patient_fk.in_(pks))
    conn.execute(studies.with_for_update()).all()
    conn.execute(select(_se.id).where(_se.study_fk.in_(studies)).with_for_update()).all()


def _remove(storage: StorageArea, written: list[tuple[_Rewrite, int]]) -> None:
    for item, _ in written:
        storage.remove(item.new_path)


def _record_pending(
    engine: Engine,
    correction_id: int | None,
    selector: Mapping[str, list[str]],
    changes: Mapping[str, str],
    paths: list[str],
    reason: str,
    username: str,
) -> int:
    """Note the files about to be written before writing them (see :func:`settle_unfinished`)."""
    corrections = t.archive_corrections
    with db.write(engine) as conn:
        if correction_id is not None:
            conn.execute(
                update(corrections)
                .where(corrections.c.id == correction_id)
                .values(pending_paths=json.dumps(paths))
            )
            return correction_id
        key = conn.execute(
            insert(corrections).values(
                created_at=datetime.now(UTC),
                status="pending",
                username=username[:64],
                reason=reason,
                selector=json.dumps(selector, ensure_ascii=False),
                changes=json.dumps(changes, ensure_ascii=False),
                pending_paths=json.dumps(paths),
            )
        ).inserted_primary_key
        assert key is not None
        return int(key[0])


def _abandon(engine: Engine, correction_id: int) -> bool:
    corrections = t.archive_corrections
    with db.write(engine) as conn:
        return bool(
            conn.execute(
                update(corrections)
                .where(corrections.c.id == correction_id, corrections.c.status == "pending")
                .values(status="abandoned", finished_at=datetime.now(UTC), pending_paths="[]")
            ).rowcount
        )


def _status(engine: Engine, correction_id: int) -> str:
    corrections = t.archive_corrections
    with db.read(engine) as conn:
        return str(
            conn.execute(
                select(corrections.c.status).where(corrections.c.id == correction_id)
            ).scalar_one()
        )


def settle_unfinished(
    engine: Engine, storage: StorageArea, older_than: timedelta = STALE_AFTER
) -> set[str]:
    """Abandon the pending corrections a stopped process left (older than ``older_than``) and
    remove the files they wrote: their objects were never switched, so the old files are
    current. Returns the files of younger pending corrections (another process may be
    applying them), which recovery must leave alone."""
    corrections = t.archive_corrections
    cutoff = datetime.now(UTC) - older_than
    with db.read(engine) as conn:
        pending = conn.execute(
            select(
                corrections.c.id,
                corrections.c.pending_paths,
                corrections.c.created_at < cutoff,
            ).where(corrections.c.status == "pending")
        ).all()
    young: set[str] = set()
    for correction_id, paths, stale in pending:
        files = json.loads(paths)
        if not stale:
            young.update(files)
        elif _abandon(engine, correction_id):
            for path in files:
                storage.remove(path)
            log.warning(
                "correction %s was left unfinished; abandoned, %d new files removed",
                correction_id,
                len(files),
            )
    return young


# -- what was done ----------------------------------------------------------------------------


def history(
    conn: Connection,
    *,
    study_instance_uid: str | None = None,
    patient_id: str | None = None,
    username: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Correction]:
    """Recorded corrections, newest first, optionally only those touching a study (before or
    after) or a patient ID (before or after), by a user, or since a time."""
    c = t.archive_corrections.c
    conditions: list[Any] = []
    if study_instance_uid:
        pattern = f'%"{_like(study_instance_uid)}"%'
        conditions.append(
            or_(
                c.old_study_uids.like(pattern, escape="\\"),
                c.new_study_uids.like(pattern, escape="\\"),
            )
        )
    if patient_id:
        pattern = f'%["{_like(json.dumps(patient_id, ensure_ascii=False)[1:-1])}",%'
        conditions.append(
            or_(
                c.old_patients.like(pattern, escape="\\"),
                c.new_patients.like(pattern, escape="\\"),
            )
        )
    if username:
        conditions.append(c.username == username)
    if since is not None:
        conditions.append(c.created_at >= since)
    statement = (
        select(t.archive_corrections)
        .where(and_(true(), *conditions))
        .order_by(c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_correction(row) for row in conn.execute(statement)]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _load(conn: Connection, correction_id: int) -> Correction:
    corrections = t.archive_corrections
    row = conn.execute(select(corrections).where(corrections.c.id == correction_id)).one()
    return _correction(row)


def _correction(row: Any) -> Correction:
    return Correction(
        id=int(row.id),
        instances=int(row.instances),
        old_study_uids=tuple(json.loads(row.old_study_uids)),
        new_study_uids=tuple(json.loads(row.new_study_uids)),
        old_patients=tuple((p[0], p[1]) for p in json.loads(row.old_patients)),
        new_patients=tuple((p[0], p[1]) for p in json.loads(row.new_patients)),
        username=row.username,
        reason=row.reason,
        selector=json.loads(row.selector),
        changes=json.loads(row.changes),
        created_at=row.created_at,
        status=row.status,
    )


def versions(conn: Connection, storage: StorageArea, sop_instance_uid: str) -> list[Version]:
    """The object's current file, then the files it had before, newest first."""
    found: list[Version] = []
    current = conn.execute(
        select(_i.path, _i.size, _i.received_at).where(_i.sop_instance_uid == sop_instance_uid)
    ).first()
    if current is not None:
        found.append(
            Version(
                sop_instance_uid,
                storage.absolute(current.path),
                current.size,
                current.received_at,
                None,
                None,
            )
        )
    r = t.replaced_instances.c
    for old in conn.execute(
        select(r.path, r.size, r.received_at, r.replaced_at, r.correction_id)
        .where(r.sop_instance_uid == sop_instance_uid)
        .order_by(r.replaced_at.desc(), r.id.desc())
    ):
        found.append(
            Version(
                sop_instance_uid,
                storage.absolute(old.path),
                old.size,
                old.received_at,
                old.replaced_at,
                old.correction_id,
            )
        )
    return found
