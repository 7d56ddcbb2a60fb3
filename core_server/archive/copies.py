"""Copies of archived objects on other storage areas (docs/storage-tiers.md).

The API the lifecycle parts call (``registry`` is ``Archive.areas``, an
:class:`~core_server.archive.areas.registry.Areas`):

- ``copy_to(engine, registry, sop_uid, area, verify=True) -> Copy``: stream the object's file
  (online, or fetched from its fastest copy) to ``area``, record size, SHA-256 and transfer
  syntax, then check it there and mark it verified.
- ``copies_of(engine, sop_uid) -> list[Copy]``; ``copies_of_many(engine, sop_uids)``.
- ``verify(engine, registry, sop_uid, area) -> bool``: check a copy again (verified_at set
  or cleared).
- ``drop_online(engine, registry, sop_uid, min_verified=1, recheck=True) -> bool``: remove
  the online file only when ``min_verified`` verified copies exist elsewhere (re-checked on
  their areas first with ``recheck``); False, and nothing changed, otherwise.
- ``not_online(engine, sop_uids) -> set[str]``: which of them have no online file.
- ``recall(engine, registry, sop_uids) -> int`` (in :mod:`core_server.archive.recall`).
- ``drop_copy(engine, registry, sop_uid, area) -> str``: erase one copy, never the last
  of an object not online (the rules' retention).
- ``forget(engine, registry, sop_uids) -> int``: erase every other-area copy (the recycle
  bin's erase calls it).

Order of writes, so that a crash (kill -9) anywhere loses nothing: the copy is put durably
before its row is written; its row says verified only after the check; the object is marked
"not online" (committed) only after enough verified copies are counted, and its online file
is removed only after that commit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from core_server import clock, cluster, db
from core_server.archive import tables as t
from core_server.archive.areas import ONLINE, AreaError, OfflineSet
from core_server.archive.areas import tables as at
from core_server.archive.areas.files import sha256_of
from core_server.archive.areas.registry import Areas
from core_server.refusals import Conflict, NotFound

log = logging.getLogger(__name__)
CHUNK = 500  # UIDs per IN (...) query
_LOCKS = [threading.Lock() for _ in range(64)]


@dataclass(frozen=True)
class Copy:
    sop_instance_uid: str
    area: str
    key: str
    size: int
    sha256: str
    transfer_syntax_uid: str
    created_at: datetime
    verified_at: datetime | None
    volume: str = ""  # the offline set it is on

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    def as_json(self) -> dict[str, object]:
        return {
            "area": self.area,
            "key": self.key,
            "volume": self.volume,
            "size": self.size,
            "sha256": self.sha256,
            "transfer_syntax_uid": self.transfer_syntax_uid,
            "created_at": clock.iso(self.created_at),
            "verified_at": clock.iso(self.verified_at) if self.verified_at else None,
        }


@dataclass(frozen=True)
class Online:
    """An object's index entry: where its online file is (or comes back to)."""

    sop_instance_uid: str
    path: str
    size: int
    transfer_syntax_uid: str
    study_instance_uid: str


def lock_of(sop_uid: str) -> threading.Lock:
    """The in-process lock a drop and a recall of the same object take in turn."""
    return _LOCKS[zlib.crc32(sop_uid.encode()) % len(_LOCKS)]


@contextlib.contextmanager
def object_held(engine: Engine, sop_uid: str) -> Iterator[None]:
    """A drop and a recall of one object take turns: in this process, and across the
    cluster's nodes (an advisory lock on PostgreSQL, docs/cluster-state.md)."""
    with lock_of(sop_uid), cluster.held(engine, f"archive-object:{sop_uid}"):
        yield


def _chunks(uids: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for uid in uids:
        batch.append(uid)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def instance(conn: Connection, sop_uid: str) -> Online:
    i, s, st = t.instances, t.series, t.studies
    row = conn.execute(
        select(i.c.path, i.c.size, i.c.transfer_syntax_uid, st.c.study_instance_uid)
        .join(s, s.c.id == i.c.series_fk)
        .join(st, st.c.id == s.c.study_fk)
        .where(i.c.sop_instance_uid == sop_uid)
    ).first()
    if row is None:
        raise NotFound("storage.tiers.instance_unknown", sop_instance_uid=sop_uid)
    return Online(sop_uid, row.path, int(row.size), row.transfer_syntax_uid, row.study_instance_uid)


def _copy(row: object) -> Copy:
    r = row._mapping  # type: ignore[attr-defined]
    return Copy(
        r["sop_instance_uid"],
        r["area"],
        r["key"],
        int(r["size"]),
        r["sha256"],
        r["transfer_syntax_uid"],
        r["created_at"],
        r["verified_at"],
        r["volume"],
    )


def copies_of(engine: Engine, sop_uid: str) -> list[Copy]:
    return copies_of_many(engine, [sop_uid]).get(sop_uid, [])


def copies_of_many(engine: Engine, sop_uids: Iterable[str]) -> dict[str, list[Copy]]:
    c = at.archive_copies
    found: dict[str, list[Copy]] = {}
    with db.read(engine) as conn:
        for batch in _chunks(sop_uids):
            for row in conn.execute(select(c).where(c.c.sop_instance_uid.in_(batch))):
                copy = _copy(row)
                found.setdefault(copy.sop_instance_uid, []).append(copy)
    return found


def not_online(engine: Engine, sop_uids: Iterable[str]) -> set[str]:
    n = at.archive_not_online
    gone: set[str] = set()
    with db.read(engine) as conn:
        for batch in _chunks(sop_uids):
            gone |= set(
                conn.execute(
                    select(n.c.sop_instance_uid).where(n.c.sop_instance_uid.in_(batch))
                ).scalars()
            )
    return gone


def count_not_online(engine: Engine) -> int:
    n = at.archive_not_online
    with db.read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(n)).scalar_one())


def studies_not_online(engine: Engine, study_uids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """For those of these studies with objects whose online file is gone ("nearline"): study
    -> (objects, objects online). Studies wholly online are left out."""
    i, s, st, n = t.instances, t.series, t.studies, at.archive_not_online
    found: dict[str, tuple[int, int]] = {}
    with db.read(engine) as conn:
        for batch in _chunks(study_uids):
            rows = conn.execute(
                select(
                    st.c.study_instance_uid, func.count(i.c.id), func.count(n.c.sop_instance_uid)
                )
                .select_from(
                    st.join(s, s.c.study_fk == st.c.id)
                    .join(i, i.c.series_fk == s.c.id)
                    .outerjoin(n, n.c.sop_instance_uid == i.c.sop_instance_uid)
                )
                .where(st.c.study_instance_uid.in_(batch))
                .group_by(st.c.study_instance_uid)
                .having(func.count(n.c.sop_instance_uid) > 0)
            )
            for uid, objects, gone in rows:
                found[uid] = (int(objects), int(objects) - int(gone))
    return found


@dataclass(frozen=True)
class Held:
    """What one area (or one offline set of it) holds, from the index."""

    area: str
    volume: str
    copies: int
    verified: int
    bytes: int


def held(engine: Engine) -> list[Held]:
    """Copies per area and offline set: how many, how many verified, their bytes."""
    c = at.archive_copies
    with db.read(engine) as conn:
        rows = conn.execute(
            select(
                c.c.area,
                c.c.volume,
                func.count(),
                func.count(c.c.verified_at),
                func.coalesce(func.sum(c.c.size), 0),
            ).group_by(c.c.area, c.c.volume)
        ).all()
    return [Held(a, v or "", int(n), int(ok), int(size)) for a, v, n, ok, size in rows]


def ordered(registry: Areas, copies: Iterable[Copy]) -> list[Copy]:
    """The verified copies, fastest area first."""
    return sorted((c for c in copies if c.verified), key=lambda c: (registry.rank(c.area), c.area))


def fetch(registry: Areas, copies: Iterable[Copy], target: Path) -> Copy:
    """Bring the object from its fastest verified copy that is readable into ``target``,
    its checksum checked; raises OfflineSet when only unmounted sets hold it."""
    offline: dict[str, list[str]] = {}
    errors: list[str] = []
    for copy in ordered(registry, copies):
        try:
            registry.get(copy.area).get(copy.key, target)
            if sha256_of(target) != copy.sha256:
                raise AreaError(f"area {copy.area}: {copy.key} has another checksum")
            return copy
        except OfflineSet:
            offline.setdefault(copy.area, []).append(copy.volume or copy.key.split("/")[0])
        except (AreaError, OSError, NotFound) as e:
            errors.append(str(e))
            log.warning("recall from %s failed: %s", copy.area, e)
    target.unlink(missing_ok=True)
    if offline:
        area, labels = next(iter(offline.items()))
        raise OfflineSet(area, sorted(set(labels)))
    raise Conflict("storage.tiers.no_copy", detail="; ".join(errors) or "no verified copy")


@contextlib.contextmanager
def _source(engine: Engine, registry: Areas, entry: Online) -> Iterator[Path]:
    """A local file of the object: its online file, or one fetched from a copy."""
    if not not_online(engine, [entry.sop_instance_uid]):
        yield registry.online.absolute(entry.path)
        return
    target = registry.online.new_incoming()
    try:
        fetch(registry, copies_of(engine, entry.sop_instance_uid), target)
        yield target
    finally:
        target.unlink(missing_ok=True)


def copy_to(
    engine: Engine, registry: Areas, sop_uid: str, area: str, *, verify: bool = True
) -> Copy:
    """Put the object on ``area`` (a new copy, or the existing one replaced) and record it."""
    if area == ONLINE:
        raise Conflict("storage.tiers.area_online")
    target = registry.get(area)
    if not registry.spec(area).enabled:  # a disabled area takes no new copies; reads go on
        raise Conflict("storage.tiers.area_disabled", name=area)
    with db.read(engine) as conn:
        entry = instance(conn, sop_uid)
    with _source(engine, registry, entry) as path:
        sha = sha256_of(path)
        size = path.stat().st_size
        key = target.put(entry.path, path, sha)
    volume = key.split("/", 1)[0] if target.kind == "offline" else ""
    values = {
        "key": key,
        "volume": volume,
        "size": size,
        "sha256": sha,
        "transfer_syntax_uid": entry.transfer_syntax_uid,
        "created_at": clock.now(),
        "verified_at": None,
    }
    c = at.archive_copies
    where = (c.c.sop_instance_uid == sop_uid) & (c.c.area == area)
    with db.write(engine) as conn:
        old = conn.execute(select(c.c.key).where(where)).scalar()
        if old is None:
            conn.execute(insert(c).values(sop_instance_uid=sop_uid, area=area, **values))
        else:
            conn.execute(update(c).where(where).values(**values))
    if old is not None and old != key:
        with contextlib.suppress(AreaError, OSError):
            target.delete(old)
    if verify:
        _set_verified(engine, sop_uid, area, target.check(key, size, sha))
    return copies_of_one(engine, sop_uid, area)


def copies_of_one(engine: Engine, sop_uid: str, area: str) -> Copy:
    for copy in copies_of(engine, sop_uid):
        if copy.area == area:
            return copy
    raise NotFound("storage.tiers.copy_unknown", sop_instance_uid=sop_uid, area=area)


def _set_verified(engine: Engine, sop_uid: str, area: str, ok: bool) -> None:
    c = at.archive_copies
    with db.write(engine) as conn:
        conn.execute(
            update(c)
            .where((c.c.sop_instance_uid == sop_uid) & (c.c.area == area))
            .values(verified_at=clock.now() if ok else None)
        )


def verify(engine: Engine, registry: Areas, sop_uid: str, area: str) -> bool:
    """Check the copy on its area again: verified now, or marked unverified."""
    copy = copies_of_one(engine, sop_uid, area)
    ok = registry.get(area).check(copy.key, copy.size, copy.sha256)
    _set_verified(engine, sop_uid, area, ok)
    return ok


def _verified_elsewhere(registry: Areas, copies: list[Copy], wanted: int, recheck: bool) -> int:
    good = 0
    for copy in ordered(registry, copies):
        if good >= wanted:
            break
        if not recheck:
            good += 1
            continue
        try:
            if registry.get(copy.area).check(copy.key, copy.size, copy.sha256):
                good += 1
        except OfflineSet:
            good += 1  # a sealed set taken away was verified when written
        except (AreaError, OSError, NotFound) as e:
            log.warning("copy of %s on %s not confirmed: %s", copy.sop_instance_uid, copy.area, e)
    return good


def drop_online(
    engine: Engine, registry: Areas, sop_uid: str, min_verified: int = 1, *, recheck: bool = True
) -> bool:
    """Remove the online file if ``min_verified`` verified copies exist on other areas."""
    min_verified = max(1, min_verified)
    with object_held(engine, sop_uid):
        with db.read(engine) as conn:
            entry = instance(conn, sop_uid)
        if not_online(engine, [sop_uid]):
            return True
        copies = copies_of(engine, sop_uid)
        if _verified_elsewhere(registry, copies, min_verified, recheck) < min_verified:
            return False
        with db.write(engine) as conn:
            conn.execute(
                insert(at.archive_not_online).values(
                    sop_instance_uid=sop_uid, dropped_at=clock.now()
                )
            )
        registry.online.remove(entry.path)
    return True


def drop_copy(engine: Engine, registry: Areas, sop_uid: str, area: str) -> str:
    """Erase the object's copy on ``area`` (the rules' copy retention), never its last one:
    the object must be online or keep another verified copy. The index row goes before the
    file, so a crash leaves at worst an unindexed file on the area, never an index entry
    without its file. Returns a note ("" when erased)."""
    with object_held(engine, sop_uid):
        held = copies_of(engine, sop_uid)
        mine = [c for c in held if c.area == area]
        if not mine:
            return "no copy there any more"
        others = [c for c in held if c.area != area and c.verified]
        if not_online(engine, [sop_uid]) and not others:
            return "kept: the only copy of an object not online"
        c = at.archive_copies
        with db.write(engine) as conn:
            conn.execute(delete(c).where((c.c.sop_instance_uid == sop_uid) & (c.c.area == area)))
        try:
            registry.get(area).delete(mine[0].key)
        except (AreaError, OSError, NotFound) as e:
            log.warning("copy %s on %s unindexed but not erased: %s", mine[0].key, area, e)
    return ""


def mark_online(conn: Connection, sop_uid: str, size: int, transfer_syntax_uid: str) -> None:
    """The online file is back (recall, repair): the index follows the copy it came from."""
    conn.execute(
        update(t.instances)
        .where(t.instances.c.sop_instance_uid == sop_uid)
        .values(size=size, transfer_syntax_uid=transfer_syntax_uid)
    )
    n = at.archive_not_online
    conn.execute(delete(n).where(n.c.sop_instance_uid == sop_uid))


def forget(engine: Engine, registry: Areas, sop_uids: Iterable[str]) -> int:
    """Erase every other-area copy of these objects; a copy whose area refuses stays
    indexed (so that it is not orphaned) and is not counted."""
    uids = list(sop_uids)
    erased = 0
    c = at.archive_copies
    for copies in copies_of_many(engine, uids).values():
        for copy in copies:
            try:
                registry.get(copy.area).delete(copy.key)
            except (AreaError, OSError, NotFound) as e:
                log.warning("copy %s on %s not erased: %s", copy.key, copy.area, e)
                continue
            with db.write(engine) as conn:
                conn.execute(
                    delete(c).where(
                        (c.c.sop_instance_uid == copy.sop_instance_uid) & (c.c.area == copy.area)
                    )
                )
            erased += 1
    n = at.archive_not_online
    with db.write(engine) as conn:
        for batch in _chunks(uids):
            conn.execute(delete(n).where(n.c.sop_instance_uid.in_(batch)))
    return erased


def recall(engine: Engine, registry: Areas, sop_uids: Iterable[str], **kwargs: object) -> int:
    """See :func:`core_server.archive.recall.recall`."""
    from core_server.archive import recall as recalling

    return recalling.recall(engine, registry, sop_uids, **kwargs)  # type: ignore[arg-type]
