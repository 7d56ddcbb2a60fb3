"""followup: exams marked for follow-up (due date, note, clinical diagnosis, treatment) and
the pathology results received, matched to an exam or kept unmatched

Revision ID: 0080_followup
Revises: 0001
Create Date: 2026-12-20 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0080_followup"
down_revision = "0001"
branch_labels = None
# Exams and reports are referred to by id (no foreign key), but a follow-up reads both.
depends_on = ("0050_ris_names_and_times", "0009_reporting")


def upgrade() -> None:
    op.create_table(
        "followup_cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("exam_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("accession_number", sa.String(64), nullable=False, index=True),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("patient_name", sa.String(128), nullable=False, server_default=""),
        sa.Column("modality", sa.String(16), nullable=False, server_default=""),
        sa.Column("procedure_name", sa.String(128), nullable=False, server_default=""),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(8), nullable=False, server_default="open", index=True),
        sa.Column("clinical_diagnosis", sa.Text(), nullable=False, server_default=""),
        sa.Column("treatment", sa.Text(), nullable=False, server_default=""),
        sa.Column("marked_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "followup_pathology_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(180), nullable=False, server_default=""),
        sa.Column("control_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("accession_number", sa.String(64), nullable=False, server_default=""),
        sa.Column("placer_number", sa.String(64), nullable=False, server_default=""),
        sa.Column("filler_number", sa.String(64), nullable=False, server_default=""),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("patient_name", sa.String(128), nullable=False, server_default=""),
        sa.Column("text", sa.Text(), nullable=False, server_default=""),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exam_id", sa.BigInteger(), nullable=True),
        sa.Column("matched_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_followup_pathology_exam", "followup_pathology_results", ["exam_id"])


def downgrade() -> None:
    op.drop_index("ix_followup_pathology_exam", "followup_pathology_results")
    op.drop_table("followup_pathology_results")
    op.drop_table("followup_cases")
