"""Replacing an instance's online file by another encoding of the same object (compression on
ingest or on a schedule, docs/storage-compression.md), durably:

1. a journal row (``compression_replacements``, state ``writing``) names the new file;
2. the new file is written under a new name in the same day folder as the original (fsync of
   the file and its folder), so that the folder's date still says when the object came: the
   start-up recovery of :meth:`Archive.recover` walks recent day folders and relies on it;
3. one transaction points the index (path, transfer syntax, size) at the new file and marks
   the journal row ``committed``; it changes nothing if the row no longer names the old file
   (a correction or another process got there first), and the new file is then dropped;
4. the old file is removed and the journal row deleted.

A crash before 3 leaves the old file serving and the new one an orphan; a crash between 3 and
4 leaves the old one an orphan: :func:`recover` (at start) removes whichever the journal
names that no index row uses. Copies on other areas keep their own syntax (A's copy index)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Engine, String, Table, delete, insert, select, update

from core_server import clock, db
from core_server.archive import tables as t
from core_server.archive.storage import StorageArea
from core_server.db import BigId, Key, UtcDateTime, metadata

log = logging.getLogger(__name__)

replacements = Table(
    "compression_replacements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sop_instance_uid", Key(64), nullable=False, index=True),
    Column("old_path", String(255), nullable=False),
    Column("new_path", String(255), nullable=False),
    Column("state", String(12), nullable=False),  # writing, committed
    Column("created_at", UtcDateTime, nullable=False),
)

# Given the stored bytes: the new bytes and their transfer syntax, or None to leave it.
Producer = Callable[[bytes], "tuple[bytes, str] | None"]


@dataclass(frozen=True)
class Online:
    """An instance as its online file is indexed, with what a compression rule matches on."""

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    path: str
    size: int
    received_at: datetime
    study_instance_uid: str
    modality: str
    source_ae_title: str


@dataclass(frozen=True)
class Replaced:
    sop_instance_uid: str
    old_syntax: str
    new_syntax: str
    old_size: int
    new_size: int


def _online_query() -> object:
    return (
        select(
            t.instances.c.sop_instance_uid,
            t.instances.c.sop_class_uid,
            t.instances.c.transfer_syntax_uid,
            t.instances.c.path,
            t.instances.c.size,
            t.instances.c.received_at,
            t.studies.c.study_instance_uid,
            t.series.c.modality,
            t.instances.c.source_ae_title,
        )
        .join(t.series, t.series.c.id == t.instances.c.series_fk)
        .join(t.studies, t.studies.c.id == t.series.c.study_fk)
    )


def _online(row: Any) -> Online:
    values = list(row)
    values[5] = _utc(values[5])  # received_at: aware UTC whatever the database hands back
    return Online(*values)


def online(engine: Engine, sop_instance_uid: str) -> Online | None:
    query = _online_query().where(t.instances.c.sop_instance_uid == sop_instance_uid)  # type: ignore[attr-defined]
    with db.read(engine) as conn:
        row = conn.execute(query).first()
    return _online(row) if row is not None else None


def candidates(
    engine: Engine,
    *,
    modalities: Iterable[str] = (),
    sop_class_uid: str = "",
    source_ae_title: str = "",
    received_before: datetime | None = None,
    not_syntax: str = "",
    study_instance_uid: str = "",
    after_id: int = 0,
    limit: int = 100,
) -> list[tuple[int, Online]]:
    """Indexed instances matching a rule's conditions, in id order from ``after_id`` (the
    caller pages through with the last id seen): at most ``limit``."""
    c = t.instances.c
    query = _online_query().add_columns(c.id).where(c.id > after_id)  # type: ignore[attr-defined]
    wanted = [m for m in modalities if m]
    if wanted:
        query = query.where(t.series.c.modality.in_(wanted))
    if sop_class_uid:
        query = query.where(c.sop_class_uid == sop_class_uid)
    if source_ae_title:
        query = query.where(c.source_ae_title == source_ae_title)
    if received_before is not None:
        query = query.where(c.received_at < received_before)
    if not_syntax:
        query = query.where(c.transfer_syntax_uid != not_syntax)
    if study_instance_uid:
        query = query.where(t.studies.c.study_instance_uid == study_instance_uid)
    with db.read(engine) as conn:
        rows = conn.execute(query.order_by(c.id).limit(limit)).all()
    return [(row[-1], _online(row[:-1])) for row in rows]


def replace(
    engine: Engine, storage: StorageArea, sop_instance_uid: str, produce: Producer
) -> Replaced | None:
    """Re-encode one instance's online file with ``produce``; None when it is left as it is
    (not indexed, its online file gone to another tier, the producer declined, or the index
    changed meanwhile)."""
    found = online(engine, sop_instance_uid)
    if found is None:
        return None
    try:
        data = storage.read(found.path)
    except FileNotFoundError:
        return None  # not online (another tier holds it): recompressed only when online
    made = produce(data)
    if made is None:
        return None
    new_data, syntax = made
    new_path = storage.new_path(found.study_instance_uid, found.received_at)
    with db.write(engine) as conn:
        journal_id = conn.execute(
            insert(replacements)
            .values(
                sop_instance_uid=sop_instance_uid,
                old_path=found.path,
                new_path=new_path,
                state="writing",
                created_at=clock.now(),
            )
            .returning(replacements.c.id)
        ).scalar_one()
    try:
        storage.write(new_path, new_data)
        switched = _switch(engine, journal_id, found, new_path, syntax, len(new_data))
    except BaseException:
        storage.remove(new_path)
        _forget(engine, journal_id)
        raise
    if not switched:
        storage.remove(new_path)
        _forget(engine, journal_id)
        return None
    storage.remove(found.path)
    _forget(engine, journal_id)
    return Replaced(sop_instance_uid, found.transfer_syntax_uid, syntax, found.size, len(new_data))


def _utc(at: datetime) -> datetime:
    """The day folder is by UTC date (as ingest names it); SQLite hands back naive UTC."""
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _switch(
    engine: Engine, journal_id: int, found: Online, new_path: str, syntax: str, size: int
) -> bool:
    with db.write(engine) as conn:
        changed = conn.execute(
            update(t.instances)
            .where(
                t.instances.c.sop_instance_uid == found.sop_instance_uid,
                t.instances.c.path == found.path,
            )
            .values(path=new_path, transfer_syntax_uid=syntax, size=size)
        ).rowcount
        if changed != 1:
            return False
        conn.execute(
            update(replacements).where(replacements.c.id == journal_id).values(state="committed")
        )
    return True


def _forget(engine: Engine, journal_id: int) -> None:
    with db.write(engine) as conn:
        conn.execute(delete(replacements).where(replacements.c.id == journal_id))


def recover(engine: Engine, storage: StorageArea) -> int:
    """After an unclean stop: remove the files the journal names that no index row uses (the
    new file of a replacement not committed, the old one of a committed one); how many."""
    with db.read(engine) as conn:
        rows = conn.execute(select(replacements)).all()
    removed = 0
    for row in rows:
        orphan = row.new_path if row.state == "writing" else row.old_path
        if not _in_use(engine, orphan):
            if (storage.root / orphan).exists():
                removed += 1
            storage.remove(orphan)
        _forget(engine, row.id)
    if removed:
        log.warning("recompression: %d file(s) left by an unclean stop removed", removed)
    return removed


def _in_use(engine: Engine, path: str) -> bool:
    with db.read(engine) as conn:
        named = conn.execute(select(t.instances.c.id).where(t.instances.c.path == path)).first()
        kept = conn.execute(
            select(t.replaced_instances.c.id).where(t.replaced_instances.c.path == path)
        ).first()
    return named is not None or kept is not None


def last_instance_id(engine: Engine) -> int:
    """The newest instance's id (0 in an empty archive): where a scan of new objects starts."""
    from sqlalchemy import func

    with db.read(engine) as conn:
        return int(conn.execute(select(func.max(t.instances.c.id))).scalar() or 0)
