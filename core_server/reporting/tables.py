"""The reporting domain's tables (migration ``0009_reporting``).

Exams are referred to by the RIS exam id and accession number, not by a foreign key: the RIS
is another domain, reached through ``Ris``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from core_server.db import BigId, Key, UtcDateTime, metadata

reporting_reports = Table(
    "reporting_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=False, unique=True),
    Column("accession_number", String(64), nullable=False, index=True),
    Column("patient_id", Key(64), nullable=False),
    Column("issuer", String(64), nullable=False, server_default=""),
    Column("patient_name", String(128), nullable=False, server_default=""),
    Column("department", String(32), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),
    Column("body_part", String(32), nullable=False, server_default=""),
    Column("procedure_code", String(32), nullable=False, server_default=""),
    Column("emergency", Boolean, nullable=False, server_default=false()),
    Column("status", String(12), nullable=False, index=True),
    Column("version", Integer, nullable=False, server_default="0"),
    # The working copy: what autosave writes, what the editor opens.
    Column("findings", Text, nullable=False, server_default=""),
    Column("impression", Text, nullable=False, server_default=""),
    Column("fields", Text, nullable=False, server_default="{}"),  # JSON
    Column("template_id", Integer, nullable=True),
    Column("positive", Boolean, nullable=True),
    Column("critical", Boolean, nullable=False, server_default=false()),
    Column("infectious", Boolean, nullable=False, server_default=false()),
    Column("teaching", Boolean, nullable=False, server_default=false()),
    Column("teaching_note", String(255), nullable=False, server_default=""),
    Column("key_images", Text, nullable=False, server_default="[]"),  # JSON
    Column("author", String(64), nullable=False, server_default="", index=True),
    Column("reviewed_by", String(64), nullable=False, server_default=""),
    Column("signed_by", String(64), nullable=False, server_default=""),
    Column("signed_at", UtcDateTime, nullable=True),
    Column("signed_version", Integer, nullable=True),
    Column("amendments", Integer, nullable=False, server_default="0"),
    Column("report_quality", String(12), nullable=False, server_default=""),
    Column("report_quality_by", String(64), nullable=False, server_default=""),
    Column("image_quality", String(12), nullable=False, server_default=""),
    Column("image_quality_by", String(64), nullable=False, server_default=""),
    Column("pathology_result", Text, nullable=False, server_default=""),
    Column("clinical_outcome", Text, nullable=False, server_default=""),
    Column("pathology_agreement", String(12), nullable=False, server_default=""),
    Column("agreement_by", String(64), nullable=False, server_default=""),
    Column("lock_holder", String(64), nullable=False, server_default=""),
    Column("lock_expires_at", UtcDateTime, nullable=True),
    Column("levels", Integer, nullable=False, server_default="2"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("draft_saved_at", UtcDateTime, nullable=True),
    Index("ix_reporting_reports_patient", "patient_id", "issuer"),
)

# Every kept version of a report (explicit saves and every workflow step), never changed.
reporting_versions = Table(
    "reporting_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", BigId, ForeignKey("reporting_reports.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("action", String(12), nullable=False),
    Column("username", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("findings", Text, nullable=False),
    Column("impression", Text, nullable=False),
    Column("fields", Text, nullable=False, server_default="{}"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("report_id", "number"),
)

# Workflow steps: who moved the report from which status to which, and why.
reporting_history = Table(
    "reporting_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", BigId, ForeignKey("reporting_reports.id"), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("username", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("old_status", String(12), nullable=False, server_default=""),
    Column("new_status", String(12), nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False, server_default=""),
)

# Sign-off levels per department (2 or 3; 1 = a single signature), absent = the default.
reporting_department_levels = Table(
    "reporting_department_levels",
    metadata,
    Column("department", String(32), primary_key=True),
    Column("levels", Integer, nullable=False),
)

# A doctor's grade (resident, attending, chief) decides which review steps they may take.
reporting_doctor_grades = Table(
    "reporting_doctor_grades",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("grade", String(12), nullable=False),
)

reporting_templates = Table(
    "reporting_templates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("scope", String(12), nullable=False),
    Column("owner", String(64), nullable=False, server_default=""),
    Column("department", String(32), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),
    Column("body_part", String(32), nullable=False, server_default=""),
    Column("keywords", String(255), nullable=False, server_default=""),
    Column("findings", Text, nullable=False, server_default=""),
    Column("impression", Text, nullable=False, server_default=""),
    Column("fields", Text, nullable=False, server_default="[]"),  # JSON list of typed fields
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_reporting_templates_lookup", "modality", "body_part"),
)

# The template an exam item opens with.
reporting_default_templates = Table(
    "reporting_default_templates",
    metadata,
    Column("procedure_code", String(32), primary_key=True),
    Column("template_id", Integer, ForeignKey("reporting_templates.id"), nullable=False),
)

reporting_word_rules = Table(
    "reporting_word_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),  # forbidden, exclusive
    Column("word", String(64), nullable=False),
    Column("other", String(64), nullable=False, server_default=""),
    Column("message", String(255), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),
)

reporting_critical_alerts = Table(
    "reporting_critical_alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", BigId, ForeignKey("reporting_reports.id"), nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("raised_by", String(64), nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("status", String(12), nullable=False, index=True),  # open, acknowledged
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("next_escalation_at", UtcDateTime, nullable=True, index=True),
    Column("acknowledged_by", String(64), nullable=False, server_default=""),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("acknowledgement", Text, nullable=False, server_default=""),
)

# The chain of an alert: raised, queued (HL7 job), delivered (ACK), escalated, acknowledged.
reporting_alert_events = Table(
    "reporting_alert_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "alert_id", BigId, ForeignKey("reporting_critical_alerts.id"), nullable=False, index=True
    ),
    Column("kind", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("username", String(64), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Column("ref", String(64), nullable=False, server_default=""),
)

# Small settings an administrator changes at run time (escalation minutes, lock minutes...).
reporting_settings = Table(
    "reporting_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)
