"""cluster: the core processes that hold claims, and their liveness lock (cluster_nodes)

Revision ID: 0165_cluster_nodes
Revises: 0160_cluster
"""

import sqlalchemy as sa
from alembic import op

revision = "0165_cluster_nodes"
down_revision = "0160_cluster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("lock_key", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cluster_nodes")
