"""cluster: relayed bus events and the cluster-once tickers' last rounds

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


def downgrade() -> None:
    op.drop_table("cluster_tickers")
    op.drop_index("ix_cluster_events_created_at", table_name="cluster_events")
    op.drop_table("cluster_events")
