"""Objects that arrive after a correction (IHE PIR asks the archive to apply its updates to
them): the rest of a series still being sent when the study was reconciled, a modality that
re-sends the original objects, images acquired with the old worklist entry of a renamed or
merged patient.

Ingest files such an object where the index says (its series, its study, its patient), but its
file still holds the old values. Right after it is stored, :func:`follow_up` looks it up in
``archive_corrected_keys``; when a correction touched its study or patient:

* its patient was merged away (ingest made the patient anew for it): it is sent on to the
  surviving patient, its study and series with it;
* its study was merged into another (ingest made the study anew): it is sent on to that study;
* otherwise its file is brought to what the index holds for the attributes those corrections
  changed (identity, study UID, and the values that came with a move).

Each of these is itself a recorded correction by user ``archive``; an object that already
agrees costs one header read and records nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydicom import dcmread
from sqlalchemy import Connection, Engine, and_, bindparam, or_, select

from core_server import db
from core_server.archive import tables as t
from core_server.archive.correction_plan import IDENTITY, Identity
from core_server.archive.corrections import Correction, correct, patient_key, record_of
from core_server.archive.memo import Memo, PerEngine
from core_server.archive.rewrite import differs
from core_server.archive.storage import StorageArea

log = logging.getLogger(__name__)
USERNAME = "archive"
_i, _se, _st, _p = t.instances.c, t.series.c, t.studies.c, t.patients.c
_PATIENT_MOVE = ("PatientName", "PatientBirthDate", "PatientSex")
_STUDY_MOVE = (
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
    "ReferringPhysicianName",
)


def follow_up(
    engine: Engine,
    storage: StorageArea,
    sop_instance_uid: str,
    file_study_uid: str,
    series_uid: str = "",
    last_key: int | None = None,
) -> Correction | None:
    """Bring an object just stored to what earlier corrections made of its study or patient;
    the correction this took, or None when none concerns it or it already agrees.

    ``last_key`` is the newest ``archive_corrected_keys`` id in the transaction that indexed the
    object: when an earlier object of the same series and file study found nothing
    to follow and no key was added since, neither will this one (its series is filed where it
    was, as only a correction moves it, and every correction adds keys; keys are never
    removed), and the look-ups are skipped."""
    memo = (series_uid, file_study_uid)
    clean = _clean_series(engine)
    if last_key is not None and series_uid and clean.get(memo) == last_key:
        return None
    with db.read(engine) as conn:
        placed = _placed(conn, sop_instance_uid)
        if placed is None:
            return None
        identity: Identity = (placed.patient_id, placed.issuer_of_patient_id)
        hits = _hits(conn, placed.study_instance_uid, file_study_uid, identity)
        if not hits:
            if last_key is not None and series_uid:
                clean.put(memo, last_key)
            return None
        records = {
            row.id: record_of(row)
            for row in conn.execute(
                select(t.archive_corrections)
                .where(
                    t.archive_corrections.c.id.in_(sorted({cid for _, _, cid in hits})),
                    t.archive_corrections.c.status == "done",
                )
                .order_by(t.archive_corrections.c.id)
            )
        }
    if not records:
        return None
    # named after the latest correction a person made (follow-ups note what they touch too)
    by_people = [cid for cid, record in records.items() if record.username != USERNAME]
    reason = f"arrived after correction {max(by_people or records)}"
    selector = {"SOPInstanceUID": sop_instance_uid}
    for kind, subject, cid in sorted(hits, key=lambda hit: -hit[2]):  # newest first
        record = records.get(cid)
        if record is None:
            continue
        gone_patient = kind == "merged" and subject == patient_key(identity)
        gone_study = kind == "moved" and subject == placed.study_instance_uid
        changes: dict[str, str] = {}
        if gone_patient and len(record.new_patients) == 1:
            changes = dict(zip(IDENTITY, record.new_patients[0], strict=True))
        elif gone_study and len(record.new_study_uids) == 1:
            changes = {"StudyInstanceUID": record.new_study_uids[0]}
        if changes:  # its patient or study is gone: send it on to where they went
            return correct(engine, storage, selector, changes, reason=reason, username=USERNAME)
    values = _values(placed, list(records.values()))
    ds = dcmread(storage.absolute(placed.path), defer_size=1024, stop_before_pixels=True)
    if not any(differs(ds, keyword, value) for keyword, value in values.items()):
        return None
    return correct(engine, storage, selector, values, reason=reason, username=USERNAME, widen=False)


# Statements built once, values bound at execution: this runs for every object stored.
_PLACED = (
    select(
        _i.path,
        _st.study_instance_uid,
        _st.study_date,
        _st.study_time,
        _st.accession_number,
        _st.study_id,
        _st.study_description,
        _st.referring_physician_name,
        _p.patient_id,
        _p.issuer_of_patient_id,
        _p.patient_name,
        _p.birth_date,
        _p.sex,
    )
    .select_from(
        t.instances.join(t.series, _i.series_fk == _se.id)
        .join(t.studies, _se.study_fk == _st.id)
        .join(t.patients, _st.patient_fk == _p.id)
    )
    .where(_i.sop_instance_uid == bindparam("sop"))
)
_keys = t.archive_corrected_keys.c
_HITS = select(_keys.kind, _keys.subject, _keys.correction_id).where(
    or_(
        and_(
            _keys.subject.in_(bindparam("studies", expanding=True)),
            _keys.kind.in_(("study", "moved")),
        ),
        and_(_keys.subject == bindparam("patient"), _keys.kind.in_(("patient", "merged"))),
    )
)


def _placed(conn: Connection, sop_instance_uid: str) -> Any:
    """Where the index files the object: its path, study row and patient row values."""
    return conn.execute(_PLACED, {"sop": sop_instance_uid}).first()


def _hits(
    conn: Connection, study_uid: str, file_study_uid: str, identity: Identity
) -> list[tuple[str, str, int]]:
    found = conn.execute(
        _HITS,
        {"studies": sorted({study_uid, file_study_uid}), "patient": patient_key(identity)},
    )
    return [(kind, subject, int(cid)) for kind, subject, cid in found]


def _values(placed: Any, records: list[Correction]) -> dict[str, str]:
    """What the object should hold: the index's values for what the corrections changed (and
    what came with a move), the corrections' own values for attributes the index lacks."""
    indexed: Mapping[str, str] = {
        "PatientID": placed.patient_id,
        "IssuerOfPatientID": placed.issuer_of_patient_id,
        "PatientName": placed.patient_name,
        "PatientBirthDate": placed.birth_date,
        "PatientSex": placed.sex,
        "StudyInstanceUID": placed.study_instance_uid,
        "StudyDate": placed.study_date,
        "StudyTime": placed.study_time,
        "AccessionNumber": placed.accession_number,
        "StudyID": placed.study_id,
        "StudyDescription": placed.study_description,
        "ReferringPhysicianName": placed.referring_physician_name,
    }
    wanted = {*IDENTITY, "StudyInstanceUID"}
    given: dict[str, str] = {}
    for record in records:  # oldest first: a later correction's value wins
        wanted |= set(record.changes)
        given.update(record.changes)
        if set(record.old_patients) != set(record.new_patients):
            wanted |= set(_PATIENT_MOVE)
        if set(record.old_study_uids) != set(record.new_study_uids):
            wanted |= set(_STUDY_MOVE)
    return {k: indexed[k] if k in indexed else given[k] for k in sorted(wanted)}


# (series UID, file study UID) -> the newest corrected key id at which an object of it had
# nothing to follow.
_clean_series: PerEngine[Memo[tuple[str, str], int]] = PerEngine(Memo)
