"""Import sessions' rows: opening one from a scanned source, reading it back for the page,
recording the registrar's decision per foreign patient. The storing is in :mod:`.run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from core_server import clock, names
from core_server.refusals import Conflict, NotFound
from core_server.storage.importing.scan import Found
from core_server.storage.importing.tables import (
    storage_import_files as files_t,
)
from core_server.storage.importing.tables import (
    storage_import_patients as patients_t,
)
from core_server.storage.importing.tables import (
    storage_import_sessions as sessions_t,
)

DECISIONS = ("pending", "match", "keep", "skip")


def insert_session(
    conn: Connection, root: Path, found: Found, *, kind: str, label: str, username: str
) -> int:
    session_id = conn.execute(
        insert(sessions_t).values(
            source=str(root),
            kind=kind,
            label=label[:128],
            state="scanned",
            created_by=username,
            created_at=clock.now(),
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    rows: dict[tuple[str, str, str], int] = {}
    for key, patient in found.patients.items():
        rows[key] = conn.execute(
            insert(patients_t).values(
                session_id=session_id,
                foreign_id=patient.patient_id[:64],
                foreign_issuer=patient.issuer[:64],
                foreign_name=patient.name[:324],
                birth_date=patient.birth_date[:8],
                sex=patient.sex[:16],
                studies=json.dumps(list(patient.studies.values()), ensure_ascii=False),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    if found.files:
        conn.execute(
            insert(files_t),
            [
                {
                    "session_id": session_id,
                    "patient_row": rows.get(f.patient) if f.patient else None,
                    "path": f.path,
                    "kind": f.kind,
                    "sop_instance_uid": f.sop_instance_uid[:64],
                    "study_instance_uid": f.study_instance_uid[:64],
                    "size": f.size,
                    "state": "pending" if f.kind != "other" else "skipped",
                }
                for f in found.files
            ],
        )
    return int(session_id)


def session_row(conn: Connection, session_id: int) -> Any:
    row = conn.execute(select(sessions_t).where(sessions_t.c.id == session_id)).first()
    if row is None:
        raise NotFound("storage.importing.session_not_found", session_id=session_id)
    return row


def patient_row(conn: Connection, session_id: int, row_id: int) -> Any:
    row = conn.execute(
        select(patients_t).where(patients_t.c.id == row_id, patients_t.c.session_id == session_id)
    ).first()
    if row is None:
        raise NotFound("storage.importing.patient_not_found", patient=row_id)
    return row


def patients_of(conn: Connection, session_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(patients_t)
            .where(patients_t.c.session_id == session_id)
            .order_by(patients_t.c.id)
        )
    )


def describe(conn: Connection, session_id: int) -> dict[str, Any]:
    """A session as the page and the REST API show it: the source, the state, the counts of
    files by state, each foreign patient (the three forms of the name, never a ``^``) with
    the studies found and the decision taken, and the pictures/PDFs found."""
    row = session_row(conn, session_id)
    counts = {
        state: int(n)
        for state, n in conn.execute(
            select(files_t.c.state, func.count())
            .where(files_t.c.session_id == session_id)
            .group_by(files_t.c.state)
        )
    }
    documents = [
        {"id": r.id, "path": r.path, "kind": r.kind, "exam_id": r.exam_id, "state": r.state}
        for r in conn.execute(
            select(files_t)
            .where(files_t.c.session_id == session_id, files_t.c.kind.in_(("picture", "pdf")))
            .order_by(files_t.c.id)
        )
    ]
    failed = [
        {"path": r.path, "error": r.error}
        for r in conn.execute(
            select(files_t.c.path, files_t.c.error)
            .where(files_t.c.session_id == session_id, files_t.c.state == "failed")
            .limit(50)
        )
    ]
    return {
        "id": row.id,
        "source": row.source,
        "kind": row.kind,
        "label": row.label,
        "state": row.state,
        "created_by": row.created_by,
        "created_at": clock.iso(row.created_at),
        "finished_at": clock.iso(row.finished_at) if row.finished_at else None,
        "error": row.error,
        "files": counts,
        "patients": [patient_view(p) for p in patients_of(conn, session_id)],
        "documents": documents,
        "failed": failed,
    }


def patient_view(row: Any) -> dict[str, Any]:
    name = names.PersonName.parse(row.foreign_name)
    return {
        "id": row.id,
        "foreign_id": row.foreign_id,
        "foreign_issuer": row.foreign_issuer,
        "name": name.display(),
        "name_pinyin": name.pinyin().replace("^", " ") if name.ideographic else "",
        "name_dicom": name.dicom(),
        "birth_date": row.birth_date,
        "sex": row.sex,
        "studies": json.loads(row.studies),
        "decision": row.decision,
        "patient_id": row.patient_id,
        "issuer": row.issuer,
        "exam_id": row.exam_id,
        "rekey": bool(row.rekey),
        "decided_by": row.decided_by,
    }


def record_decision(
    conn: Connection, session_id: int, row_id: int, values: dict[str, Any], username: str
) -> None:
    if session_row(conn, session_id).state == "running":
        raise Conflict("storage.importing.running", session_id=session_id)
    patient_row(conn, session_id, row_id)
    conn.execute(
        update(patients_t).where(patients_t.c.id == row_id).values(**values, decided_by=username)
    )


def sessions(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(select(sessions_t).order_by(sessions_t.c.id.desc()).limit(limit))
    return [
        {
            "id": r.id,
            "source": r.source,
            "kind": r.kind,
            "label": r.label,
            "state": r.state,
            "created_by": r.created_by,
            "created_at": clock.iso(r.created_at),
        }
        for r in rows
    ]


def set_state(conn: Connection, session_id: int, state: str, error: str = "") -> None:
    values: dict[str, Any] = {"state": state, "error": error}
    if state in ("done", "failed"):
        values["finished_at"] = clock.now()
    conn.execute(update(sessions_t).where(sessions_t.c.id == session_id).values(**values))
