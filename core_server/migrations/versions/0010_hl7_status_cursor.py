"""hl7: the cursor of the status reporter in the RIS's status history (the outbox)

Revision ID: 0010_hl7_status_cursor
Revises: 0004_hl7
Create Date: 2026-11-29 07:45:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010_hl7_status_cursor"
down_revision = "0004_hl7"
branch_labels = None
depends_on = "0003_ris"  # the history the cursor points into


def upgrade() -> None:
    cursor = op.create_table(
        "hl7_status_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_change_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hl7_status_cursor")),
    )
    # Changes made before this upgrade were reported by the old in-process subscriber: start
    # after them, so that the HIS does not get the whole history again.
    history = sa.table("ris_exam_history", sa.column("id"))
    last = op.get_bind().execute(sa.select(sa.func.coalesce(sa.func.max(history.c.id), 0)))
    op.bulk_insert(
        cursor,
        [
            {
                "name": "order_status",
                "last_change_id": last.scalar_one(),
                "updated_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("hl7_status_cursor")
