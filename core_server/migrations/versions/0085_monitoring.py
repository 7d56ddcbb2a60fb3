"""monitoring: the system page's samples and the alerts

Revision ID: 0085_monitoring
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0085_monitoring"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitoring_samples",
        sa.Column("id", _ID, nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_percent", sa.Float(), nullable=False),
        sa.Column("storage_percent", sa.Float(), nullable=False),
        sa.Column("data_percent", sa.Float(), nullable=False),
        sa.Column("load1", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_samples")),
    )
    op.create_index("ix_monitoring_samples_node_time", "monitoring_samples", ["node", "sampled_at"])
    op.create_table(
        "monitoring_alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_monitoring_alerts_open_key")),
    )
    op.create_index("ix_monitoring_alerts_raised", "monitoring_alerts", ["raised_at"])


def downgrade() -> None:
    op.drop_table("monitoring_alerts")
    op.drop_table("monitoring_samples")
