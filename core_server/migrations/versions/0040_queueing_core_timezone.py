"""queueing: the queue's own time zone setting goes; the core's one setting (--timezone) rules

Revision ID: 0040_queueing_core_timezone
Revises: 0007_queueing
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0040_queueing_core_timezone"
down_revision = "0007_queueing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queueing_settings") as batch:
        batch.drop_column("timezone")


def downgrade() -> None:
    with op.batch_alter_table("queueing_settings") as batch:
        batch.add_column(
            sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai")
        )
