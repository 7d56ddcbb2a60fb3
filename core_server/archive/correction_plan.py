"""What a correction changes (see :mod:`core_server.archive.corrections`): the checks of
what was asked, and the plan: which objects get which values, which index rows are set,
inserted, re-pointed or removed.

The index holds one row per patient and per study, so a plan keeps rows and files in agreement:

* patient-level values (a new name, birth date...) belong to the patient: every object of that
  patient is brought to them, not only the selected ones; study-level values likewise belong to
  the study;
* an object that moves to another patient or study moves with its whole series (a series has
  one study), and part of a study moves to another patient only with a new Study Instance UID;
* an object that joins an existing patient or study takes that row's values for the
  attributes the correction does not give (a merge takes the surviving patient's name);
* a patient whose last study left, and a study whose last series left, are removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.valuerep import validate_value
from sqlalchemy import Connection, select

from core_server.archive import tables as t
from core_server.archive.objects import person_name_keys, pinyin_columns
from core_server.archive.rewrite import REQUEST_ITEM_KEYWORDS
from core_server.archive.storage import StorageArea

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


class CorrectionError(ValueError):
    """A correction refused as asked (nothing was changed); ``code`` names the kind for a UI:
    empty_selector, unknown_selector, ambiguous_patient, no_changes, unknown_attribute,
    forbidden_attribute, invalid_value, partial_series, patient_conflict, unwritable, busy."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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
class Row:
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
class Rewrite:
    row: Row
    values: dict[str, str]
    study_uid: str  # where the object ends up (names its new file's folder)
    new_path: str


@dataclass
class Plan:
    rewrites: list[Rewrite] = field(default_factory=list)
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


def _rows(conn: Connection, *conditions: Any) -> list[Row]:
    statement = select(*_ROW_COLUMNS).select_from(_JOINED).where(*conditions).order_by(_i.id)
    return [
        Row(
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


def _selected(conn: Connection, selector: Mapping[str, list[str]]) -> list[Row]:
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
        # Objects without an issuer (most modalities send none) go with the one issuer the
        # others have; two different issuers are two patients' ID spaces.
        ambiguous = sorted(pid for pid, found in issuers.items() if len(found - {""}) > 1)
        if ambiguous:
            raise CorrectionError(
                "ambiguous_patient",
                f"PatientID {', '.join(ambiguous)} is held by patients of several issuers; "
                "give IssuerOfPatientID",
            )
    return rows


def patient_row(conn: Connection, identity: Identity) -> Any:
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


def fingerprint(conn: Connection, patients: Iterable[int]) -> frozenset[tuple[Any, ...]]:
    """Where every object of these patients is and which file it has: compared just before the
    switch, so that an object stored or moved meanwhile makes the correction start again."""
    return frozenset(
        (r.id, r.path, r.series_id, r.study_id, r.patient_pk)
        for r in _rows(conn, _p.id.in_(sorted(patients)))
    )


def make_plan(
    conn: Connection,
    storage: StorageArea,
    selector: Mapping[str, list[str]],
    changes: Mapping[str, str],
    *,
    widen: bool = True,
) -> Plan:
    """The plan; ``widen=False`` leaves the patient's and study's other objects alone (for a
    late arrival, whose rows already hold the values)."""
    selected = _selected(conn, selector)
    if not selected:
        return Plan()
    where = _destinations(conn, selected, changes)
    scope = {row.patient_pk for row in selected}
    scope |= {p.id for p in where.patients.values() if p is not None}
    if where.target_study is not None:
        scope.add(where.target_study.patient_fk)
    everything = _rows(conn, _p.id.in_(sorted(scope)))
    _check_whole(selected, everything, set(where.finals), where.finals)

    plan = Plan(scope_patients=scope)
    plan.fingerprint = frozenset(
        (r.id, r.path, r.series_id, r.study_id, r.patient_pk) for r in everything
    )
    values = _Values.of(changes)
    first_source = _rewrite_selected(plan, storage, selected, changes, where)
    if widen:
        _rewrite_others(plan, storage, everything, values, where)
    _index_rows(plan, conn, values, where, first_source)
    plan.old_study_uids = tuple(sorted({row.study_uid for row in selected}))
    plan.new_study_uids = tuple(sorted(where.study_uids))
    plan.old_patients = tuple(sorted({row.identity for row in selected}))
    plan.new_patients = tuple(sorted(where.identities))
    return plan


@dataclass
class _Destinations:
    """Where each selected object goes: row id -> (study UID, patient identity), and the
    index rows of those patients and studies as they are now (None: not there yet)."""

    finals: dict[int, tuple[str, Identity]]
    patients: dict[Identity, Any]
    studies: dict[str, Any]
    target_study: Any

    @property
    def study_uids(self) -> set[str]:
        return {uid for uid, _ in self.finals.values()}

    @property
    def identities(self) -> set[Identity]:
        return {identity for _, identity in self.finals.values()}


def _destinations(
    conn: Connection, selected: list[Row], changes: Mapping[str, str]
) -> _Destinations:
    explicit_identity = any(k in changes for k in IDENTITY)
    target_uid = changes.get("StudyInstanceUID")
    target_study = _study_row(conn, target_uid) if target_uid else None

    def final_identity(row: Row) -> Identity:
        if explicit_identity:
            return (
                changes.get("PatientID", row.identity[0]),
                changes.get("IssuerOfPatientID", row.identity[1]),
            )
        if target_study is not None:
            return (target_study.patient_id, target_study.issuer_of_patient_id)
        return row.identity

    finals = {row.id: (target_uid or row.study_uid, final_identity(row)) for row in selected}
    patients = {identity: patient_row(conn, identity) for _, identity in finals.values()}
    studies = {uid: _study_row(conn, uid) for uid, _ in finals.values()}
    return _Destinations(finals, patients, studies, target_study)


@dataclass(frozen=True)
class _Values:
    """The changes split by the level they belong to."""

    patient: dict[str, str]
    demographics: dict[str, str]  # patient values other than the identity
    study_attributes: dict[str, str]  # study values other than the UID

    @classmethod
    def of(cls, changes: Mapping[str, str]) -> _Values:
        patient = {k: v for k, v in changes.items() if k in PATIENT_LEVEL}
        study = {k: v for k, v in changes.items() if k in STUDY_LEVEL}
        return cls(
            patient,
            {k: v for k, v in patient.items() if k not in IDENTITY},
            {k: v for k, v in study.items() if k != "StudyInstanceUID"},
        )


def _rewrite_selected(
    plan: Plan,
    storage: StorageArea,
    selected: list[Row],
    changes: Mapping[str, str],
    where: _Destinations,
) -> dict[tuple[str, Any], Row]:
    """Rewrites of the selected objects, which take the values of the patient and study they
    join; returns ("patient", identity) or ("study", uid) -> the first selected row going
    there: a new patient or study row starts as a copy of that row's patient or study."""
    first_source: dict[tuple[str, Any], Row] = {}
    for row in selected:
        study_uid, identity = where.finals[row.id]
        first_source.setdefault(("patient", identity), row)
        first_source.setdefault(("study", study_uid), row)
        values = dict(changes)
        target_patient = where.patients[identity]
        if identity != row.identity:
            values.update(zip(IDENTITY, identity, strict=True))
        if target_patient is not None and target_patient.id != row.patient_pk:
            implied = _patient_values(target_patient)
            values.update({k: v for k, v in implied.items() if k not in changes})
        target_row = where.studies[study_uid]
        if target_row is not None and target_row.id != row.study_id:
            implied = _study_values(target_row)
            values.update({k: v for k, v in implied.items() if k not in changes})
        plan.rewrites.append(_rewrite(storage, row, values, study_uid))
        if study_uid != row.study_uid:
            plan.series_moves[row.series_id] = study_uid
        plan.source_studies.add(row.study_id)
        plan.source_patients.add(row.patient_pk)
    return first_source


def _rewrite_others(
    plan: Plan,
    storage: StorageArea,
    everything: list[Row],
    values: _Values,
    where: _Destinations,
) -> None:
    """Values that belong to a patient or a study reach its other objects too."""
    study_uids, identities = where.study_uids, where.identities
    for row in everything:
        if row.id in where.finals:
            continue
        changed: dict[str, str] = {}
        if values.demographics and row.identity in identities:
            changed.update(values.patient)
        if values.study_attributes and row.study_uid in study_uids:
            changed.update(values.patient)
            changed.update(values.study_attributes)
        if changed:
            plan.rewrites.append(_rewrite(storage, row, changed, row.study_uid))


def _index_rows(
    plan: Plan,
    conn: Connection,
    values: _Values,
    where: _Destinations,
    first_source: dict[tuple[str, Any], Row],
) -> None:
    """The patient and study index rows after the correction."""
    for identity in where.identities:
        if where.patients[identity] is not None:
            plan.patients[identity] = (True, _patient_columns(values.demographics))
        else:
            source = _source_patient(conn, first_source[("patient", identity)].patient_pk)
            source.update(
                _patient_columns(
                    {**values.demographics, **dict(zip(IDENTITY, identity, strict=True))}
                )
            )
            plan.patients[identity] = (False, source)
    for uid in where.study_uids:
        owner = next(identity for u, identity in where.finals.values() if u == uid)
        if where.studies[uid] is not None:
            plan.studies[uid] = (True, owner, _study_columns(values.study_attributes))
        else:
            source = _source_study(conn, first_source[("study", uid)].study_id)
            source.update(_study_columns(values.study_attributes))
            source["study_instance_uid"] = uid
            plan.studies[uid] = (False, owner, source)


def _check_whole(
    selected: list[Row],
    everything: list[Row],
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


def _rewrite(storage: StorageArea, row: Row, values: dict[str, str], study_uid: str) -> Rewrite:
    # The new file goes in the day folder of the object's first receipt, as its row's
    # received_at says, so that recovery after a crash finds it where it looks.
    return Rewrite(row, values, study_uid, storage.new_path(study_uid, row.received_at))


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
            **pinyin_columns(name),
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
