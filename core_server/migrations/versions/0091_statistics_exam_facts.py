"""statistics: one row of facts per exam (who registered and performed it, its moments), kept
from the RIS and reporting histories by cursor (core_server/statistics/facts.py)

The table starts empty with both cursors at 0: the first catch-up (the service's ticker at
start-up, or the first figure) finds the whole history behind and rebuilds every row.

Revision ID: 0091_statistics_exam_facts
Revises: 0090_statistics_indexes
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0091_statistics_exam_facts"
down_revision = "0090_statistics_indexes"
branch_labels = None
depends_on = None

MOMENTS = ("arrived", "started", "completed", "first_report", "signed")


def upgrade() -> None:
    op.create_table(
        "statistics_exam_facts",
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("registrar", sa.String(length=64), nullable=True),
        sa.Column("technician", sa.String(length=64), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=True) for name in MOMENTS),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["ris_exams.id"], name=op.f("fk_statistics_exam_facts_exam_id_ris_exams")
        ),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_statistics_exam_facts")),
    )
    cursor = op.create_table(
        "statistics_facts_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_statistics_facts_cursor")),
    )
    op.bulk_insert(
        cursor,
        [
            {"name": "ris_exam_history", "last_id": 0},
            {"name": "reporting_history", "last_id": 0},
        ],
    )


def downgrade() -> None:
    op.drop_table("statistics_facts_cursor")
    op.drop_table("statistics_exam_facts")
