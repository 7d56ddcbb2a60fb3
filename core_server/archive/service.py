"""The archive's public face: what adapters and other domains call."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from core_server import clock, db
from core_server.archive import (
    commitment,
    copies,
    corrections,
    ingest,
    late_arrivals,
    query,
    recycle,
)
from core_server.archive import recall as recalling
from core_server.archive import tables as t
from core_server.archive.areas.registry import Areas
from core_server.archive.commitment import Verdict
from core_server.archive.corrections import Correction, Version
from core_server.archive.storage import Incoming, StorageArea
from core_server.events import EventBus

log = logging.getLogger(__name__)
RETRIEVE_KEYS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
RETRIEVED = "archive.retrieved"  # {"study_instance_uids": [...]}: a retrieve read them
RETRIEVED_EVERY = 60.0  # seconds: a study's retrieve is told at most once a minute


@dataclass(frozen=True)
class InstanceFile:
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    path: Path
    size: int
    study_instance_uid: str = ""  # what a transfer out is audited under


class Archive:
    def __init__(self, engine: Engine, storage_dir: Path, bus: EventBus | None = None) -> None:
        self.engine = engine
        self.storage = StorageArea(storage_dir)
        self.bus = bus or EventBus()
        # The other storage areas (docs/storage-tiers.md); copies and recall go through it.
        self.areas = Areas(engine, self.storage)
        self._retrieved: dict[str, float] = {}  # study -> when its retrieve was last told

    def store_instance(self, data: bytes, origin: ingest.Origin) -> ingest.Stored:
        """Store the bytes of a Part 10 object; see :mod:`core_server.archive.ingest`."""
        return self.store_file(self.storage.receive(data), origin)

    def incoming(self) -> Incoming:
        """A new object arriving, written as its bytes come (a C-STORE's fragments): see
        :class:`~core_server.archive.storage.Incoming`; then :meth:`store_file`."""
        return self.storage.incoming_file()

    def new_incoming(self) -> Path:
        """The same agreement for a writer that opens the file itself (STOW-RS's multipart
        parser): a new empty file in the incoming folder, for :meth:`store_file`; the writer
        removes it if it never gets there (:meth:`discard_incoming`)."""
        return self.storage.incoming_file().close()

    def discard_incoming(self, paths: Iterable[Path]) -> None:
        """Remove incoming files that were not handed to :meth:`store_file` (or were refused)."""
        for path in paths:
            Path(path).unlink(missing_ok=True)

    def store_file(self, incoming: Path | Incoming, origin: ingest.Origin) -> ingest.Stored:
        """The single ingest path: a Part 10 file in :attr:`StorageArea.incoming` is checked,
        made durable and indexed, or refused and removed. Raises
        :class:`~core_server.archive.InvalidObject` for an object it cannot index,
        :class:`~core_server.archive.ReplaceRefused` for a different object under a stored
        SOP Instance UID from an origin that may not replace it, ``OSError`` (a full disk) or
        a database error when it could not store it; in every case nothing is left behind."""
        if isinstance(incoming, Incoming):
            incoming = incoming.close()
        stored = ingest.store_file(self.engine, self.storage, incoming, origin)
        if stored.outcome != "duplicate":
            stored = self._follow_up(stored)
            self.bus.publish(
                "archive.instance_stored",
                {
                    "sop_instance_uid": stored.sop_instance_uid,
                    "series_instance_uid": stored.series_instance_uid,
                    "study_instance_uid": stored.study_instance_uid,
                    "sop_class_uid": stored.sop_class_uid,
                    "outcome": stored.outcome,
                    "channel": origin.channel,
                    "ae_title": origin.ae_title,
                },
            )
        return stored

    def find(
        self,
        level: query.Level | str,
        keys: Mapping[str, str],
        *,
        limit: int | None = None,
        offset: int = 0,
        fuzzy: bool = False,
    ) -> Iterator[dict[str, Any]]:
        with db.read(self.engine) as conn:
            yield from query.find(conn, level, keys, limit=limit, offset=offset, fuzzy=fuzzy)

    def count(self, level: query.Level | str, keys: Mapping[str, str], fuzzy: bool = False) -> int:
        with db.read(self.engine) as conn:
            return query.count(conn, level, keys, fuzzy)

    def locate(self, keys: Mapping[str, str], *, retrieve: bool = False) -> list[InstanceFile]:
        """The stored files a retrieve (C-MOVE, C-GET, WADO, discs) names by its unique keys,
        each with a local path: objects whose online file was removed are recalled first
        (``archive.recall`` events say "retrieving"); raises
        :class:`~core_server.archive.areas.OfflineSet` when one is only on a set taken away.
        ``retrieve``: someone reads the study (not the core's own look-ups), which the
        lifecycle's "oldest-read first" hears as ``archive.retrieved``."""
        unique = {k: str(keys[k]) for k in RETRIEVE_KEYS if keys.get(k)}
        if not unique:
            return []
        answers = list(self.find(query.Level.IMAGE, unique))
        gone = copies.not_online(self.engine, [a["SOPInstanceUID"] for a in answers])
        if gone:
            self._recall(answers, gone)
            answers = list(self.find(query.Level.IMAGE, unique))  # sizes, syntaxes of copies
        if retrieve:
            self._tell_retrieved(answers)
        return [
            InstanceFile(
                answer["SOPClassUID"],
                answer["SOPInstanceUID"],
                answer["_transfer_syntax_uid"],
                self.storage.absolute(answer["_path"]),
                answer["_size"],
                str(answer.get("StudyInstanceUID") or ""),
            )
            for answer in answers
        ]

    def _tell_retrieved(self, answers: list[dict[str, Any]]) -> None:
        """``archive.retrieved`` for the lifecycle's last-read times (oldest-read first): in
        memory only, at most once a minute per study, so a WADO frame storm costs nothing."""
        now = time.monotonic()
        fresh = []
        for study in {str(a.get("StudyInstanceUID") or "") for a in answers} - {""}:
            if now - self._retrieved.get(study, -RETRIEVED_EVERY) >= RETRIEVED_EVERY:
                self._retrieved[study] = now
                fresh.append(study)
        if len(self._retrieved) > 10_000:  # forget the old ones (a long-running core)
            self._retrieved = {
                k: v for k, v in self._retrieved.items() if now - v < RETRIEVED_EVERY
            }
        if fresh:
            self.bus.publish(RETRIEVED, {"study_instance_uids": sorted(fresh)})

    def _recall(self, answers: list[dict[str, Any]], gone: set[str]) -> None:
        by_study: dict[str, list[str]] = {}
        for answer in answers:
            if answer["SOPInstanceUID"] in gone:
                study = str(answer.get("StudyInstanceUID") or "")
                by_study.setdefault(study, []).append(answer["SOPInstanceUID"])
        for study, uids in by_study.items():
            self.recall(uids, study_instance_uid=study)

    def recall(self, sop_uids: Iterable[str], *, study_instance_uid: str = "") -> int:
        """Bring these objects back online (those not online); see
        :mod:`core_server.archive.recall`."""
        return recalling.recall(
            self.engine, self.areas, sop_uids, bus=self.bus, study_instance_uid=study_instance_uid
        )

    def online_file(self, sop_instance_uid: str, relative: str) -> Path:
        """The local file of one object found by :meth:`find` (its ``_path``), recalled first
        if its online file was removed."""
        if copies.not_online(self.engine, [sop_instance_uid]):
            self.recall([sop_instance_uid])
        return self.storage.absolute(relative)

    def commitment(self, references: Iterable[commitment.Reference]) -> commitment.Verdict:
        with db.read(self.engine) as conn:
            verdict = commitment.check(conn, self.storage, references)
        return self._kept_elsewhere(verdict)

    def _kept_elsewhere(self, verdict: Verdict) -> Verdict:
        """An object moved off the online area is still kept when a verified copy holds it."""
        unfiled = [r for r, why in verdict.failed if why == commitment.PROCESSING_FAILURE]
        gone = copies.not_online(self.engine, [r.sop_instance_uid for r in unfiled])
        if not gone:
            return verdict
        held = copies.copies_of_many(self.engine, gone)
        kept = {uid for uid in gone if any(c.verified for c in held.get(uid, []))}
        return Verdict(
            verdict.committed + [r for r in unfiled if r.sop_instance_uid in kept],
            [(r, why) for r, why in verdict.failed if r.sop_instance_uid not in kept],
        )

    def statistics(self) -> dict[str, int]:
        with db.read(self.engine) as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in (
                    ("patients", t.patients),
                    ("studies", t.studies),
                    ("series", t.series),
                    ("instances", t.instances),
                )
            }

    def recover(self, days: int = 2) -> dict[str, int]:
        """After an unclean stop: drop half-written temporary files and index the complete
        files written just before the crash. Only recent day folders are walked, so start-up
        stays quick on a large archive."""
        since = clock.now() - timedelta(days=days)
        partial = self.storage.remove_partial()
        being_corrected = corrections.settle_unfinished(self.engine, self.storage)
        recent = self.storage.walk(since)
        indexed = 0
        if recent:
            with db.read(self.engine) as conn:
                known = {
                    path
                    for (path,) in conn.execute(
                        select(t.instances.c.path).where(t.instances.c.received_at >= since)
                    )
                } | {p for (p,) in conn.execute(select(t.replaced_instances.c.path))}
                known |= recycle.binned_paths(conn)  # deleted: waiting in the bin
            for relative in recent:
                if relative in known or relative in being_corrected:
                    continue
                try:
                    ingest.index_file(self.engine, self.storage, relative)
                    indexed += 1
                except Exception:
                    log.exception("cannot index %s left by an unclean stop", relative)
        return {"partial_removed": partial, "indexed": indexed}

    def verify(self) -> dict[str, list[str]]:
        """Index against storage: rows whose file is gone or has another size (not those moved
        to another area), and files that no row (current or replaced) names."""
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(t.instances.c.path, t.instances.c.size, t.instances.c.sop_instance_uid)
            ).all()
            kept = {p for (p,) in conn.execute(select(t.replaced_instances.c.path))}
            kept |= recycle.binned_paths(conn)  # in the recycle bin, not orphans
        absent = [(path, uid) for path, size, uid in rows if not self.storage.exists(path, size)]
        gone = copies.not_online(self.engine, [uid for _, uid in absent])  # moved, not lost
        missing = [path for path, uid in absent if uid not in gone]
        indexed = {path for path, _, _ in rows} | kept
        orphans = [path for path in self.storage.walk() if path not in indexed]
        return {"missing": missing, "orphans": orphans}

    def _follow_up(self, stored: ingest.Stored) -> ingest.Stored:
        """An object stored after a correction of its study or patient is brought to it (see
        :mod:`core_server.archive.late_arrivals`); it stays stored as sent if that fails."""
        try:
            done = late_arrivals.follow_up(
                self.engine,
                self.storage,
                stored.sop_instance_uid,
                stored.study_instance_uid,
                stored.series_instance_uid,
                stored.last_key,
            )
        except Exception:
            log.exception("object %s could not follow earlier corrections", stored.sop_instance_uid)
            return stored
        if done is None:
            return stored
        self._published(done)
        return replace(stored, study_instance_uid=done.new_study_uids[0])

    def correct(
        self,
        selector: Mapping[str, str | list[str]],
        changes: Mapping[str, str],
        *,
        reason: str,
        username: str,
    ) -> Correction:
        """Correct patient/study attributes of stored objects (rename, merge patients, link a
        study to its exam, split or merge studies); see :mod:`core_server.archive.corrections`.
        Raises :class:`CorrectionError` when refused (nothing changed)."""
        return self._published(
            corrections.correct(
                self.engine, self.storage, selector, changes, reason=reason, username=username
            )
        )

    def _published(self, done: Correction) -> Correction:
        self.bus.publish(
            "archive.corrected",
            {
                "correction_id": done.id,
                "instances": done.instances,
                "old_study_uids": list(done.old_study_uids),
                "new_study_uids": list(done.new_study_uids),
                "old_patients": [list(p) for p in done.old_patients],
                "new_patients": [list(p) for p in done.new_patients],
                "changes": done.changes,
                "username": done.username,
                "reason": done.reason,
            },
        )
        return done

    def corrections(
        self,
        *,
        study_instance_uid: str | None = None,
        patient_id: str | None = None,
        username: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Correction]:
        """Recorded corrections, newest first (filters: a study or patient ID before or after
        the correction, a user, a time)."""
        with db.read(self.engine) as conn:
            return corrections.history(
                conn,
                study_instance_uid=study_instance_uid,
                patient_id=patient_id,
                username=username,
                since=since,
                limit=limit,
                offset=offset,
            )

    def versions(self, sop_instance_uid: str) -> list[Version]:
        """An object's files: the current one first, then the older ones, newest first."""
        with db.read(self.engine) as conn:
            return corrections.versions(conn, self.storage, sop_instance_uid)
