"""storage forwarding: commitment reports kept until their batch is recorded

Revision ID: 0155_forwarding_reports
Revises: 0140_storage_forwarding
"""

import sqlalchemy as sa
from alembic import op

revision = "0155_forwarding_reports"
down_revision = "0140_storage_forwarding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forwarding_reports",
        sa.Column("transaction_uid", sa.String(64), primary_key=True),
        sa.Column("committed", sa.JSON(), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("forwarding_reports")
