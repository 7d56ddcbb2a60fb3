"""cluster: relayed bus events, the cluster-once tickers' last rounds, and the storage
commitment reports owed (sent by any node)

Revision ID: 0160_cluster
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0160_cluster"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cluster_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="JSON"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cluster_events_created_at", "cluster_events", ["created_at"])
    op.create_table(
        "cluster_tickers",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "dicom_commitment_reports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("transaction_uid", sa.String(64), nullable=False),
        sa.Column("calling_ae", sa.String(16), nullable=False),
        sa.Column("event_type", sa.Integer(), nullable=False),
        sa.Column(
            "report",
            sa.Text(),
            nullable=False,
            comment="the N-EVENT-REPORT dataset, DICOM JSON",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_dicom_commitment_reports_status_next_attempt_at",
        "dicom_commitment_reports",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_table("dicom_commitment_reports")
    op.drop_table("cluster_tickers")
    op.drop_index("ix_cluster_events_created_at", table_name="cluster_events")
    op.drop_table("cluster_events")
