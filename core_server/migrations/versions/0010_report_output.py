"""report output: archived SR/PDF objects of signed reports, print log, reprint grants

Revision ID: 0010_report_output
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_report_output"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_output_objects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_output_objects")),
        sa.UniqueConstraint(
            "report_id",
            "version",
            "kind",
            name=op.f("uq_report_output_objects_report_id_version_kind"),
        ),
        sa.UniqueConstraint(
            "sop_instance_uid", name=op.f("uq_report_output_objects_sop_instance_uid")
        ),
    )
    op.create_index(
        "ix_report_output_objects_due",
        "report_output_objects",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "report_print_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accession_number", sa.String(length=64), server_default="", nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("reprint", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("address", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_print_log")),
    )
    op.create_index(
        op.f("ix_report_print_log_report_id"), "report_print_log", ["report_id"], unique=False
    )
    op.create_table(
        "report_reprint_grants",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=255), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_report_reprint_grants")),
    )


def downgrade() -> None:
    op.drop_table("report_reprint_grants")
    op.drop_index(op.f("ix_report_print_log_report_id"), table_name="report_print_log")
    op.drop_table("report_print_log")
    op.drop_index("ix_report_output_objects_due", table_name="report_output_objects")
    op.drop_table("report_output_objects")
