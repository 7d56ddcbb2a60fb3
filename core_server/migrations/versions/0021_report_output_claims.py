"""report output: the archiving jobs claimed by process with a lease (core_server.jobs), as
the HL7 outbound queue is, instead of pushing next_attempt_at forward

Revision ID: 0021_report_output_claims
Revises: 0010_report_output
Create Date: 2026-12-07 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_report_output_claims"
down_revision = "0010_report_output"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_output_objects") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_output_objects") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
