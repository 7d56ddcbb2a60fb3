"""storage rules: lifecycle rules, their tasks, the runner's settings, study reads

Revision ID: 0133_storage_rules
Revises: 0001
Create Date: 2026-12-07 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0133_storage_rules"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def _key(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "storage_rules",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="100"),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("area", sa.String(32), nullable=False, server_default=""),
        sa.Column("min_verified", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("fill_percent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("days", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("conditions", sa.Text(), nullable=False, server_default="{}", comment="JSON"),
        sa.Column("created_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
    )
    op.create_table(
        "storage_rule_tasks",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("rule_id", _ID, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sop_instance_uid", _key(64), nullable=False),
        sa.Column("study_instance_uid", _key(64), nullable=False, server_default=""),
        sa.Column("area", sa.String(32), nullable=False),
        sa.Column("min_verified", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("urgent", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("done_at", _AT, nullable=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", _AT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_storage_rule_tasks_status_next_attempt_at",
        "storage_rule_tasks",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_storage_rule_tasks_sop_instance_uid_kind",
        "storage_rule_tasks",
        ["sop_instance_uid", "kind"],
    )
    op.create_index("ix_storage_rule_tasks_rule_id", "storage_rule_tasks", ["rule_id"])
    op.create_table(
        "storage_rule_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idle_start", sa.String(5), nullable=False, server_default="22:00"),
        sa.Column("idle_end", sa.String(5), nullable=False, server_default="06:00"),
        sa.Column("max_mb_per_second", sa.Float(), nullable=False, server_default="50"),
        sa.Column("max_objects_per_second", sa.Float(), nullable=False, server_default="100"),
        sa.Column("busy_per_minute", sa.Integer(), nullable=False, server_default="300"),
        sa.Column("run_now_until", _AT, nullable=True),
        sa.Column("prefetch_enabled", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("prefetch_at", sa.String(5), nullable=False, server_default="20:00"),
        sa.Column("prefetch_per_patient", sa.Integer(), nullable=False, server_default="3"),
        sa.Column("prefetch_last_day", sa.String(10), nullable=False, server_default=""),
        sa.Column("updated_at", _AT, nullable=True),
    )
    op.create_table(
        "storage_study_reads",
        sa.Column("study_instance_uid", _key(64), primary_key=True),
        sa.Column("read_at", _AT, nullable=False),
    )
    op.create_index("ix_storage_study_reads_read_at", "storage_study_reads", ["read_at"])


def downgrade() -> None:
    op.drop_table("storage_study_reads")
    op.drop_table("storage_rule_settings")
    op.drop_table("storage_rule_tasks")
    op.drop_table("storage_rules")
