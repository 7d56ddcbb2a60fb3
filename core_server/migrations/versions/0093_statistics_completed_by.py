"""statistics: who took each exam's newest step to completed, kept in the facts (the
image-quality figure grouped the whole history for it on every request); the facts' cursors
go back to 0 so that the next catch-up rebuilds them with it

Revision ID: 0093_statistics_completed_by
Revises: 0092_statistics_report_changes
Create Date: 2026-12-07 14:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0093_statistics_completed_by"
down_revision = "0092_statistics_report_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statistics_exam_facts") as batch:
        batch.add_column(sa.Column("completed_by", sa.String(length=64), nullable=True))
    op.execute("UPDATE statistics_facts_cursor SET last_id = 0")


def downgrade() -> None:
    with op.batch_alter_table("statistics_exam_facts") as batch:
        batch.drop_column("completed_by")
