"""The recycle bin's moves in the archive index (docs/storage-recycle.md).

Deleting an instance, series or study moves its index rows out of the query tables into
``recycle_bin_rows`` (one JSON copy of each row as it was), under one ``recycle_bin`` entry
(who, when, why): C-FIND, QIDO, WADO and C-MOVE/C-GET read only the query tables, so the
objects are gone from them at once and need no filter. A series, study or patient row moves
with its last instance. Files stay where they are until the bin is emptied.

Restore puts the rows back under their old ids; a series, study or patient that arrived again
meanwhile (same UID, or same Patient ID and issuer) is joined instead and the references
follow. An instance whose SOP Instance UID arrived again meanwhile is a 409, nothing changed.

An instance rejected by an IOCM rejection note (``rejection_code`` set) is refused when it is
sent again while it is in the bin (:data:`REJECTED`, which ingest asks in the transaction that
would index it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.archive import tables as t
from core_server.archive.ingest import ReplaceRefused
from core_server.db import BigId, Key, UtcDateTime, metadata
from core_server.refusals import Conflict, Invalid, NotFound

LEVELS = ("study", "series", "instance")

recycle_bin = Table(
    "recycle_bin",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("level", Key(16), nullable=False),  # study, series, instance
    Column("study_instance_uid", Key(64), nullable=False, index=True),
    Column("series_instance_uid", Key(64), nullable=False, server_default=""),
    Column("sop_instance_uid", Key(64), nullable=False, server_default=""),
    Column("patient_id", Key(64), nullable=False, server_default=""),
    Column("patient_name", String(324), nullable=False, server_default=""),
    Column("study_date", Key(8), nullable=False, server_default=""),
    Column("accession_number", Key(64), nullable=False, server_default=""),
    Column("study_description", Key(64), nullable=False, server_default=""),
    Column("modalities", Key(64), nullable=False, server_default=""),
    Column("instances", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("username", String(64), nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    # IOCM: the rejection note's Concept Name code (CID 7011) and its SOP Instance UID.
    Column("rejection_code", Key(16), nullable=False, server_default=""),
    Column("rejection_note_uid", Key(64), nullable=False, server_default=""),
    Column("deleted_at", UtcDateTime, nullable=False, index=True),
)

# The index rows as they were: ``kind`` patient/study/series/instance, the row's own id and
# UID (the SOP Instance UID of an instance), ``data`` the row as JSON.
recycle_bin_rows = Table(
    "recycle_bin_rows",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entry_fk", BigId, ForeignKey("recycle_bin.id"), nullable=False, index=True),
    Column("kind", Key(16), nullable=False),
    Column("row_id", BigId, nullable=False),
    Column("uid", Key(64), nullable=False),
    Column("data", Text, nullable=False, comment="JSON"),
    Index(None, "uid", "kind"),
)

TABLES = {"patient": t.patients, "study": t.studies, "series": t.series, "instance": t.instances}


@dataclass(frozen=True)
class Entry:
    """One deletion in the bin."""

    id: int
    level: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession_number: str
    study_description: str
    modalities: str
    instances: int
    size: int
    username: str
    reason: str
    rejection_code: str
    rejection_note_uid: str
    deleted_at: datetime


@dataclass(frozen=True)
class BinnedFile:
    """An instance's file, as the bin keeps it (for erasing)."""

    sop_instance_uid: str
    path: str


class RejectedAgain(ReplaceRefused):
    """An instance an IOCM rejection note took out, sent again while it is in the bin: refused
    (a C-STORE/STOW UID conflict), as dcm4chee's default does."""

    def __init__(self, sop_instance_uid: str) -> None:
        Conflict.__init__(self, "storage.recycle.rejected_again", sop_instance_uid=sop_instance_uid)


def delete_objects(
    engine: Engine,
    level: str,
    uid: str,
    *,
    username: str,
    reason: str,
    rejection_code: str = "",
    rejection_note_uid: str = "",
) -> Entry:
    """Move a study, series or instance (by its UID) into the bin; NotFound when the query
    tables do not have it."""
    if level not in LEVELS:
        raise Invalid("storage.recycle.bad_level", level=level)
    entries = _retried(engine, level, [uid], username, reason, rejection_code, rejection_note_uid)
    if not entries:
        raise NotFound("storage.recycle.not_found", level=level, uid=uid)
    return entries[0]


def reject_instances(
    engine: Engine,
    sop_instance_uids: Sequence[str],
    *,
    reason: str,
    rejection_code: str,
    rejection_note_uid: str,
) -> list[Entry]:
    """IOCM: move the instances a rejection note names into the bin, one entry per study
    (instances already gone are skipped)."""
    uids = list(sop_instance_uids)
    return _retried(engine, "instance", uids, "", reason, rejection_code, rejection_note_uid)


def _retried(engine: Engine, level: str, uids: list[str], *args: str) -> list[Entry]:
    """:func:`_delete` in one transaction, again if an image arrived for a series being
    emptied (PostgreSQL's foreign key then fails the series' delete; the next try takes the
    newcomer along)."""
    for attempt in range(3):
        try:
            with db.write(engine) as conn:
                return _delete(conn, level, uids, *args)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _delete(
    conn: Connection,
    level: str,
    uids: list[str],
    username: str,
    reason: str,
    rejection_code: str,
    rejection_note_uid: str,
) -> list[Entry]:
    rows = _instances_of(conn, level, uids)
    by_study: dict[str, list[Any]] = {}
    for row in rows:
        by_study.setdefault(row.study_instance_uid, []).append(row)
    entries = []
    for study_uid, members in by_study.items():
        first = members[0]
        values = {
            "level": level,
            "study_instance_uid": study_uid,
            "series_instance_uid": first.series_instance_uid if level != "study" else "",
            "sop_instance_uid": first.sop_instance_uid if level == "instance" else "",
            "patient_id": first.patient_id,
            "patient_name": first.patient_name,
            "study_date": first.study_date,
            "accession_number": first.accession_number,
            "study_description": first.study_description,
            "modalities": "\\".join(sorted({m.modality for m in members if m.modality}))[:64],
            "instances": len(members),
            "size": sum(int(m.size) for m in members),
            "username": username[:64],
            "reason": reason,
            "rejection_code": rejection_code[:16],
            "rejection_note_uid": rejection_note_uid[:64],
            "deleted_at": clock.now(),
        }
        key = conn.execute(insert(recycle_bin).values(**values)).inserted_primary_key
        assert key is not None
        entry_id = int(key[0])
        _move_out(conn, entry_id, members)
        entries.append(Entry(id=entry_id, **values))
    return entries


def _instances_of(conn: Connection, level: str, uids: list[str]) -> list[Any]:
    column = {
        "study": t.studies.c.study_instance_uid,
        "series": t.series.c.series_instance_uid,
        "instance": t.instances.c.sop_instance_uid,
    }[level]
    joined = t.instances.join(t.series, t.series.c.id == t.instances.c.series_fk).join(
        t.studies, t.studies.c.id == t.series.c.study_fk
    )
    joined = joined.join(t.patients, t.patients.c.id == t.studies.c.patient_fk)
    query = (
        select(
            t.instances,
            t.series.c.series_instance_uid,
            t.series.c.modality,
            t.series.c.study_fk,
            t.studies.c.study_instance_uid,
            t.studies.c.patient_fk,
            t.studies.c.study_date,
            t.studies.c.accession_number,
            t.studies.c.study_description,
            t.patients.c.patient_id,
            t.patients.c.patient_name,
        )
        .select_from(joined)
        .where(column.in_(uids))
        .order_by(t.instances.c.id)
    )
    return list(conn.execute(query))


def _move_out(conn: Connection, entry_id: int, members: list[Any]) -> None:
    """Copy the rows into the bin and delete them: the instances, then each series, study and
    patient left without children."""
    ids_of_all = [m.id for m in members]
    for start in range(0, len(ids_of_all), 500):  # SQLite's bound on parameters
        instance_ids = ids_of_all[start : start + 500]
        kept = conn.execute(select(t.instances).where(t.instances.c.id.in_(instance_ids))).all()
        _save(conn, entry_id, "instance", kept, "sop_instance_uid")
        conn.execute(delete(t.instances).where(t.instances.c.id.in_(instance_ids)))
    parents = [
        ("series", {m.series_fk for m in members}, t.instances.c.series_fk, "series_instance_uid"),
        ("study", {m.study_fk for m in members}, t.series.c.study_fk, "study_instance_uid"),
        ("patient", {m.patient_fk for m in members}, t.studies.c.patient_fk, "patient_id"),
    ]
    for kind, ids, child_fk, uid_column in parents:
        table = TABLES[kind]
        still_used = set(conn.execute(select(child_fk).where(child_fk.in_(ids))).scalars())
        empty = sorted(ids - still_used)
        if not empty:
            break  # nothing above a parent that keeps children moves either
        rows = conn.execute(select(table).where(table.c.id.in_(empty))).all()
        _save(conn, entry_id, kind, rows, uid_column)
        conn.execute(delete(table).where(table.c.id.in_(empty)))


def _save(conn: Connection, entry_id: int, kind: str, rows: Iterable[Any], uid: str) -> None:
    values = [
        {
            "entry_fk": entry_id,
            "kind": kind,
            "row_id": row.id,
            "uid": str(getattr(row, uid))[:64],
            "data": json.dumps(_plain(row._mapping), ensure_ascii=False),
        }
        for row in rows
    ]
    if values:
        conn.execute(insert(recycle_bin_rows), values)


def _plain(mapping: Any) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in mapping.items()}


def loaded(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    """A saved row as values of ``table`` today (columns added since take their defaults)."""
    values = {}
    for column in table.columns:
        if column.name not in data:
            continue
        value = data[column.name]
        if isinstance(value, str) and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        values[column.name] = value
    return values


def forget_series(engine: Engine, series_uids: Iterable[str]) -> None:
    """Drop moved series from ingest's memory of series ids (this process's), so the next
    image of such a series finds or makes its row again."""
    from core_server.archive.ingest import _series_ids

    known = _series_ids(engine)
    for uid in series_uids:
        known.forget(uid)


def moved_series(engine: Engine, entry_id: int) -> list[str]:
    with db.read(engine) as conn:
        return list(
            conn.execute(
                select(recycle_bin_rows.c.uid).where(
                    recycle_bin_rows.c.entry_fk == entry_id, recycle_bin_rows.c.kind == "series"
                )
            ).scalars()
        )


def binned_files(
    engine: Engine, entry_ids: Sequence[int], *, older: bool = True
) -> list[BinnedFile]:
    """The files of the instances in these entries (their online paths), and with ``older``
    the older versions (``replaced_instances``) of the same SOP Instance UIDs."""
    with db.read(engine) as conn:
        rows = conn.execute(
            select(recycle_bin_rows.c.uid, recycle_bin_rows.c.data).where(
                recycle_bin_rows.c.entry_fk.in_(entry_ids), recycle_bin_rows.c.kind == "instance"
            )
        ).all()
        found = [BinnedFile(uid, json.loads(data)["path"]) for uid, data in rows]
        if not older:
            return found
        # The older versions of these UIDs, through the bin's own rows (no long IN list).
        versions = conn.execute(
            select(t.replaced_instances.c.sop_instance_uid, t.replaced_instances.c.path).where(
                t.replaced_instances.c.sop_instance_uid.in_(
                    select(recycle_bin_rows.c.uid).where(
                        recycle_bin_rows.c.entry_fk.in_(entry_ids),
                        recycle_bin_rows.c.kind == "instance",
                    )
                )
            )
        ).all()
    return found + [BinnedFile(uid, path) for uid, path in versions]


def paths_in_use(engine: Engine, paths: Sequence[str]) -> set[str]:
    """Which of these paths an indexed instance names now (stored again under its UID)."""
    found: set[str] = set()
    with db.read(engine) as conn:
        for start in range(0, len(paths), 500):
            batch = list(paths[start : start + 500])
            found |= set(
                conn.execute(select(t.instances.c.path).where(t.instances.c.path.in_(batch)))
                .scalars()
                .all()
            )
    return found


def drop_entries(engine: Engine, entry_ids: Sequence[int]) -> None:
    """Erase: the entries' rows (and the older versions' rows) are dropped for good; the
    caller removed the files first."""
    with db.write(engine) as conn:
        uids = select(recycle_bin_rows.c.uid).where(
            recycle_bin_rows.c.entry_fk.in_(entry_ids), recycle_bin_rows.c.kind == "instance"
        )
        # Only versions of UIDs no current object has (one may have been stored again).
        conn.execute(
            delete(t.replaced_instances).where(
                t.replaced_instances.c.sop_instance_uid.in_(uids),
                t.replaced_instances.c.sop_instance_uid.not_in(
                    select(t.instances.c.sop_instance_uid).where(
                        t.instances.c.sop_instance_uid.in_(uids)
                    )
                ),
            )
        )
        drop(conn, entry_ids)


def drop(conn: Connection, entry_ids: Sequence[int]) -> None:
    conn.execute(delete(recycle_bin_rows).where(recycle_bin_rows.c.entry_fk.in_(entry_ids)))
    conn.execute(delete(recycle_bin).where(recycle_bin.c.id.in_(entry_ids)))


def entry_in(conn: Connection, entry_id: int) -> Entry:
    row = conn.execute(select(recycle_bin).where(recycle_bin.c.id == entry_id)).first()
    if row is None:
        raise NotFound("storage.recycle.entry_not_found", entry_id=entry_id)
    return Entry(**row._mapping)


def entry(engine: Engine, entry_id: int) -> Entry:
    with db.read(engine) as conn:
        return entry_in(conn, entry_id)


def entries(
    engine: Engine, *, before: datetime | None = None, limit: int = 200, offset: int = 0
) -> list[Entry]:
    """Entries, newest first; ``before``: only those deleted before that time (to erase)."""
    query = select(recycle_bin).order_by(recycle_bin.c.deleted_at.desc(), recycle_bin.c.id.desc())
    if before is not None:
        query = query.where(recycle_bin.c.deleted_at < before)
    with db.read(engine) as conn:
        return [Entry(**r._mapping) for r in conn.execute(query.limit(limit).offset(offset))]


def count(engine: Engine) -> int:
    with db.read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(recycle_bin)).scalar_one())


def holds_study(engine: Engine, study_instance_uid: str) -> bool:
    """Is (part of) this study in the bin? (The RIS shows an exam's study as deleted.)"""
    with db.read(engine) as conn:
        return (
            conn.execute(
                select(recycle_bin.c.id)
                .where(recycle_bin.c.study_instance_uid == study_instance_uid)
                .limit(1)
            ).first()
            is not None
        )


REJECTED = (  # an instance in the bin by a rejection note: ingest refuses it again
    select(recycle_bin_rows.c.id)
    .select_from(
        recycle_bin_rows.join(
            recycle_bin,
            and_(
                recycle_bin.c.id == recycle_bin_rows.c.entry_fk, recycle_bin.c.rejection_code != ""
            ),
        )
    )
    .where(recycle_bin_rows.c.uid == bindparam("uid"), recycle_bin_rows.c.kind == "instance")
    .limit(1)
)
_BINNED_PATH = (
    select(recycle_bin_rows.c.id)
    .where(recycle_bin_rows.c.uid == bindparam("uid"), recycle_bin_rows.c.kind == "instance")
    .limit(1)
)


def in_bin(engine: Engine, sop_instance_uid: str) -> bool:
    """Is an instance with this UID in the bin? (Start-up recovery leaves its file alone.)"""
    with db.read(engine) as conn:
        return conn.execute(_BINNED_PATH, {"uid": sop_instance_uid}).first() is not None


class InBin(Exception):
    """A file start-up recovery found that belongs to an instance in the bin: left alone."""


def binned_paths(conn: Connection) -> set[str]:
    """The online paths of the instances in the bin (files no query row names, kept)."""
    return {
        json.loads(data)["path"]
        for data in conn.execute(
            select(recycle_bin_rows.c.data).where(recycle_bin_rows.c.kind == "instance")
        ).scalars()
    }
