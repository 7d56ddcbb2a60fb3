"""The consistency check: index vs online files vs checksums vs copies on other areas.

For each object checked (a random sample, or all of them): its online file is there with the
indexed size, and matches the SHA-256 of a verified copy of the same transfer syntax; an
object marked "not online" still has a verified copy; every copy is still right on its area
(S3: HEAD checksum or a read back; filesystem: read back; a set taken away is skipped). With
``repair``: a missing or corrupt online file is brought back from a verified copy, a bad copy
is written again from a good online file (or marked unverified), a "not online" mark whose
file is still there (a drop cut short) is cleared. Each run is recorded in ``archive_checks``.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from core_server import clock, db
from core_server.archive import copies as c
from core_server.archive import recall as recalling
from core_server.archive import tables as t
from core_server.archive.areas import AreaError, OfflineSet
from core_server.archive.areas import tables as at
from core_server.archive.areas.files import sha256_of
from core_server.archive.areas.registry import Areas
from core_server.refusals import Refusal

log = logging.getLogger(__name__)
PAGE = 500
KEPT_PROBLEMS = 1000  # in the stored report; the counts are whole


@dataclass
class Problem:
    sop_instance_uid: str
    kind: str  # online_missing, online_corrupt, copy_bad, lost, marked_but_online
    area: str = "online"
    detail: str = ""
    repaired: bool = False


@dataclass
class Report:
    id: int
    started_at: datetime
    mode: str
    repair: bool
    finished_at: datetime | None = None
    checked: int = 0
    repaired: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "started_at": clock.iso(self.started_at),
            "finished_at": clock.iso(self.finished_at) if self.finished_at else None,
            "mode": self.mode,
            "repair": self.repair,
            "checked": self.checked,
            "repaired": self.repaired,
            "problems": [asdict(p) for p in self.problems],
        }


def _objects(engine: Engine, sample: int | None) -> Iterator[c.Online]:
    i = t.instances
    columns = (i.c.sop_instance_uid, i.c.path, i.c.size, i.c.transfer_syntax_uid)
    if sample is not None:
        for one in _sampled(engine, columns, sample):
            yield c.Online(one[0], one[1], int(one[2]), one[3], "")
        return
    after = 0
    while True:
        with db.read(engine) as conn:
            rows = conn.execute(
                select(i.c.id, *columns).where(i.c.id > after).order_by(i.c.id).limit(PAGE)
            ).all()
        if not rows:
            return
        for row in rows:
            yield c.Online(row[1], row[2], int(row[3]), row[4], "")
        after = rows[-1][0]


def _sampled(engine: Engine, columns: tuple[Any, ...], sample: int) -> list[Any]:
    """About ``sample`` distinct random objects by random ids drawn between the lowest and highest
    (index lookups: no sort of the whole table, as ORDER BY random() would do)."""
    i = t.instances
    with db.read(engine) as conn:
        low, high = conn.execute(select(func.min(i.c.id), func.max(i.c.id))).one()
        if low is None:
            return []
        if high - low + 1 <= sample:
            return list(conn.execute(select(*columns)).all())
        picked: dict[str, Any] = {}
        for _ in range(4):  # ids freed by deletions leave gaps: a few more draws
            wanted = random.sample(range(low, high + 1), min(2 * sample, high - low + 1))
            for batch in range(0, len(wanted), PAGE):
                ids = wanted[batch : batch + PAGE]
                for row in conn.execute(select(*columns).where(i.c.id.in_(ids))):
                    picked.setdefault(row[0], row)
            if len(picked) >= sample:
                break
    return list(picked.values())[:sample]


def run(
    engine: Engine,
    registry: Areas,
    *,
    sample: int | None = None,
    repair: bool = False,
    stopping: Callable[[], bool] = lambda: False,
) -> Report:
    """Check ``sample`` random objects (None: every object); see the module's text."""
    mode = "full" if sample is None else "sample"
    report = Report(0, clock.now(), mode, repair)
    with db.write(engine) as conn:
        report.id = int(
            conn.execute(
                insert(at.archive_checks)
                .values(started_at=report.started_at, mode=mode, repair=repair)
                .returning(at.archive_checks.c.id)
            ).scalar_one()
        )
    problems: list[Problem] = []
    for entry in _objects(engine, sample):
        if stopping():
            break
        problems += check_one(engine, registry, entry, repair)
        report.checked += 1
    report.problems = problems
    report.repaired = sum(p.repaired for p in problems)
    report.finished_at = clock.now()
    _save(engine, report)
    return report


def _save(engine: Engine, report: Report) -> None:
    kept = [asdict(p) for p in report.problems[:KEPT_PROBLEMS]]
    with db.write(engine) as conn:
        conn.execute(
            update(at.archive_checks)
            .where(at.archive_checks.c.id == report.id)
            .values(
                finished_at=report.finished_at,
                checked=report.checked,
                repaired=report.repaired,
                problems=json.dumps(kept, ensure_ascii=False),
            )
        )


def last(engine: Engine) -> Report | None:
    k = at.archive_checks
    with db.read(engine) as conn:
        row = conn.execute(select(k).order_by(k.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    return Report(
        int(row["id"]),
        row["started_at"],
        row["mode"],
        bool(row["repair"]),
        row["finished_at"],
        int(row["checked"]),
        int(row["repaired"]),
        [Problem(**p) for p in json.loads(row["problems"])],
    )


def check_one(engine: Engine, registry: Areas, entry: c.Online, repair: bool) -> list[Problem]:
    uid = entry.sop_instance_uid
    copies = c.copies_of(engine, uid)
    problems = _copies_state(registry, copies)
    good = [x for x in copies if x.verified and not _bad(problems, x.area)]
    if c.not_online(engine, [uid]):
        problems += _not_online(engine, registry, entry, good, repair)
    else:
        problems += _online(engine, registry, entry, good, repair)
    if repair:
        for problem in problems:
            if problem.kind == "copy_bad" and not problem.repaired:
                problem.repaired = _repair_copy(engine, registry, uid, problem.area)
    return problems


def _bad(problems: list[Problem], area: str) -> bool:
    return any(p.kind == "copy_bad" and p.area == area for p in problems)


def _copies_state(registry: Areas, copies: list[c.Copy]) -> list[Problem]:
    problems = []
    for copy in copies:
        try:
            if not registry.get(copy.area).check(copy.key, copy.size, copy.sha256):
                problems.append(Problem(copy.sop_instance_uid, "copy_bad", copy.area, copy.key))
        except OfflineSet:
            continue  # taken away: checked when it comes back
        except (AreaError, OSError, Refusal) as e:
            problems.append(Problem(copy.sop_instance_uid, "copy_bad", copy.area, str(e)))
    return problems


def _not_online(
    engine: Engine, registry: Areas, entry: c.Online, good: list[c.Copy], repair: bool
) -> list[Problem]:
    uid = entry.sop_instance_uid
    if registry.online.exists(entry.path, entry.size):  # a drop cut short before the unlink
        problem = Problem(uid, "marked_but_online", detail=entry.path)
        if repair:
            with db.write(engine) as conn:
                c.mark_online(conn, uid, entry.size, entry.transfer_syntax_uid)
            problem.repaired = True
        return [problem]
    if not good:
        return [Problem(uid, "lost", detail="not online and no good verified copy")]
    return []


def _online(
    engine: Engine, registry: Areas, entry: c.Online, good: list[c.Copy], repair: bool
) -> list[Problem]:
    uid = entry.sop_instance_uid
    path = registry.online.absolute(entry.path)
    if not registry.online.exists(entry.path, entry.size):
        kind = "online_corrupt" if path.exists() else "online_missing"
        problem = Problem(uid, kind, detail=entry.path)
    else:
        same = [x for x in good if x.transfer_syntax_uid == entry.transfer_syntax_uid]
        if not same or same[0].size != entry.size or sha256_of(path) == same[0].sha256:
            return []
        problem = Problem(uid, "online_corrupt", detail="checksum differs from its copies")
    if repair and good:
        try:
            problem.repaired = recalling.restore(engine, registry, uid, force=True)
        except (AreaError, OSError, Refusal) as e:
            problem.detail += f"; repair failed: {e}"
    return [problem]


def _repair_copy(engine: Engine, registry: Areas, uid: str, area: str) -> bool:
    """Write a bad copy again from the online file (when that is right), else unverify it."""
    try:
        with db.read(engine) as conn:
            entry = c.instance(conn, uid)
        if not c.not_online(engine, [uid]) and registry.online.exists(entry.path, entry.size):
            return c.copy_to(engine, registry, uid, area).verified
    except (AreaError, OSError, Refusal) as e:
        log.warning("copy of %s on %s not repaired: %s", uid, area, e)
    c.verify(engine, registry, uid, area)  # marks it unverified
    return False
