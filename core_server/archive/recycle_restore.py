"""Restore from the recycle bin (see :mod:`core_server.archive.recycle`): the rows go back
under their old ids where those are free; a series, study or patient that arrived again
meanwhile is joined and the references follow; a parent a later deletion moved comes back
from that entry's copy."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, Table, insert, select

from core_server import db
from core_server.archive import tables as t
from core_server.archive.recycle import (
    TABLES,
    Entry,
    drop,
    entry_in,
    loaded,
    recycle_bin_rows,
)
from core_server.refusals import Conflict


def restore(engine: Engine, entry_id: int) -> Entry:
    """Put an entry's rows back (old ids where free, parents that came back meanwhile joined)
    and drop the entry. Conflict when one of its SOP Instance UIDs is stored again."""
    with db.write(engine) as conn:
        entry = entry_in(conn, entry_id)
        saved = conn.execute(
            select(recycle_bin_rows).where(recycle_bin_rows.c.entry_fk == entry_id)
        ).all()
        instances = [json.loads(r.data) for r in saved if r.kind == "instance"]
        for batch in _chunks(instances):
            again = conn.execute(
                select(t.instances.c.sop_instance_uid)
                .where(t.instances.c.sop_instance_uid.in_([d["sop_instance_uid"] for d in batch]))
                .limit(1)
            ).scalar()
            if again is not None:
                raise Conflict("storage.recycle.restore_conflict", sop_instance_uid=again)
        rows = _Restorer(conn, {(r.kind, r.row_id): json.loads(r.data) for r in saved})
        for batch in _chunks(instances):
            rows.instances(batch)
        drop(conn, [entry_id])
    return entry


class _Restorer:
    """Puts saved rows back, parents first, remembering each old id's id now."""

    PARENT: ClassVar[dict[str, tuple[str, str]]] = {
        "study": ("patient_fk", "patient"),
        "series": ("study_fk", "study"),
    }

    def __init__(self, conn: Connection, saved: dict[tuple[str, int], dict[str, Any]]) -> None:
        self.conn = conn
        self.saved = saved
        self.ids: dict[tuple[str, int], int] = {}

    def instances(self, batch: list[dict[str, Any]]) -> None:
        """One INSERT for a batch; an old id another row took meanwhile (SQLite may hand a
        deleted largest id out again) is left to the database."""
        taken = set(
            self.conn.execute(
                select(t.instances.c.id).where(t.instances.c.id.in_([d["id"] for d in batch]))
            ).scalars()
        )
        values = []
        for data in batch:
            row = loaded(t.instances, data)
            row["series_fk"] = self.resolve("series", int(data["series_fk"]))
            if row["id"] in taken:
                self._insert(t.instances, {k: v for k, v in row.items() if k != "id"})
            else:
                values.append(row)
        if values:
            self.conn.execute(insert(t.instances), values)

    def resolve(self, kind: str, old_id: int) -> int:
        key = (kind, old_id)
        if key in self.ids:
            return self.ids[key]
        table = TABLES[kind]
        present = self.conn.execute(select(table.c.id).where(table.c.id == old_id)).scalar()
        data = self.saved.get(key)
        if data is None and present is not None:
            self.ids[key] = old_id  # never moved: it is still there
            return old_id
        if data is None:
            data = self._saved_elsewhere(kind, old_id)
        values = loaded(table, data)
        if kind in self.PARENT:
            fk, parent = self.PARENT[kind]
            values[fk] = self.resolve(parent, int(data[fk]))
        found = self.conn.execute(select(table.c.id).where(*_natural_key(kind, values))).scalar()
        if found is None:
            if present is not None:  # its old id went to another row meanwhile
                values.pop("id")
            found = self._insert(table, values)
        self.ids[key] = int(found)
        return int(found)

    def _saved_elsewhere(self, kind: str, old_id: int) -> dict[str, Any]:
        """A parent moved by a later deletion (its other children deleted after these)."""
        data = self.conn.execute(
            select(recycle_bin_rows.c.data)
            .where(recycle_bin_rows.c.kind == kind, recycle_bin_rows.c.row_id == old_id)
            .order_by(recycle_bin_rows.c.id.desc())
            .limit(1)
        ).scalar()
        if data is None:
            raise Conflict("storage.recycle.parent_lost", kind=kind, row_id=old_id)
        loaded: dict[str, Any] = json.loads(data)
        return loaded

    def _insert(self, table: Table, values: dict[str, Any]) -> int:
        key = self.conn.execute(insert(table).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])


def _natural_key(kind: str, values: dict[str, Any]) -> list[Any]:
    if kind == "patient":
        return [
            t.patients.c.patient_id == values["patient_id"],
            t.patients.c.issuer_of_patient_id == values.get("issuer_of_patient_id", ""),
        ]
    if kind == "study":
        return [t.studies.c.study_instance_uid == values["study_instance_uid"]]
    return [t.series.c.series_instance_uid == values["series_instance_uid"]]


def _chunks(items: list[dict[str, Any]], size: int = 500) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
