"""ris: patients, visits, orders, exams, catalogue, rooms, appointments, requisitions, MPPS,
reconciliation

Revision ID: 0003_ris
Revises: 0001
Create Date: 2026-11-29 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_ris"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ris_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ris_counters")),
    )
    op.create_table(
        "ris_departments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_ris_departments")),
    )
    op.create_table(
        "ris_patients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "patient_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "issuer",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column(
            "name_pinyin",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "name_initials",
            sa.String(length=32).with_variant(sa.String(length=32, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "id_card_number",
            sa.String(length=18).with_variant(sa.String(length=18, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("birth_date", sa.String(length=10), nullable=True),
        sa.Column("sex", sa.String(length=1), server_default="", nullable=False),
        sa.Column("phone", sa.String(length=32), server_default="", nullable=False),
        sa.Column("address", sa.String(length=255), server_default="", nullable=False),
        sa.Column("merged_into_fk", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_fk"],
            ["ris_patients.id"],
            name=op.f("fk_ris_patients_merged_into_fk_ris_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_patients")),
        sa.UniqueConstraint("patient_id", "issuer", name=op.f("uq_ris_patients_patient_id_issuer")),
    )
    op.create_index(
        op.f("ix_ris_patients_id_card_number"), "ris_patients", ["id_card_number"], unique=False
    )
    op.create_index(op.f("ix_ris_patients_name"), "ris_patients", ["name"], unique=False)
    op.create_index(
        op.f("ix_ris_patients_name_initials"), "ris_patients", ["name_initials"], unique=False
    )
    op.create_index(
        op.f("ix_ris_patients_name_pinyin"), "ris_patients", ["name_pinyin"], unique=False
    )
    op.create_table(
        "ris_procedures",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("body_part", sa.String(length=16), server_default="", nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), server_default="15", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_ris_procedures")),
    )
    op.create_table(
        "ris_rooms",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("station_ae", sa.String(length=16), server_default="", nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("slot_capacity", sa.Integer(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=False),
        sa.Column("closes", sa.String(length=5), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_ris_rooms")),
    )
    op.create_table(
        "ris_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_fk", sa.Integer(), nullable=False),
        sa.Column(
            "visit_number",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("patient_class", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=64), server_default="", nullable=False),
        sa.Column("ward", sa.String(length=64), server_default="", nullable=False),
        sa.Column("bed", sa.String(length=32), server_default="", nullable=False),
        sa.Column("attending_doctor", sa.String(length=128), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_fk"], ["ris_patients.id"], name=op.f("fk_ris_visits_patient_fk_ris_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_visits")),
        sa.UniqueConstraint("visit_number", name=op.f("uq_ris_visits_visit_number")),
    )
    op.create_index(op.f("ix_ris_visits_patient_fk"), "ris_visits", ["patient_fk"], unique=False)
    op.create_table(
        "ris_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_fk", sa.Integer(), nullable=False),
        sa.Column("visit_fk", sa.Integer(), nullable=True),
        sa.Column(
            "placer_order_number",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "placer_application",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "filler_order_number",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("referring_physician", sa.String(length=128), server_default="", nullable=False),
        sa.Column("referring_department", sa.String(length=64), server_default="", nullable=False),
        sa.Column("clinical_info", sa.Text(), server_default="", nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("bedside", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_fk"], ["ris_patients.id"], name=op.f("fk_ris_orders_patient_fk_ris_patients")
        ),
        sa.ForeignKeyConstraint(
            ["visit_fk"], ["ris_visits.id"], name=op.f("fk_ris_orders_visit_fk_ris_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_orders")),
        sa.UniqueConstraint("filler_order_number", name=op.f("uq_ris_orders_filler_order_number")),
        sa.UniqueConstraint(
            "placer_order_number",
            "placer_application",
            name=op.f("uq_ris_orders_placer_order_number_placer_application"),
        ),
    )
    op.create_index(op.f("ix_ris_orders_patient_fk"), "ris_orders", ["patient_fk"], unique=False)
    op.create_table(
        "ris_exams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_fk", sa.Integer(), nullable=False),
        sa.Column("patient_fk", sa.Integer(), nullable=False),
        sa.Column(
            "accession_number",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "requested_procedure_id",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "scheduled_step_id",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "study_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("procedure_code", sa.String(length=32), nullable=False),
        sa.Column("procedure_name", sa.String(length=128), nullable=False),
        sa.Column(
            "modality",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("body_part", sa.String(length=16), server_default="", nullable=False),
        sa.Column("department", sa.String(length=32), server_default="", nullable=False),
        sa.Column(
            "room",
            sa.String(length=32).with_variant(sa.String(length=32, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "station_ae",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("scheduled_at", sa.DateTime(), nullable=True),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "status",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_by", sa.String(length=64), nullable=False),
        sa.Column("identity_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("requisition_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("fee_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("retake_of_fk", sa.Integer(), nullable=True),
        sa.Column("retake_kind", sa.String(length=16), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_fk"], ["ris_orders.id"], name=op.f("fk_ris_exams_order_fk_ris_orders")
        ),
        sa.ForeignKeyConstraint(
            ["patient_fk"], ["ris_patients.id"], name=op.f("fk_ris_exams_patient_fk_ris_patients")
        ),
        sa.ForeignKeyConstraint(
            ["retake_of_fk"], ["ris_exams.id"], name=op.f("fk_ris_exams_retake_of_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_exams")),
        sa.UniqueConstraint("accession_number", name=op.f("uq_ris_exams_accession_number")),
        sa.UniqueConstraint("study_instance_uid", name=op.f("uq_ris_exams_study_instance_uid")),
    )
    op.create_index(op.f("ix_ris_exams_order_fk"), "ris_exams", ["order_fk"], unique=False)
    op.create_index(op.f("ix_ris_exams_patient_fk"), "ris_exams", ["patient_fk"], unique=False)
    op.create_index(
        op.f("ix_ris_exams_requested_procedure_id"),
        "ris_exams",
        ["requested_procedure_id"],
        unique=False,
    )
    op.create_index(op.f("ix_ris_exams_scheduled_at"), "ris_exams", ["scheduled_at"], unique=False)
    op.create_index(op.f("ix_ris_exams_station_ae"), "ris_exams", ["station_ae"], unique=False)
    op.create_index(
        op.f("ix_ris_exams_status_modality"), "ris_exams", ["status", "modality"], unique=False
    )
    op.create_table(
        "ris_appointments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_fk", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("booked_by", sa.String(length=64), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_fk"], ["ris_exams.id"], name=op.f("fk_ris_appointments_exam_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_appointments")),
        sa.UniqueConstraint("exam_fk", name=op.f("uq_ris_appointments_exam_fk")),
    )
    op.create_index(
        op.f("ix_ris_appointments_room_start"), "ris_appointments", ["room", "start"], unique=False
    )
    op.create_table(
        "ris_exam_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_fk", sa.Integer(), nullable=False),
        sa.Column("old_status", sa.String(length=16), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_fk"], ["ris_exams.id"], name=op.f("fk_ris_exam_history_exam_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_exam_history")),
    )
    op.create_index(
        op.f("ix_ris_exam_history_exam_fk"), "ris_exam_history", ["exam_fk"], unique=False
    )
    op.create_table(
        "ris_exam_studies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_fk", sa.Integer(), nullable=False),
        sa.Column(
            "study_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("linked_by", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_fk"], ["ris_exams.id"], name=op.f("fk_ris_exam_studies_exam_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_exam_studies")),
        sa.UniqueConstraint(
            "study_instance_uid", name=op.f("uq_ris_exam_studies_study_instance_uid")
        ),
    )
    op.create_index(
        op.f("ix_ris_exam_studies_exam_fk"), "ris_exam_studies", ["exam_fk"], unique=False
    )
    op.create_table(
        "ris_performed_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "sop_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("exam_fk", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station_ae", sa.String(length=16), server_default="", nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("attributes", sa.Text(), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_fk"], ["ris_exams.id"], name=op.f("fk_ris_performed_steps_exam_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_performed_steps")),
        sa.UniqueConstraint(
            "sop_instance_uid", name=op.f("uq_ris_performed_steps_sop_instance_uid")
        ),
    )
    op.create_index(
        op.f("ix_ris_performed_steps_exam_fk"), "ris_performed_steps", ["exam_fk"], unique=False
    )
    op.create_table(
        "ris_requisitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_fk", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_fk"], ["ris_exams.id"], name=op.f("fk_ris_requisitions_exam_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_requisitions")),
    )
    op.create_index(
        op.f("ix_ris_requisitions_exam_fk"), "ris_requisitions", ["exam_fk"], unique=False
    )
    op.create_table(
        "ris_unmatched_studies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "study_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("patient_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("patient_name", sa.String(length=324), server_default="", nullable=False),
        sa.Column("accession_number", sa.String(length=64), server_default="", nullable=False),
        sa.Column("modality", sa.String(length=16), server_default="", nullable=False),
        sa.Column("study_date", sa.String(length=8), server_default="", nullable=False),
        sa.Column("station_ae", sa.String(length=16), server_default="", nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("exam_fk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["exam_fk"], ["ris_exams.id"], name=op.f("fk_ris_unmatched_studies_exam_fk_ris_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ris_unmatched_studies")),
        sa.UniqueConstraint(
            "study_instance_uid", name=op.f("uq_ris_unmatched_studies_study_instance_uid")
        ),
    )
    op.create_index(
        op.f("ix_ris_unmatched_studies_resolved_at"),
        "ris_unmatched_studies",
        ["resolved_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("ris_unmatched_studies")
    op.drop_table("ris_requisitions")
    op.drop_table("ris_performed_steps")
    op.drop_table("ris_exam_studies")
    op.drop_table("ris_exam_history")
    op.drop_table("ris_appointments")
    op.drop_table("ris_exams")
    op.drop_table("ris_orders")
    op.drop_table("ris_visits")
    op.drop_table("ris_rooms")
    op.drop_table("ris_procedures")
    op.drop_table("ris_patients")
    op.drop_table("ris_departments")
    op.drop_table("ris_counters")
