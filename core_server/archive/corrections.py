"""Corrections of stored objects (IHE Patient Information Reconciliation, Presentation of
Grouped Procedures): one primitive, :func:`correct`, for renaming a patient, merging two
patients, linking an unmatched study to its exam, splitting a study and merging two studies.

A correction selects stored objects (by patient, study, series or instance) and gives new
values for patient- and study-level attributes. Every selected object whose file differs is
rewritten as a new file (a new version, see :mod:`core_server.archive.rewrite`); the index rows
are re-pointed so that C-FIND, QIDO and every retrieve show and send the new values at once;
the older file is kept and listed in ``replaced_instances`` with the correction's id.

Which objects get which values, and what happens to the index rows, is the plan
(:mod:`core_server.archive.correction_plan`); this module applies and records it.

Order of work, so that a crash leaves every object either old or new and nothing lost: the
correction is recorded as "pending" with the names of the files it will write; the new files
are written and fsynced; one transaction checks that nothing changed meanwhile, switches the
index rows, lists the old files as versions and marks the correction "done". A pending
correction whose process died is settled by :func:`settle_unfinished` (its new files removed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from core_server.archive.correction_plan import (
    CorrectionError,
    Identity,
    Plan,
    Rewrite,
    check_changes,
    check_selector,
    fingerprint,
    make_plan,
    patient_row,
)
from core_server.archive.objects import InvalidObject, parse
from core_server.archive.rewrite import rewrite
from core_server.archive.storage import StorageArea

__all__ = ["Correction", "CorrectionError", "Version", "correct", "history", "versions"]

log = logging.getLogger(__name__)
_ATTEMPTS = 3
STALE_AFTER = timedelta(hours=1)
_i, _se, _st, _p = t.instances.c, t.series.c, t.studies.c, t.patients.c


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
    widen: bool = True,
) -> Correction:
    """Rewrite the selected objects with the changes, switch the index to the new files and
    keep the old ones as versions; refused with :class:`CorrectionError` (nothing changed).
    ``widen=False``: only the selected objects are rewritten (see :func:`make_plan`)."""
    checked_selector = check_selector(selector)
    checked_changes = check_changes(changes)
    settle_unfinished(engine, storage)
    correction_id: int | None = None
    for _attempt in range(_ATTEMPTS):
        try:
            with db.read(engine) as conn:
                plan = make_plan(conn, storage, checked_selector, checked_changes, widen=widen)
        except BaseException:
            if correction_id is not None:
                _abandon(engine, correction_id)
            raise
        paths = [item.new_path for item in plan.rewrites]
        correction_id = _record_pending(
            engine, correction_id, checked_selector, checked_changes, paths, reason, username
        )
        written: list[tuple[Rewrite, int]] = []
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
    storage: StorageArea, rewrites: list[Rewrite], now: datetime, written: list[Any]
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
            # (a file can already disagree with the study its series is filed under; only a
            # new Study Instance UID is checked)
            expected = item.values.get("StudyInstanceUID", parsed.study_instance_uid)
            if (parsed.sop_instance_uid, parsed.study_instance_uid) != (
                row.sop_instance_uid,
                expected,
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
    plan: Plan,
    written: list[tuple[Rewrite, int]],
    correction_id: int,
    now: datetime,
) -> None:
    """One transaction: check nothing moved, switch rows and files, list the old files."""
    _mark_done(conn, plan, len(written), correction_id, now)
    _lock(conn, plan.scope_patients)
    if plan.scope_patients and fingerprint(conn, plan.scope_patients) != plan.fingerprint:
        raise _Changed
    study_pks = _switch_studies(conn, plan, _switch_patients(conn, plan))
    for series_id, uid in plan.series_moves.items():
        conn.execute(update(t.series).where(_se.id == series_id).values(study_fk=study_pks[uid]))
    _switch_files(conn, written, correction_id, now)
    _drop_emptied(conn, plan)
    _remember(conn, plan, correction_id)


def _mark_done(
    conn: Connection, plan: Plan, instances: int, correction_id: int, now: datetime
) -> None:
    corrections = t.archive_corrections
    marked = conn.execute(
        update(corrections)
        .where(corrections.c.id == correction_id, corrections.c.status == "pending")
        .values(
            status="done",
            finished_at=now,
            instances=instances,
            old_study_uids=json.dumps(plan.old_study_uids),
            new_study_uids=json.dumps(plan.new_study_uids),
            old_patients=json.dumps(plan.old_patients, ensure_ascii=False),
            new_patients=json.dumps(plan.new_patients, ensure_ascii=False),
            pending_paths="[]",
        )
    ).rowcount
    if marked != 1:
        raise CorrectionError("busy", f"correction {correction_id} was abandoned meanwhile")


def _switch_patients(conn: Connection, plan: Plan) -> dict[Identity, int]:
    """The patient rows after the correction: identity -> its row id."""
    patient_pks: dict[Identity, int] = {}
    for identity, (existed, columns) in plan.patients.items():
        if existed:
            found = patient_row(conn, identity)
            if found is None:
                raise _Changed
            if columns:
                conn.execute(update(t.patients).where(_p.id == found.id).values(**columns))
            patient_pks[identity] = found.id
        else:
            key = conn.execute(insert(t.patients).values(**columns)).inserted_primary_key
            assert key is not None
            patient_pks[identity] = int(key[0])
    return patient_pks


def _switch_studies(
    conn: Connection, plan: Plan, patient_pks: dict[Identity, int]
) -> dict[str, int]:
    """The study rows after the correction: study UID -> its row id."""
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
    return study_pks


def _switch_files(
    conn: Connection, written: list[tuple[Rewrite, int]], correction_id: int, now: datetime
) -> None:
    """Each instance row names its rewritten file; the old file is listed as replaced."""
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


def _drop_emptied(conn: Connection, plan: Plan) -> None:
    """A study whose last series left and a patient whose last study left are gone: a merged
    patient must not linger in C-FIND answers as an empty entry."""
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


def patient_key(identity: Identity) -> str:
    """A patient as ``archive_corrected_keys`` names it (a backslash is in no single value)."""
    return f"{identity[0]}\\{identity[1]}"


def _remember(conn: Connection, plan: Plan, correction_id: int) -> None:
    """Note what this correction touched, for objects arriving after it: kind "study" and
    "patient" for every study and patient concerned, "moved" for a study UID and "merged"
    for a patient that no longer exist because of it (a later object naming them is sent on
    to where they went)."""
    studies = {*plan.old_study_uids, *plan.new_study_uids}
    studies |= {item.study_uid for item in plan.rewrites}
    patients = {*plan.old_patients, *plan.new_patients}
    patients |= {item.row.identity for item in plan.rewrites}
    rows = [("study", uid) for uid in sorted(studies)]
    rows += [("patient", patient_key(p)) for p in sorted(patients)]
    gone_studies = set(plan.old_study_uids) - set(plan.new_study_uids)
    existing = set(
        conn.execute(
            select(_st.study_instance_uid).where(_st.study_instance_uid.in_(sorted(gone_studies)))
        ).scalars()
    )
    rows += [("moved", uid) for uid in sorted(gone_studies - existing)]
    for identity in sorted(set(plan.old_patients) - set(plan.new_patients)):
        if patient_row(conn, identity) is None:
            rows.append(("merged", patient_key(identity)))
    if rows:
        conn.execute(
            insert(t.archive_corrected_keys),
            [
                {"kind": kind, "subject": subject, "correction_id": correction_id}
                for kind, subject in rows
            ],
        )


def _lock(conn: Connection, patients: set[int]) -> None:
    """PostgreSQL: hold the rows objects could be added under until the switch commits (an
    insert referencing a locked row waits). SQLite's write transaction already excludes all."""
    if not patients or db.is_sqlite(conn.engine):
        return
    # Always in id order, so that two corrections of the same patients cannot deadlock.
    pks = sorted(patients)
    conn.execute(select(_p.id).where(_p.id.in_(pks)).order_by(_p.id).with_for_update()).all()
    studies = select(_st.id).where(_st.patient_fk.in_(pks))
    conn.execute(studies.order_by(_st.id).with_for_update()).all()
    series = select(_se.id).where(_se.study_fk.in_(studies)).order_by(_se.id)
    conn.execute(series.with_for_update()).all()


def _remove(storage: StorageArea, written: list[tuple[Rewrite, int]]) -> None:
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
    return [record_of(row) for row in conn.execute(statement)]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _load(conn: Connection, correction_id: int) -> Correction:
    corrections = t.archive_corrections
    row = conn.execute(select(corrections).where(corrections.c.id == correction_id)).one()
    return record_of(row)


def record_of(row: Any) -> Correction:
    """A row of ``archive_corrections`` as a :class:`Correction`."""
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
