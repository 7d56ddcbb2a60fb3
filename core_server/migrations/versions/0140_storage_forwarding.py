"""storage forwarding: destinations, rules and the durable task queue

Revision ID: 0140_storage_forwarding
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0140_storage_forwarding"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "forwarding_destinations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ae_title", sa.String(16), nullable=False, server_default=""),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("port", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tls", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("url", sa.String(1024), nullable=False, server_default=""),
        sa.Column("auth", sa.String(8), nullable=False, server_default="none"),
        sa.Column("token", sa.Text(), nullable=False, server_default=""),
        sa.Column("username", sa.String(128), nullable=False, server_default=""),
        sa.Column("password", sa.Text(), nullable=False, server_default=""),
        sa.Column("ca_file", sa.String(1024), nullable=False, server_default=""),
        sa.Column("commitment", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_forwarding_destinations_name"),
    )
    op.create_table(
        "forwarding_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column(
            "destination_id",
            sa.Integer(),
            sa.ForeignKey("forwarding_destinations.id"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("on_new", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("on_changed", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("modality", sa.String(16), nullable=False, server_default=""),
        sa.Column("source_ae", sa.String(16), nullable=False, server_default=""),
        sa.Column("sop_class_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("study_description", sa.String(128), nullable=False, server_default=""),
        sa.Column("department", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_forwarding_rules_name"),
    )
    op.create_table(
        "forwarding_tasks",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "destination_id",
            sa.Integer(),
            sa.ForeignKey("forwarding_destinations.id"),
            nullable=False,
        ),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("sop_class_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("study_instance_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("reason", sa.String(8), nullable=False, server_default="new"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transaction_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_forwarding_tasks_due", "forwarding_tasks", ["status", "next_attempt_at"])
    op.create_index(
        "ix_forwarding_tasks_destination",
        "forwarding_tasks",
        ["destination_id", "status", "study_instance_uid"],
    )
    op.create_index("ix_forwarding_tasks_sop", "forwarding_tasks", ["sop_instance_uid"])


def downgrade() -> None:
    op.drop_table("forwarding_tasks")
    op.drop_table("forwarding_rules")
    op.drop_table("forwarding_destinations")
