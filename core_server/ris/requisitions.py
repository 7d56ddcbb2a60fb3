"""Scanned or photographed paper request forms attached to an exam: PDF, JPEG, PNG, TIFF,
kept under ``<data-dir>/ris/requisitions/YYYY/MM/`` (written, fsynced and renamed into place
before the row is committed)."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from core_server import db
from core_server.ris import exams, records
from core_server.ris.base import RisCore
from core_server.ris.models import NotFound, Requisition, RisError
from core_server.ris.tables import ris_requisitions

# Recognised by their first bytes.
_TYPES = {
    b"%PDF": ("application/pdf", ".pdf"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG": ("image/png", ".png"),
    b"II*\x00": ("image/tiff", ".tif"),
    b"MM\x00*": ("image/tiff", ".tif"),
}
MAX_REQUISITION_BYTES = 20 * 1024 * 1024


def _kind(data: bytes) -> tuple[str, str]:
    """(media type, file extension) of an accepted scan; a refusal otherwise."""
    if not data:
        raise RisError("ris.requisition.empty")
    if len(data) > MAX_REQUISITION_BYTES:
        raise RisError("ris.requisition.too_large", megabytes=MAX_REQUISITION_BYTES >> 20)
    kind = next((v for k, v in _TYPES.items() if data.startswith(k)), None)
    if kind is None:
        raise RisError("ris.requisition.wrong_type")
    return kind


class Requisitions(RisCore):
    """The service's requisition methods."""

    def attach_requisition(
        self, exam_id: int, filename: str, content_type: str, data: bytes, *, username: str
    ) -> Requisition:
        """Store a scanned request form durably under the data dir."""
        if self.files_dir is None:
            raise RisError("ris.requisition.not_configured")
        media_type, extension = _kind(data)
        with db.read(self.engine) as conn:
            exams.exam_row(conn, exam_id)
        stamp = records.now()
        relative = Path(stamp.strftime("%Y/%m")) / f"{uuid.uuid4().hex}{extension}"
        target = self.files_dir / "requisitions" / relative
        _write_durably(target, data)
        digest = hashlib.sha256(data).hexdigest()
        name = Path(filename or f"requisition{extension}").name[:255]
        try:
            with self._write() as conn:
                exams.exam_row(conn, exam_id)
                new_id = conn.execute(
                    insert(ris_requisitions)
                    .values(
                        exam_fk=exam_id,
                        filename=name,
                        content_type=media_type,
                        path=str(relative),
                        size=len(data),
                        sha256=digest,
                        uploaded_by=username,
                        uploaded_at=stamp,
                    )
                    .returning(ris_requisitions.c.id)
                ).scalar_one()
        except Exception:
            target.unlink(missing_ok=True)
            raise
        return Requisition(new_id, exam_id, name, media_type, len(data), digest, username, stamp)

    def requisitions(self, exam_id: int) -> list[Requisition]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(ris_requisitions)
                .where(ris_requisitions.c.exam_fk == exam_id)
                .order_by(ris_requisitions.c.id)
            ).all()
        return [_requisition(r) for r in rows]

    def requisition_file(self, requisition_id: int) -> tuple[Requisition, Path]:
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(ris_requisitions).where(ris_requisitions.c.id == requisition_id)
            ).first()
        if row is None or self.files_dir is None:
            raise NotFound("ris.requisition.not_found", requisition_id=requisition_id)
        return _requisition(row), self.files_dir / "requisitions" / row.path


def _requisition(row: Any) -> Requisition:
    return Requisition(
        row.id,
        row.exam_fk,
        row.filename,
        row.content_type,
        row.size,
        row.sha256,
        row.uploaded_by,
        row.uploaded_at,
    )


def _write_durably(target: Path, data: bytes) -> None:
    """Temporary name, fsync, rename, folder fsync: the file is whole on disk or absent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part")
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
