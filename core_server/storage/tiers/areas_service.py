"""The tiers part's service (docs/storage-tiers.md): the admin's areas, where a study's
objects have copies, a study's recall in the background, the consistency check."""

from __future__ import annotations

import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core_server import db
from core_server.archive import Archive
from core_server.archive import copies as c
from core_server.archive import recall as recalling
from core_server.archive.areas import ONLINE, AreaSpec
from core_server.events import EventBus
from core_server.queueing import journal
from core_server.refusals import Invalid, NotFound, Refusal
from core_server.storage.tiers import integrity

log = logging.getLogger(__name__)
_SPEC_FIELDS = {f.name for f in fields(AreaSpec)} - {"created_at", "updated_at"}


class Tiers:
    def __init__(self, engine: Engine, archive: Archive, bus: EventBus) -> None:
        self.engine = engine
        self.archive = archive
        self.areas = archive.areas
        self.bus = bus
        self.check = integrity.Checker(engine, archive.areas)
        self._recalls: dict[str, dict[str, Any]] = {}  # study -> its last recall event
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="recall")
        bus.subscribe(recalling.TOPIC, self._journal_recall)
        # Every node's GET .../copies shows a recall that runs on another node.
        bus.subscribe(recalling.TOPIC, self._note_recall, remote=True)

    # -- areas
    def online_area(self) -> dict[str, object]:
        return {
            "name": ONLINE,
            "kind": "online",
            "location": str(self.archive.storage.root),
            "rank": 0,
            "built_in": True,
        }

    def list_areas(self) -> list[dict[str, object]]:
        return [self.online_area()] + [s.public() for s in self.areas.specs()]

    def usage(self) -> list[dict[str, object]]:
        """Each area with what it holds (copies, verified, bytes; the online area's disk and
        objects), an offline area's sets with whether each is there to read (mounted)."""
        held = c.held(self.engine)
        root = self.archive.storage.root
        disk = shutil.disk_usage(root if root.exists() else root.parent)
        online = {
            **self.online_area(),
            "objects": self.archive.count("IMAGE", {}),
            "not_online": c.count_not_online(self.engine),
            "disk_used": disk.used,
            "disk_total": disk.total,
        }
        found: list[dict[str, object]] = [online]
        for spec in self.areas.specs():
            mine = [h for h in held if h.area == spec.name]
            entry: dict[str, object] = {
                **spec.public(),
                "copies": sum(h.copies for h in mine),
                "verified": sum(h.verified for h in mine),
                "bytes": sum(h.bytes for h in mine),
            }
            if spec.kind == "offline":
                label = spec.label or "SET-0001"
                labels = sorted({h.volume for h in mine if h.volume} | {label})
                entry["sets"] = [_set(spec.location, x, label, mine) for x in labels]
            found.append(entry)
        return found

    def create_area(self, values: dict[str, Any]) -> dict[str, object]:
        unknown = set(values) - _SPEC_FIELDS
        if unknown:
            raise Invalid("storage.tiers.area_field", field=", ".join(sorted(unknown)))
        return self.areas.create(AreaSpec(**values)).public()

    def update_area(self, name: str, changes: dict[str, Any]) -> dict[str, object]:
        if name == ONLINE:
            raise Invalid("storage.tiers.area_online")
        return self.areas.update(name, changes).public()

    def delete_area(self, name: str) -> None:
        if name == ONLINE:
            raise Invalid("storage.tiers.area_online")
        self.areas.delete(name)

    # -- copies and recall
    def _study_objects(self, study_uid: str) -> list[str]:
        uids = [
            a["SOPInstanceUID"] for a in self.archive.find("IMAGE", {"StudyInstanceUID": study_uid})
        ]
        if not uids:
            raise NotFound("storage.tiers.study_unknown", study_instance_uid=study_uid)
        return uids

    def study_copies(self, study_uid: str) -> dict[str, object]:
        uids = self._study_objects(study_uid)
        gone = c.not_online(self.engine, uids)
        held = c.copies_of_many(self.engine, uids)
        with self._lock:
            recall = self._recalls.get(study_uid)
        return {
            "study_instance_uid": study_uid,
            "objects": len(uids),
            "online": len(uids) - len(gone),
            "recall": recall,
            "instances": [
                {
                    "sop_instance_uid": uid,
                    "online": uid not in gone,
                    "copies": [x.as_json() for x in held.get(uid, [])],
                }
                for uid in uids
            ],
        }

    def nearline(self, study_uids: list[str]) -> dict[str, dict[str, object]]:
        """Of these studies, those not wholly online: objects, how many online, the last
        recall event (the study list shows them as nearline or "retrieving n/N")."""
        found = c.studies_not_online(self.engine, study_uids)
        with self._lock:
            recalls = {uid: self._recalls.get(uid) for uid in found}
        return {
            uid: {"objects": objects, "online": online, "recall": recalls[uid]}
            for uid, (objects, online) in found.items()
        }

    def recall_study(self, study_uid: str) -> dict[str, object]:
        """Start bringing a study back online; the answer says how many objects come back
        (0: all online already) and ``archive.recall`` events follow its progress."""
        uids = self._study_objects(study_uid)
        gone = c.not_online(self.engine, uids)
        if not gone:
            return {"study_instance_uid": study_uid, "state": "online", "total": 0}
        state = {"study_instance_uid": study_uid, "state": "retrieving", "total": len(gone)}
        with self._lock:
            self._recalls[study_uid] = {**state, "done": 0}
        self._pool.submit(self._recall, study_uid, sorted(gone))
        return state

    def _recall(self, study_uid: str, uids: list[str]) -> None:
        try:
            self.archive.recall(uids, study_instance_uid=study_uid)
        except Refusal as e:
            log.warning("recall of %s: %s", study_uid, e)
        except Exception:
            log.exception("recall of %s failed", study_uid)

    def _note_recall(self, _topic: str, payload: dict[str, Any]) -> None:
        """Kept for GET .../copies."""
        study = str(payload.get("study_instance_uid") or "")
        if study:
            with self._lock:
                self._recalls[study] = dict(payload)

    def _journal_recall(self, _topic: str, payload: dict[str, Any]) -> None:
        """Written (once, by the recalling node) to the journal that /api/ws pushes."""
        try:
            with db.write(self.engine) as conn:
                event = journal.append(conn, recalling.TOPIC, {"recall": payload})
            self.bus.publish(journal.TOPIC, {"seq": event.seq, "events": [event]})
        except Exception:
            log.exception("recall event not journalled")

    def start(self) -> None:
        self.check.start()

    def stop(self) -> None:
        self.check.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _set(location: str, label: str, current: str, held: list[c.Held]) -> dict[str, object]:
    """One offline set: its copies, whether it is the one being filled, sealed, and there
    (``present``: its folder is mounted under the area's location, so it can be read)."""
    from core_server.archive.areas import offline

    folder = Path(location) / label
    return {
        "label": label,
        "current": label == current,
        "copies": sum(h.copies for h in held if h.volume == label),
        "bytes": sum(h.bytes for h in held if h.volume == label),
        "sealed": (folder / offline.MANIFEST).exists(),
        "present": folder.is_dir(),
    }


def seal_set(service: Tiers, name: str, next_label: str) -> dict[str, object]:
    """Close an offline area's current set: its manifest is written (what is on it, sizes,
    checksums) and new copies go to ``next_label``; the sealed set can be taken away."""
    from sqlalchemy import select

    from core_server.archive.areas import offline
    from core_server.archive.areas import tables as at

    spec = service.areas.spec(name)
    if spec.kind != "offline":
        raise Invalid("storage.tiers.area_kind", kind=spec.kind)
    label = spec.label or "SET-0001"
    if next_label == label:
        raise Invalid("storage.tiers.area_label", label=next_label)
    k = at.archive_copies
    with db.read(service.engine) as conn:
        rows = conn.execute(
            select(k.c.sop_instance_uid, k.c.key, k.c.size, k.c.sha256).where(
                (k.c.area == name) & (k.c.volume == label)
            )
        ).all()
    entries: list[dict[str, object]] = [
        {"sop_instance_uid": r[0], "key": r[1], "size": int(r[2]), "sha256": r[3]} for r in rows
    ]
    manifest = offline.seal(Path(spec.location), label, entries)
    service.areas.update(name, {"label": next_label})
    return {"sealed": label, "objects": len(entries), "manifest": str(manifest), "next": next_label}
