"""statistics: how much review changed each signed report, kept per exam beside the facts
(core_server/statistics/changes.py); empty until the facts' next rebuild, which this migration
asks for by setting their cursors back to 0

Revision ID: 0092_statistics_report_changes
Revises: 0091_statistics_exam_facts
Create Date: 2026-12-07 14:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0092_statistics_report_changes"
down_revision = "0091_statistics_exam_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statistics_report_changes",
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["ris_exams.id"],
            name=op.f("fk_statistics_report_changes_exam_id_ris_exams"),
        ),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_statistics_report_changes")),
    )
    op.execute("UPDATE statistics_facts_cursor SET last_id = 0")


def downgrade() -> None:
    op.drop_table("statistics_report_changes")
