"""hl7: the cursors of the results and critical-value reporters in the reporting outboxes

Revision ID: 0011_hl7_reporting_cursor
Revises: 0010_hl7_status_cursor
Create Date: 2026-11-29 08:40:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011_hl7_reporting_cursor"
down_revision = "0010_hl7_status_cursor"
branch_labels = None
depends_on = "0009_reporting"  # the workflow history and alert events the cursors point into

CURSORS = {"results": "reporting_history", "critical_values": "reporting_alert_events"}


def upgrade() -> None:
    # Rows of hl7_status_cursor (one table for every outbox reader). Steps and alerts made
    # before this upgrade were sent by the old in-process subscriber: start after them.
    cursor = sa.table(
        "hl7_status_cursor",
        sa.column("name", sa.String),
        sa.column("last_change_id", sa.BigInteger),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = []
    for name, source in CURSORS.items():
        ids = sa.table(source, sa.column("id"))
        last = bind.execute(sa.select(sa.func.coalesce(sa.func.max(ids.c.id), 0))).scalar_one()
        rows.append({"name": name, "last_change_id": last, "updated_at": datetime.now(UTC)})
    op.bulk_insert(cursor, rows)


def downgrade() -> None:
    cursor = sa.table("hl7_status_cursor", sa.column("name", sa.String))
    op.execute(cursor.delete().where(cursor.c.name.in_(list(CURSORS))))
