"""The one ingest path: every way in (C-STORE, import, later STOW-RS and the capture station)
calls :func:`store_file` (bytes are first put in the incoming folder).

Order of work, so that an acknowledged object is never lost and a failed one leaves nothing:
the object arrives as a file in the storage area's incoming folder (the DICOM server writes
C-STORE data sets there as their fragments arrive, so they are never held whole in memory);
its attributes are read and checked; it is fsynced, renamed to its final name and its folder
fsynced; then the rows are committed. Only then does the caller send its success status.

The file is the durable record: the index commit does not wait for the disk (a non-durable
commit, see :func:`core_server.db.write`; the next durable commit of anyone, or SQLite's next
checkpoint, makes it durable). A power cut may lose the newest rows, never their files, and
:meth:`Archive.recover` indexes the files of the last days that no row names at every start. This
saves a third sync (about 0.3 ms) on every object of an association, which waits for each answer.

Duplicate SOP Instance UIDs: the same bytes again are a success and change nothing. Different
bytes under a stored UID (that are not one of its earlier versions: a re-send of an original
that a correction rewrote) are refused (:class:`ReplaceRefused`) unless the origin may replace
(``Origin.may_replace``: a modality registered with the overwrite permission re-sending a
corrected image, or the core's own report output retrying an object under its reserved UID);
then they replace the indexed object, and the older file is kept and listed in
``replaced_instances``. So by default no sender can change what was archived (after dcm4chee's
overwrite policy, whose default is "never").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from core_server import clock, db, metrics
from core_server.archive import tables as t
from core_server.archive.memo import Memo, PerEngine
from core_server.archive.objects import (
    ParsedObject,
    integer,
    parse,
    person_name_keys,
    pinyin_columns,
    text,
)
from core_server.archive.storage import StorageArea
from core_server.refusals import Conflict

log = logging.getLogger(__name__)
# Channels whose objects the core makes itself under UIDs it reserved (report output): a retry
# after a crash may bring other bytes (a new content time) and must replace its earlier try.
OWN_CHANNELS = frozenset({"report"})


@dataclass(frozen=True)
class Origin:
    """Where an object came from: ``dimse``, ``import``, ``stow``..., and the sender.
    ``may_replace``: a different object under a stored SOP Instance UID replaces it (the sender
    has the overwrite permission); otherwise it is refused."""

    channel: str
    ae_title: str = ""
    remote: str = ""
    may_replace: bool = False

    @property
    def replaces(self) -> bool:
        return self.may_replace or self.channel in OWN_CHANNELS


class ReplaceRefused(Conflict):
    """A different object under a stored SOP Instance UID from an origin that may not replace
    it: nothing changed, the received file is gone."""

    def __init__(self, sop_instance_uid: str) -> None:
        super().__init__("archive.replace_refused", sop_instance_uid=sop_instance_uid)


@dataclass(frozen=True)
class Stored:
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    outcome: str  # "stored", "duplicate" (same bytes, nothing changed) or "replaced"
    last_key: int | None = None  # newest archive_corrected_keys id as it was indexed


def store_file(engine: Engine, storage: StorageArea, incoming: Path, origin: Origin) -> Stored:
    """Check, make durable and index one Part 10 file from the incoming folder; it is moved into
    place, or removed if refused. Raises :class:`InvalidObject` for a file it cannot index."""
    try:
        parsed = parse(incoming)
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    size = incoming.stat().st_size
    received_at = clock.now()
    relative = storage.new_path(parsed.study_instance_uid, received_at)
    # The file is fsynced, renamed and its folder fsynced before the index transaction
    # starts, so a committed row always has its file and the write lock is never held across
    # an fsync. An instance an IOCM rejection note put in the bin is refused inside that
    # transaction (RejectedAgain, the file removed): a read transaction of its own before the
    # syncs cost 15 % of the CPU of storing an object, for a case that hardly ever comes.
    # (A worker thread doing the syncs beside the look-ups cost more CPU in hand-offs than
    # it overlapped: the next image of a known series needs no look-up.)
    try:
        storage.adopt(incoming, relative)
        outcome, last_key = _index(engine, storage, parsed, relative, size, received_at, origin)
    except BaseException:
        incoming.unlink(missing_ok=True)
        storage.remove(relative)
        raise
    if outcome == "duplicate":
        storage.remove(relative)
    metrics.stored(origin.channel, outcome, size)
    return _stored(parsed, outcome, last_key)


def index_file(engine: Engine, storage: StorageArea, relative: str) -> Stored:
    """Index a complete file already in the storage area that no row names (written before a
    crash, never acknowledged): a sender's retry of it is then a duplicate. A file that would
    replace a stored object is removed (its sender's permission is not known; it was never
    acknowledged, so the sender sends it again)."""
    from core_server.archive import recycle

    parsed = parse(storage.absolute(relative))
    if recycle.in_bin(engine, parsed.sop_instance_uid):  # deleted: its file waits in place
        raise recycle.InBin(relative)
    size = storage.absolute(relative).stat().st_size
    received_at = clock.now()
    try:
        outcome, last_key = _index(
            engine, storage, parsed, relative, size, received_at, Origin("recovery")
        )
    except ReplaceRefused:
        storage.remove(relative)
        raise
    if outcome == "duplicate":
        storage.remove(relative)
    return _stored(parsed, outcome, last_key)


def _stored(parsed: ParsedObject, outcome: str, last_key: int) -> Stored:
    return Stored(
        parsed.sop_class_uid,
        parsed.sop_instance_uid,
        parsed.study_instance_uid,
        parsed.series_instance_uid,
        outcome,
        last_key,
    )


def _index(
    engine: Engine,
    storage: StorageArea,
    parsed: ParsedObject,
    relative: str,
    size: int,
    received_at: datetime,
    origin: Origin,
) -> tuple[str, int]:
    """Insert (or replace) the rows of an object whose file is durable already; the outcome
    and the newest corrected-key id seen in the same transaction (for late arrivals)."""
    ds = parsed.dataset
    instance_values = {
        "sop_class_uid": parsed.sop_class_uid,
        "instance_number": integer(ds, "InstanceNumber"),
        "transfer_syntax_uid": parsed.transfer_syntax_uid,
        "number_of_frames": integer(ds, "NumberOfFrames"),
        "rows": integer(ds, "Rows"),
        "columns": integer(ds, "Columns"),
        "path": relative,
        "size": size,
        "received_at": received_at,
        "source_ae_title": origin.ae_title[:16],
    }
    series_uid = parsed.series_instance_uid
    known = _series_ids(engine)
    series_fk = known.get(series_uid)
    if series_fk is not None:  # the common case: the next image of a series
        fast = _fast_index(
            engine,
            {
                "series_fk": series_fk,
                "sop_instance_uid": parsed.sop_instance_uid,
                **instance_values,
            },
        )
        if fast is not None:
            return "stored", fast
        known.forget(series_uid)
    for attempt in range(3):
        try:
            with db.write(engine, durable=False) as conn:
                series_fk = known.get(series_uid) if not attempt else None
                _refuse_rejected(conn, parsed.sop_instance_uid)
                if series_fk is None:
                    series_fk = _series_fk(conn, parsed, origin, received_at)
                outcome = _insert_or_replace(
                    conn, storage, parsed, series_fk, instance_values, received_at, origin
                )
                last_key = int(conn.execute(_LAST_KEY).scalar() or 0)
            known.put(series_uid, series_fk)  # committed: safe to remember
            return outcome, last_key
        except IntegrityError:
            # Another process inserted the same patient/study/series/instance first, or a
            # remembered series is gone: look everything up again.
            known.forget(series_uid)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _fast_index(engine: Engine, values: dict[str, Any]) -> int | None:
    """A new instance of a series already indexed, on the driver's cursor (see
    :func:`core_server.db.write_raw`): the newest corrected-key id, or None when the instance
    is not new or the series is gone (then :func:`_index`'s full path decides)."""
    rejected, insert_new, last_key = _fast_statements(engine.dialect)
    uid = values["sop_instance_uid"]
    try:
        with db.write_raw(engine, durable=False) as cursor:
            if cursor.execute(rejected.sql, rejected.params({"uid": uid})).fetchone() is not None:
                raise _rejected_again(uid)
            if cursor.execute(insert_new.sql, insert_new.params(values)).fetchone() is None:
                raise _NotNew
            return int(cursor.execute(last_key.sql, last_key.params({})).fetchone()[0] or 0)
    except (_NotNew, engine.dialect.loaded_dbapi.IntegrityError):
        return None


class _NotNew(Exception):
    """The SOP Instance UID is indexed already: rolled back, for the full path."""


def _rejected_again(uid: str) -> Exception:
    from core_server.archive import recycle  # it builds on this module

    return recycle.RejectedAgain(uid)


def _refuse_rejected(conn: Connection, uid: str) -> None:
    from core_server.archive import recycle

    if conn.execute(recycle.REJECTED, {"uid": uid}).first() is not None:
        raise recycle.RejectedAgain(uid)


@lru_cache(maxsize=4)
def _fast_statements(dialect: Any) -> tuple[db.Prepared, db.Prepared, db.Prepared]:
    from core_server.archive import recycle

    columns = tuple(c.name for c in t.instances.columns if c.name != "id")
    return (
        db.Prepared(recycle.REJECTED, dialect),
        db.Prepared(_insert_new_instance(dialect.name), dialect, columns),
        db.Prepared(_LAST_KEY, dialect),
    )


def _insert_or_replace(
    conn: Connection,
    storage: StorageArea,
    parsed: ParsedObject,
    series_fk: int,
    values: dict[str, Any],
    received_at: datetime,
    origin: Origin,
) -> str:
    new = {"series_fk": series_fk, "sop_instance_uid": parsed.sop_instance_uid, **values}
    if conn.execute(_insert_new_instance(conn.dialect.name), new).first() is not None:
        return "stored"
    old = conn.execute(_OLD_INSTANCE, {"uid": parsed.sop_instance_uid}).one()
    if old.path == values["path"]:
        # This very file is indexed already: the storing node and another node's start-up
        # recovery (a shared storage folder) each indexed it, one after the other. It is the
        # object's one copy: not a duplicate to remove.
        return "stored"
    if old.size == values["size"] and storage.same_content(old.path, values["path"]):
        return "duplicate"
    if not origin.replaces and not _sent_before(conn, storage, old, values):
        log.warning(
            "refused a different object under the stored SOP Instance UID %s from %s %s",
            parsed.sop_instance_uid,
            origin.channel,
            origin.ae_title or origin.remote,
        )
        raise ReplaceRefused(parsed.sop_instance_uid)
    conn.execute(
        insert(t.replaced_instances).values(
            sop_instance_uid=old.sop_instance_uid,
            path=old.path,
            size=old.size,
            received_at=old.received_at,
            replaced_at=received_at,
        )
    )
    conn.execute(
        update(t.instances).where(t.instances.c.id == old.id).values(series_fk=series_fk, **values)
    )
    log.info("instance %s replaced; older file kept", parsed.sop_instance_uid)
    return "replaced"


def _sent_before(conn: Connection, storage: StorageArea, old: Any, values: dict[str, Any]) -> bool:
    """Is the object one of the stored object's earlier versions, byte for byte? A modality
    re-sending its original after a correction rewrote the archived file sends nothing new:
    it is taken (and corrected again, see late_arrivals) whoever sends it."""
    earlier = conn.execute(
        _EARLIER_VERSIONS, {"uid": old.sop_instance_uid, "size": values["size"]}
    ).scalars()
    return any(storage.same_content(path, values["path"]) for path in earlier)


def _series_fk(conn: Connection, parsed: ParsedObject, origin: Origin, now: datetime) -> int:
    ds = parsed.dataset
    found = _id_of(conn, t.series, t.series.c.series_instance_uid, parsed.series_instance_uid)
    if found is not None:
        return found
    study_fk = _study_fk(conn, parsed, now)
    return _insert(
        conn,
        t.series,
        study_fk=study_fk,
        series_instance_uid=parsed.series_instance_uid,
        modality=text(ds, "Modality", 16),
        series_number=integer(ds, "SeriesNumber"),
        series_description=text(ds, "SeriesDescription", 64),
        body_part_examined=text(ds, "BodyPartExamined", 16),
        series_date=text(ds, "SeriesDate", 8),
        series_time=text(ds, "SeriesTime", 16),
        station_name=text(ds, "StationName", 16),
        source_ae_title=origin.ae_title[:16],
    )


def _study_fk(conn: Connection, parsed: ParsedObject, now: datetime) -> int:
    ds = parsed.dataset
    found = _id_of(conn, t.studies, t.studies.c.study_instance_uid, parsed.study_instance_uid)
    if found is not None:
        return found
    referring = text(ds, "ReferringPhysicianName", 324)
    return _insert(
        conn,
        t.studies,
        patient_fk=_patient_fk(conn, parsed, now),
        study_instance_uid=parsed.study_instance_uid,
        study_date=text(ds, "StudyDate", 8),
        study_time=text(ds, "StudyTime", 16),
        accession_number=text(ds, "AccessionNumber", 64),
        study_id=text(ds, "StudyID", 16),
        study_description=text(ds, "StudyDescription", 64),
        referring_physician_name=referring,
        referring_physician_key=person_name_keys(referring)[0],
        created_at=now,
    )


def _patient_fk(conn: Connection, parsed: ParsedObject, now: datetime) -> int:
    ds = parsed.dataset
    patient_id = text(ds, "PatientID", 64)
    issuer = text(ds, "IssuerOfPatientID", 64)
    found = conn.execute(_PATIENT_ID, {"patient_id": patient_id, "issuer": issuer}).scalar()
    if found is not None:
        return int(found)
    name = text(ds, "PatientName", 324)
    alpha, ideo, phon = person_name_keys(name)
    return _insert(
        conn,
        t.patients,
        patient_id=patient_id,
        issuer_of_patient_id=issuer,
        patient_name=name,
        patient_name_alpha=alpha,
        patient_name_ideo=ideo,
        patient_name_phon=phon,
        **pinyin_columns(name),
        birth_date=text(ds, "PatientBirthDate", 8),
        sex=text(ds, "PatientSex", 16),
        created_at=now,
    )


def _id_of(conn: Connection, table: Table, column: Any, value: str) -> int | None:
    found = conn.execute(_ID_BY_UID[table.name], {"uid": value}).scalar()
    return None if found is None else int(found)


def _insert(conn: Connection, table: Table, **values: Any) -> int:
    key = conn.execute(_INSERT[table.name], values).inserted_primary_key
    assert key is not None
    return int(key[0])


# Statements built once, values bound at execution: building a statement per object cost
# more CPU than running it.
_OLD_INSTANCE = select(t.instances).where(t.instances.c.sop_instance_uid == bindparam("uid"))
_EARLIER_VERSIONS = select(t.replaced_instances.c.path).where(
    t.replaced_instances.c.sop_instance_uid == bindparam("uid"),
    t.replaced_instances.c.size == bindparam("size"),
)
_ID_BY_UID = {
    t.series.name: select(t.series.c.id).where(t.series.c.series_instance_uid == bindparam("uid")),
    t.studies.name: select(t.studies.c.id).where(
        t.studies.c.study_instance_uid == bindparam("uid")
    ),
}
_PATIENT_ID = select(t.patients.c.id).where(
    t.patients.c.patient_id == bindparam("patient_id"),
    t.patients.c.issuer_of_patient_id == bindparam("issuer"),
)
_LAST_KEY = select(func.max(t.archive_corrected_keys.c.id))
_INSERT = {table.name: insert(table) for table in (t.patients, t.studies, t.series, t.instances)}


@lru_cache(maxsize=4)
def _insert_new_instance(dialect: str) -> Any:
    """INSERT that does nothing, and returns no row, when the SOP Instance UID is stored."""
    module = {"sqlite": sqlite, "postgresql": postgresql}[dialect]
    return (
        module.insert(t.instances)
        .on_conflict_do_nothing(index_elements=["sop_instance_uid"])
        .returning(t.instances.c.id)
    )


# Series UID -> row id of series this process has committed or seen, so that the common case
# (the next image of a series) needs no look-up. Series rows are never renumbered; a removed
# one shows as an integrity error, which forgets it and retries.
_series_ids: PerEngine[Memo[str, int]] = PerEngine(Memo)
