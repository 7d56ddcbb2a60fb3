"""The import tables (migration ``0150_storage_imports``): one session per source (a disc, a
folder, an upload), the foreign patients it holds with the registrar's decision for each,
its files with what became of them, and the UIDs re-keyed on request.

Exams and RIS patients are referred to by their RIS keys (no foreign key: another domain)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata


def _session_fk() -> ForeignKey:
    return ForeignKey("storage_import_sessions.id", ondelete="CASCADE")


storage_import_sessions = Table(
    "storage_import_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),  # the folder read (an upload's own folder)
    Column("kind", String(12), nullable=False),  # folder | upload
    Column("label", String(128), nullable=False, server_default=""),  # the disc's label
    Column("state", String(12), nullable=False),  # scanned|running|done|failed|interrupted
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("error", Text, nullable=False, server_default=""),
)
Index("ix_storage_import_sessions_created", storage_import_sessions.c.created_at)

storage_import_patients = Table(
    "storage_import_patients",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_id", BigId, _session_fk(), nullable=False),
    Column("foreign_id", String(64), nullable=False, server_default=""),
    Column("foreign_issuer", String(64), nullable=False, server_default=""),
    Column("foreign_name", String(324), nullable=False, server_default=""),  # as on the disc
    Column("birth_date", String(8), nullable=False, server_default=""),
    Column("sex", String(16), nullable=False, server_default=""),
    Column("studies", Text, nullable=False, server_default="[]"),  # JSON: what the disc holds
    # pending | match (our RIS patient) | keep (the foreign IDs unchanged) | skip
    Column("decision", String(8), nullable=False, server_default="pending"),
    Column("patient_id", String(64), nullable=False, server_default=""),  # ours, on match
    Column("issuer", String(64), nullable=False, server_default=""),
    Column("exam_id", BigId, nullable=True),  # the RIS exam its studies are linked to
    Column("rekey", Boolean, nullable=False, server_default="0"),
    Column("decided_by", String(64), nullable=False, server_default=""),
)
Index("ix_storage_import_patients_session", storage_import_patients.c.session_id)

storage_import_files = Table(
    "storage_import_files",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_id", BigId, _session_fk(), nullable=False),
    Column("patient_row", BigId, nullable=True),  # storage_import_patients.id; None: no object
    Column("path", Text, nullable=False),  # relative to the session's source
    Column("kind", String(8), nullable=False),  # dicom | picture | pdf | other
    Column("sop_instance_uid", String(64), nullable=False, server_default=""),
    Column("study_instance_uid", String(64), nullable=False, server_default=""),
    Column("size", Integer, nullable=False, server_default="0"),
    # pending | stored | duplicate | failed | skipped
    Column("state", String(10), nullable=False, server_default="pending"),
    Column("stored_uid", String(64), nullable=False, server_default=""),  # its UID with us
    Column("exam_id", BigId, nullable=True),  # a picture or PDF: the exam it is wrapped for
    Column("error", Text, nullable=False, server_default=""),
)
Index(
    "ix_storage_import_files_session",
    storage_import_files.c.session_id,
    storage_import_files.c.state,
)

storage_import_uids = Table(
    "storage_import_uids",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_id", BigId, _session_fk(), nullable=False),
    Column("level", String(8), nullable=False),  # study | series | instance
    Column("foreign_uid", String(64), nullable=False),
    Column("our_uid", String(64), nullable=False),
)
Index(
    "ix_storage_import_uids_foreign",
    storage_import_uids.c.session_id,
    storage_import_uids.c.foreign_uid,
    unique=True,
)
Index("ix_storage_import_uids_ours", storage_import_uids.c.our_uid)
