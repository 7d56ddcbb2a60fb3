"""The follow-up domain's tables (migration ``0080_followup``).

Exams are referred to by the RIS exam id and accession number, not by a foreign key (the RIS
is another domain). The pathology result, the clinical outcome and the imaging/pathology
agreement stay on the report (``reporting_reports``: what the report shows); these tables hold
what belongs to following a patient up: the mark with its due date, the clinical diagnosis and
treatment, and every pathology result received, matched to an exam or not."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

followup_cases = Table(
    "followup_cases",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=False, unique=True),
    Column("accession_number", String(64), nullable=False, index=True),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("patient_name", String(128), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),
    Column("procedure_name", String(128), nullable=False, server_default=""),
    Column("due_date", Date, nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("status", String(8), nullable=False, server_default="open", index=True),
    Column("clinical_diagnosis", Text, nullable=False, server_default=""),
    Column("treatment", Text, nullable=False, server_default=""),
    Column("marked_by", String(64), nullable=False, server_default=""),
    Column("marked_at", UtcDateTime, nullable=False),
    Column("done_by", String(64), nullable=False, server_default=""),
    Column("done_at", UtcDateTime, nullable=True),
    Column("updated_by", String(64), nullable=False, server_default=""),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Pathology results as received (HL7 ORU^R01 from the pathology system), never lost: a result
# no exam matched keeps exam_id NULL and is listed until a doctor assigns it.
followup_pathology_results = Table(
    "followup_pathology_results",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("sender", String(180), nullable=False, server_default=""),
    Column("control_id", String(64), nullable=False, server_default=""),
    Column("accession_number", String(64), nullable=False, server_default=""),
    Column("placer_number", String(64), nullable=False, server_default=""),
    Column("filler_number", String(64), nullable=False, server_default=""),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("patient_name", String(128), nullable=False, server_default=""),
    Column("text", Text, nullable=False, server_default=""),
    Column("observed_at", UtcDateTime, nullable=True),
    Column("exam_id", BigId, nullable=True),
    Column("matched_by", String(64), nullable=False, server_default=""),
    Column("matched_at", UtcDateTime, nullable=True),
    Index("ix_followup_pathology_exam", "exam_id"),
)
