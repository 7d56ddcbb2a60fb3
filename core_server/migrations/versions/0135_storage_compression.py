"""storage compression: rules, jobs, and the archive's replacement journal

Revision ID: 0135_storage_compression
Revises: 0001
Create Date: 2026-12-07 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0135_storage_compression"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_KEY = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "compression_rules",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("modalities", sa.String(128), nullable=False, server_default=""),
        sa.Column("sop_class_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("source_ae_title", sa.String(16), nullable=False, server_default=""),
        sa.Column("min_age_days", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("trigger", sa.String(12), nullable=False),
        sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=True),
        sa.Column("scanned_to_id", _ID, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default=""),
    )
    op.create_table(
        "compression_jobs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sop_instance_uid", _KEY, nullable=False),
        sa.Column("rule_id", _ID, nullable=True),
        sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("old_size", _ID, nullable=True),
        sa.Column("new_size", _ID, nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False, server_default=""),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_compression_jobs_status_next_attempt_at",
        "compression_jobs",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_compression_jobs_sop_instance_uid", "compression_jobs", ["sop_instance_uid"]
    )
    op.create_table(
        "compression_replacements",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sop_instance_uid", _KEY, nullable=False),
        sa.Column("old_path", sa.String(255), nullable=False),
        sa.Column("new_path", sa.String(255), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_compression_replacements_sop_instance_uid",
        "compression_replacements",
        ["sop_instance_uid"],
    )


def downgrade() -> None:
    op.drop_table("compression_replacements")
    op.drop_table("compression_jobs")
    op.drop_table("compression_rules")
