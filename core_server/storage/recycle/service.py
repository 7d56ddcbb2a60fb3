"""The recycle bin (docs/storage-recycle.md): delete to the bin, restore, erase after the
admin's time, IOCM rejection notes. The archive-level moves are
:mod:`core_server.archive.recycle`; this service adds the audit trail, the configuration, the
periodic erase and the reaction to rejection notes as they are stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from core_server import clock, db
from core_server.archive import Archive, copies
from core_server.archive import recycle as bin_
from core_server.archive import tables as t
from core_server.archive.recycle import Entry
from core_server.archive.recycle_restore import restore
from core_server.auth import record_audit
from core_server.events import EventBus
from core_server.periodic import Periodic
from core_server.refusals import Conflict, Invalid
from core_server.storage.recycle import iocm
from core_server.storage.recycle.tables import recycle_settings

log = logging.getLogger(__name__)
DEFAULT_KEEP_DAYS = 30
MAX_KEEP_DAYS = 3650
ERASE_INTERVAL = 3600.0  # seconds between erase rounds
TOPIC = "storage.recycle.changed"


@dataclass(frozen=True)
class BinSettings:
    keep_days: int
    updated_at: datetime | None
    updated_by: str


class RecycleBin:
    def __init__(
        self, engine: Engine, archive: Archive, bus: EventBus, interval: float = ERASE_INTERVAL
    ) -> None:
        self.engine = engine
        self.archive = archive
        self.bus = bus
        self.ticker = Periodic(
            "recycle-erase", interval, self.erase_due, at_start=True, cluster=engine
        )
        bus.subscribe("archive.instance_stored", self.on_stored)

    def start(self) -> None:
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()

    # configuration
    def settings(self) -> BinSettings:
        with db.read(self.engine) as conn:
            row = conn.execute(select(recycle_settings)).first()
        if row is None:
            return BinSettings(DEFAULT_KEEP_DAYS, None, "")
        return BinSettings(row.keep_days, row.updated_at, row.updated_by)

    def set_keep_days(self, days: int, username: str) -> BinSettings:
        if not 1 <= days <= MAX_KEEP_DAYS:
            raise Invalid("storage.recycle.bad_keep_days", low=1, high=MAX_KEEP_DAYS)
        values = {"keep_days": days, "updated_at": clock.now(), "updated_by": username[:64]}
        with db.write(self.engine) as conn:
            done = conn.execute(
                recycle_settings.update().where(recycle_settings.c.id == 1).values(**values)
            )
            if not done.rowcount:
                conn.execute(recycle_settings.insert().values(id=1, **values))
            record_audit(
                conn,
                username=username,
                action="storage.recycle.settings",
                detail={"keep_days": days},
            )
        return self.settings()

    def erase_at(self, entry: Entry, keep_days: int | None = None) -> datetime:
        days = self.settings().keep_days if keep_days is None else keep_days
        return entry.deleted_at + timedelta(days=days)

    # delete and restore
    def delete(self, level: str, uid: str, *, username: str, reason: str) -> Entry:
        reason = reason.strip()
        if not reason:
            raise Invalid("storage.recycle.reason_required")
        entry = bin_.delete_objects(self.engine, level, uid, username=username, reason=reason)
        self._moved(entry)
        return entry

    def reject(self, note: iocm.RejectionNote) -> list[Entry]:
        """IOCM: the instances a rejection note lists go to the bin (already gone: skipped)."""
        entries = bin_.reject_instances(
            self.engine,
            note.rejected,
            reason=note.meaning,
            rejection_code=note.code,
            rejection_note_uid=note.sop_instance_uid,
        )
        for entry in entries:
            self._moved(entry)
        return entries

    def _moved(self, entry: Entry) -> None:
        bin_.forget_series(self.engine, bin_.moved_series(self.engine, entry.id))
        record_audit(
            self.engine,
            username=entry.username or None,
            action="archive.deleted",
            target=f"study:{entry.study_instance_uid}",
            detail={
                "entry_id": entry.id,
                "level": entry.level,
                "series_instance_uid": entry.series_instance_uid,
                "sop_instance_uid": entry.sop_instance_uid,
                "instances": entry.instances,
                "reason": entry.reason,
                "rejection_code": entry.rejection_code,
                "rejection_note_uid": entry.rejection_note_uid,
                "patient_id": entry.patient_id,
                "accession_number": entry.accession_number,
            },
        )
        self.bus.publish(TOPIC, {"action": "deleted", "entry_id": entry.id})

    def restore(self, entry_id: int, *, username: str) -> Entry:
        self._check_files(entry_id)
        entry = restore(self.engine, entry_id)
        record_audit(
            self.engine,
            username=username,
            action="storage.recycle.restored",
            target=f"study:{entry.study_instance_uid}",
            detail={"entry_id": entry.id, "level": entry.level, "instances": entry.instances},
        )
        self.bus.publish(TOPIC, {"action": "restored", "entry_id": entry.id})
        return entry

    def _check_files(self, entry_id: int) -> None:
        """Refuse to restore rows whose file is gone (an erase cut short) and that have no
        copy elsewhere either: they would answer queries and fail every retrieve."""
        bin_.entry(self.engine, entry_id)  # NotFound first
        current = bin_.binned_files(self.engine, [entry_id], older=False)
        absent = [f for f in current if not self.archive.storage.absolute(f.path).exists()]
        elsewhere = copies.not_online(self.engine, [f.sop_instance_uid for f in absent])
        lost = [f for f in absent if f.sop_instance_uid not in elsewhere]
        if lost:
            raise Conflict("storage.recycle.files_gone", count=len(lost))

    # erase
    def erase_due(self) -> int:
        """Erase what has been in the bin longer than the configured time."""
        before = clock.now() - timedelta(days=self.settings().keep_days)
        return self._erase(bin_.entries(self.engine, before=before, limit=100_000), None)

    def empty(self, *, username: str) -> int:
        """Erase everything in the bin now (the admin confirmed it)."""
        return self._erase(bin_.entries(self.engine, limit=100_000), username)

    def _erase(self, entries: list[Entry], username: str | None) -> int:
        """Files first (online file and older versions, then the copies on other areas), then
        the rows: a crash in between leaves an entry to erase again, never an orphan row."""
        for batch in _batches(entries, 50):
            ids = [e.id for e in batch]
            files = bin_.binned_files(self.engine, ids)
            in_use = bin_.paths_in_use(self.engine, [f.path for f in files])
            for found in files:
                if found.path not in in_use:
                    self.archive.storage.remove(found.path)
            uids = sorted({f.sop_instance_uid for f in files})
            forgotten = copies.forget(self.engine, self.archive.areas, uids)
            bin_.drop_entries(self.engine, ids)
            for entry in batch:
                record_audit(
                    self.engine,
                    username=username,
                    action="storage.recycle.erased",
                    target=f"study:{entry.study_instance_uid}",
                    detail={"entry_id": entry.id, "level": entry.level, "copies": forgotten},
                )
        if entries:
            log.info("recycle bin: %d entries erased", len(entries))
            self.bus.publish(TOPIC, {"action": "erased", "entries": len(entries)})
        return len(entries)

    # IOCM
    def on_stored(self, _topic: str, payload: dict[str, Any]) -> None:
        """A stored object: when it is a rejection note, take out what it rejects."""
        uid = str(payload.get("sop_instance_uid", ""))
        known = payload.get("sop_class_uid")  # when the archive says it, no look-up is needed
        if known is not None and known != iocm.KeyObjectSelectionDocumentStorage:
            return
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(t.instances.c.sop_class_uid, t.instances.c.path).where(
                    t.instances.c.sop_instance_uid == uid
                )
            ).first()
        if row is None or row.sop_class_uid != iocm.KeyObjectSelectionDocumentStorage:
            return
        note = iocm.read(self.archive.storage.absolute(row.path))
        if note is None:
            return
        entries = self.reject(note)
        log.info(
            "rejection note %s (%s): %d instances to the bin",
            note.sop_instance_uid,
            note.code,
            sum(e.instances for e in entries),
        )


def _batches(items: list[Entry], size: int) -> list[list[Entry]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
