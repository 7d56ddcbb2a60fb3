"""statistics: turnaround targets per department and priority, departments' working hours

Revision ID: 0070_statistics_targets
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0070_statistics_targets"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    targets = op.create_table(
        "statistics_targets",
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("working_hours", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "department", "priority", "step", name=op.f("pk_statistics_targets")
        ),
    )
    op.create_table(
        "statistics_working_hours",
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("department", name=op.f("pk_statistics_working_hours")),
    )
    # The defaults the issue names; an administrator changes them on /statistics/targets.
    op.bulk_insert(
        targets,
        [
            {
                "department": "",
                "priority": "emergency",
                "step": "report",
                "minutes": 30,
                "working_hours": False,
            },
            {
                "department": "",
                "priority": "routine",
                "step": "report",
                "minutes": 24 * 60,
                "working_hours": False,
            },
            {
                "department": "",
                "priority": "",
                "step": "critical_ack",
                "minutes": 15,
                "working_hours": False,
            },
        ],
    )


def downgrade() -> None:
    op.drop_table("statistics_working_hours")
    op.drop_table("statistics_targets")
