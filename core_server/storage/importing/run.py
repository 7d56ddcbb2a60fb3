"""Storing an import session's files once every foreign patient is decided: each DICOM
object made ours (:func:`core_server.archive.importer.coerce`: our Patient ID, the foreign
one kept in Other Patient IDs, new UIDs on request with the mapping kept), each picture or
PDF wrapped for its exam, all through the one ingest path with an ``import`` origin; then
the studies linked to the chosen exams (``Ris.link_study``, the emergency reconciliation's
path). Re-running an interrupted session stores what is left: the same bytes again are
duplicates (the coercion's time is the session's, the re-keyed UIDs are kept)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydicom.uid import generate_uid
from sqlalchemy import Engine, insert, select, update

from core_server import db
from core_server.archive import Archive
from core_server.archive.importer import Coercion, as_part10, coerce
from core_server.archive.ingest import Origin
from core_server.archive.objects import InvalidObject
from core_server.refusals import Refusal
from core_server.storage.importing import wrap
from core_server.storage.importing.tables import storage_import_files as files_t
from core_server.storage.importing.tables import storage_import_uids as uids_t

log = logging.getLogger(__name__)


class UidMap:
    """Foreign UID -> ours for one session's re-keyed patients: known UIDs only (those the
    scan found), made once and kept in ``storage_import_uids``."""

    def __init__(self, engine: Engine, session_id: int, levels: dict[str, str]) -> None:
        self.engine, self.session_id, self.levels = engine, session_id, levels
        with db.read(engine) as conn:
            self.known = {
                r.foreign_uid: r.our_uid
                for r in conn.execute(select(uids_t).where(uids_t.c.session_id == session_id))
            }

    def __call__(self, uid: str) -> str | None:
        if uid in self.known:
            return self.known[uid]
        level = self.levels.get(uid)
        if level is None:
            return None
        ours = generate_uid()
        with db.write(self.engine) as conn:
            conn.execute(
                insert(uids_t).values(
                    session_id=self.session_id, level=level, foreign_uid=uid, our_uid=ours
                )
            )
        self.known[uid] = ours
        return ours


@dataclass
class Plan:
    """What the run needs, made by the service from the decisions."""

    session_id: int
    root: Path
    when: datetime  # the session's creation: the coercion's recorded time
    coercions: dict[int, Coercion | None]  # patient row -> how (None: stored as it is)
    document_identity: Callable[[int], dict[str, str]]  # exam id -> wrapped objects' identity


def store_all(engine: Engine, archive: Archive, plan: Plan, progress: Callable[[], None]) -> None:
    origin = Origin("import", remote=f"import-session:{plan.session_id}")
    with db.read(engine) as conn:
        rows = list(
            conn.execute(
                select(files_t)
                .where(
                    files_t.c.session_id == plan.session_id,
                    files_t.c.state.in_(("pending", "failed")),
                )
                .order_by(files_t.c.id)
            )
        )
    series: dict[int, str] = {}  # exam id -> the series its wrapped documents go into
    for row in rows:
        try:
            data = _object_of(row, plan, series, int(row.id))
            if data is None:
                _mark(engine, row.id, "skipped")
                continue
            stored = archive.store_instance(data, origin)
            state = "duplicate" if stored.outcome == "duplicate" else "stored"
            _mark(engine, row.id, state, stored.sop_instance_uid, study=stored.study_instance_uid)
        except (InvalidObject, Refusal, OSError, ValueError, wrap.NotAPicture) as exc:
            log.warning("import session %s: %s failed: %s", plan.session_id, row.path, exc)
            _mark(engine, row.id, "failed", error=str(exc)[:2000])
        progress()


def _object_of(row: Any, plan: Plan, series: dict[int, str], number: int) -> bytes | None:
    path = plan.root / row.path
    if row.kind == "dicom":
        if row.patient_row not in plan.coercions:
            return None  # the registrar chose to skip this patient
        data = as_part10(path.read_bytes())
        coercion = plan.coercions[row.patient_row]
        if data is None or coercion is None:
            return data
        return coerce(data, coercion, plan.when)
    if row.kind in ("picture", "pdf") and row.exam_id is not None:
        identity = plan.document_identity(int(row.exam_id))
        # UIDs, number and time from the session and the file: a rerun makes the same bytes
        # (a duplicate, not a second copy) of a document stored before a crash.
        session = f"import-session:{plan.session_id}"
        series_uid = series.setdefault(
            int(row.exam_id), generate_uid(entropy_srcs=[session, f"exam:{row.exam_id}"])
        )
        make = wrap.picture if row.kind == "picture" else wrap.pdf
        return make(
            path,
            identity,
            series_uid=series_uid,
            sop_uid=generate_uid(entropy_srcs=[session, f"file:{row.id}"]),
            number=number,
            when=plan.when,
        )
    return None


def _mark(
    engine: Engine,
    row_id: int,
    state: str,
    stored_uid: str = "",
    *,
    study: str = "",
    error: str = "",
) -> None:
    values: dict[str, Any] = {"state": state, "error": error}
    if stored_uid:
        values["stored_uid"] = stored_uid
    if study:
        values["study_instance_uid"] = study
    # Not durable: a state lost in a crash is found again by the rerun (a duplicate).
    with db.write(engine, durable=False) as conn:
        conn.execute(update(files_t).where(files_t.c.id == row_id).values(**values))


def stored_studies(engine: Engine, session_id: int, patient_row: int) -> list[str]:
    """The studies (their UIDs with us) a patient's objects were stored in."""
    with db.read(engine) as conn:
        return sorted(
            {
                uid
                for (uid,) in conn.execute(
                    select(files_t.c.study_instance_uid).where(
                        files_t.c.session_id == session_id,
                        files_t.c.patient_row == patient_row,
                        files_t.c.state.in_(("stored", "duplicate")),
                    )
                )
            }
        )
