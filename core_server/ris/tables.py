"""The RIS tables: patient master -> visits -> orders -> exams, plus catalogue, rooms,
appointments, requisitions, MPPS and the reconciliation list.

Every time is a moment in UTC (``UtcDateTime``); scheduled times, appointment starts and
performed steps' times were the hospital's wall clock without a zone until migration
``0050_ris_names_and_times``.

An exam row is a requested procedure together with its one scheduled procedure step and what
was performed (the Chinese RIS's 检查): it has its own accession number and Study Instance UID.
"""

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
    func,
)

from core_server.db import Key, UtcDateTime, metadata

ris_patients = Table(
    "ris_patients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Key(64), nullable=False),
    Column("issuer", Key(64), nullable=False, server_default=""),
    # The name as received (王^建国, or as typed) and its pinyin (WANG^JIANGUO): ris/person.py.
    Column("name", Key(128), nullable=False),
    Column("name_pinyin", Key(128), nullable=False, server_default=""),
    # What registrars search by: the display name (王建国), the pinyin's letters in reading
    # order (WANGJIANGUO) and their initials (WJG).
    Column("name_shown", Key(128), nullable=False, server_default=""),
    Column("name_spelled", Key(128), nullable=False, server_default=""),
    Column("name_initials", Key(32), nullable=False, server_default=""),
    Column("id_card_number", Key(18), nullable=False, server_default=""),
    Column("birth_date", String(10), nullable=True),  # ISO date
    Column("sex", String(1), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("address", String(255), nullable=False, server_default=""),
    Column("merged_into_fk", Integer, ForeignKey("ris_patients.id"), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("patient_id", "issuer"),
    Index(None, "id_card_number"),
    Index(None, "name"),
    Index(None, "name_pinyin"),
    Index(None, "name_initials"),
    Index(None, "name_shown"),
    Index(None, "name_spelled"),
    Index(None, "phone"),
)

ris_visits = Table(
    "ris_visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_fk", Integer, ForeignKey("ris_patients.id"), nullable=False),
    Column("visit_number", Key(64), nullable=False, unique=True),
    Column("patient_class", String(16), nullable=False),
    Column("department", String(64), nullable=False, server_default=""),
    Column("ward", String(64), nullable=False, server_default=""),
    Column("bed", String(32), nullable=False, server_default=""),
    Column("attending_doctor", String(128), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("admitted_at", UtcDateTime(), nullable=True),
    Column("discharged_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "patient_fk"),
)

ris_orders = Table(
    "ris_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_fk", Integer, ForeignKey("ris_patients.id"), nullable=False),
    Column("visit_fk", Integer, ForeignKey("ris_visits.id"), nullable=True),
    Column("placer_order_number", Key(64), nullable=False),
    Column("placer_application", Key(64), nullable=False, server_default=""),
    Column("filler_order_number", Key(64), nullable=False, unique=True),
    Column("referring_physician", String(128), nullable=False, server_default=""),
    Column("referring_department", String(64), nullable=False, server_default=""),
    Column("clinical_info", Text, nullable=False, server_default=""),
    Column("priority", String(8), nullable=False),
    Column("emergency", Boolean, nullable=False, server_default=false()),
    Column("bedside", Boolean, nullable=False, server_default=false()),
    Column("status", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("placer_order_number", "placer_application"),
    Index(None, "patient_fk"),
    Index("ix_ris_orders_referring_department", "referring_department"),  # migration 0090
)

ris_exams = Table(
    "ris_exams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_fk", Integer, ForeignKey("ris_orders.id"), nullable=False),
    Column("patient_fk", Integer, ForeignKey("ris_patients.id"), nullable=False),
    Column("accession_number", Key(16), nullable=False, unique=True),
    Column("requested_procedure_id", Key(16), nullable=False),
    Column("scheduled_step_id", Key(16), nullable=False),
    Column("study_instance_uid", Key(64), nullable=False, unique=True),
    Column("procedure_code", String(32), nullable=False),
    Column("procedure_name", String(128), nullable=False),
    Column("modality", Key(16), nullable=False),
    Column("body_part", String(16), nullable=False, server_default=""),
    Column("department", String(32), nullable=False, server_default=""),
    Column("room", Key(32), nullable=False, server_default=""),
    Column("station_ae", Key(16), nullable=False, server_default=""),
    Column("scheduled_at", UtcDateTime(), nullable=True),
    Column("notes", Text, nullable=False, server_default=""),
    Column("status", Key(16), nullable=False),
    Column("status_at", UtcDateTime(), nullable=False),
    Column("status_by", String(64), nullable=False),
    Column("identity_confirmed", Boolean, nullable=False, server_default=false()),
    Column("requisition_confirmed", Boolean, nullable=False, server_default=false()),
    Column("fee_confirmed", Boolean, nullable=False, server_default=false()),
    Column("retake_of_fk", Integer, ForeignKey("ris_exams.id"), nullable=True),
    Column("retake_kind", String(16), nullable=False, server_default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    # What the exam is charged, in fen: its item's price when created or its item changed;
    # a registrar may change it (audited).
    Column("fee_fen", Integer, nullable=False, server_default="0"),
    Index(None, "order_fk"),
    Index(None, "patient_fk"),
    Index(None, "requested_procedure_id"),
    Index(None, "scheduled_at"),
    Index(None, "status", "modality"),
    Index(None, "station_ae"),
)

# What the statistics read on a year of exams (migration 0090_statistics_indexes): exams by
# their exam time (core_server/statistics/filters.py), the retakes of an exam, the newest step
# of one status per exam.
Index("ix_ris_exams_exam_time", func.coalesce(ris_exams.c.scheduled_at, ris_exams.c.created_at))
Index("ix_ris_exams_retake_of_fk", ris_exams.c.retake_of_fk)

# Every status change with who and when (the exam row holds the latest).
ris_exam_history = Table(
    "ris_exam_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exam_fk", Integer, ForeignKey("ris_exams.id"), nullable=False),
    Column("old_status", String(16), nullable=True),
    Column("new_status", String(16), nullable=False),
    Column("username", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Index(None, "exam_fk"),
    Index("ix_ris_exam_history_new_status", "new_status", "exam_fk"),  # migration 0090
)

# Studies whose images belong to an exam (one, or more after a merge; images the modality
# sent under its own Study Instance UID).
ris_exam_studies = Table(
    "ris_exam_studies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exam_fk", Integer, ForeignKey("ris_exams.id"), nullable=False),
    Column("study_instance_uid", Key(64), nullable=False, unique=True),
    Column("linked_by", String(64), nullable=False),
    Column("linked_at", UtcDateTime(), nullable=False),
    Index(None, "exam_fk"),
)

ris_departments = Table(
    "ris_departments",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(64), nullable=False),
)

ris_procedures = Table(
    "ris_procedures",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(128), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("modality", String(16), nullable=False),
    Column("body_part", String(16), nullable=False, server_default=""),
    Column("department", String(32), nullable=False),
    Column("duration_minutes", Integer, nullable=False, server_default="15"),
    Column("active", Boolean, nullable=False),
    # The item's price in fen (分, 1/100 yuan): exact integers, summed without rounding.
    Column("price_fen", Integer, nullable=False, server_default="0"),
)

ris_rooms = Table(
    "ris_rooms",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("modality", String(16), nullable=False),
    Column("department", String(32), nullable=False),
    Column("station_ae", String(16), nullable=False, server_default=""),
    Column("slot_minutes", Integer, nullable=False),
    Column("slot_capacity", Integer, nullable=False),
    Column("opens", String(5), nullable=False),
    Column("closes", String(5), nullable=False),
)

ris_appointments = Table(
    "ris_appointments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exam_fk", Integer, ForeignKey("ris_exams.id"), nullable=False, unique=True),
    Column("room", String(32), nullable=False),
    Column("start", UtcDateTime(), nullable=False),
    Column("booked_by", String(64), nullable=False),
    Column("booked_at", UtcDateTime(), nullable=False),
    Index(None, "room", "start"),
)

ris_requisitions = Table(
    "ris_requisitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exam_fk", Integer, ForeignKey("ris_exams.id"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("path", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
    Index(None, "exam_fk"),
)

ris_performed_steps = Table(
    "ris_performed_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sop_instance_uid", Key(64), nullable=False, unique=True),
    Column("exam_fk", Integer, ForeignKey("ris_exams.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("station_ae", String(16), nullable=False, server_default=""),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("attributes", Text, nullable=False, server_default="{}"),  # JSON of what was sent
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index(None, "exam_fk"),
)

ris_unmatched_studies = Table(
    "ris_unmatched_studies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_instance_uid", Key(64), nullable=False, unique=True),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("patient_name", String(324), nullable=False, server_default=""),
    Column("accession_number", String(64), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),
    Column("study_date", String(8), nullable=False, server_default=""),
    Column("station_ae", String(16), nullable=False, server_default=""),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("resolved_by", String(64), nullable=False, server_default=""),
    Column("exam_fk", Integer, ForeignKey("ris_exams.id"), nullable=True),
    Index(None, "resolved_at"),
)

# Counters for generated numbers (accession, filler order, requested procedure), per day
# prefix, taken inside the writing transaction so several processes never hand out one twice.
ris_counters = Table(
    "ris_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Integer, nullable=False),
)
