"""Storage commitment: which referenced objects are really, verifiably on disk."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from core_server.archive import tables as t
from core_server.archive.storage import StorageArea

# Failure Reason values of PS3.4 Table J.3-2 (via the Failure Reason attribute).
PROCESSING_FAILURE = 0x0110
NO_SUCH_OBJECT_INSTANCE = 0x0112
CLASS_INSTANCE_CONFLICT = 0x0119


@dataclass(frozen=True)
class Reference:
    sop_class_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class Verdict:
    committed: list[Reference]
    failed: list[tuple[Reference, int]]


def check(conn: Connection, storage: StorageArea, references: Iterable[Reference]) -> Verdict:
    """Commit to an object only when its row exists, its class matches and its file is on disk
    with the size indexed."""
    references = list(references)
    uids = [r.sop_instance_uid for r in references]
    rows = {
        row.sop_instance_uid: row
        for row in conn.execute(
            select(
                t.instances.c.sop_instance_uid,
                t.instances.c.sop_class_uid,
                t.instances.c.path,
                t.instances.c.size,
            ).where(t.instances.c.sop_instance_uid.in_(uids))
        )
    }
    committed: list[Reference] = []
    failed: list[tuple[Reference, int]] = []
    for reference in references:
        row = rows.get(reference.sop_instance_uid)
        if row is None:
            failed.append((reference, NO_SUCH_OBJECT_INSTANCE))
        elif row.sop_class_uid != reference.sop_class_uid:
            failed.append((reference, CLASS_INSTANCE_CONFLICT))
        elif not storage.exists(row.path, row.size):
            failed.append((reference, PROCESSING_FAILURE))
        else:
            committed.append(reference)
    return Verdict(committed, failed)
