"""statistics: the indexes the department's figures need on a year of data (issue 15)

Every figure selects the exams of a range of hospital days by their *exam time*,
``coalesce(scheduled_at, created_at)`` (core_server/statistics/filters.py): an index on
``scheduled_at`` alone cannot answer that, so a month's figure read all of a year's exams.
``ix_ris_exams_exam_time`` indexes the expression itself (SQLite >= 3.9 and PostgreSQL use it
when the query names the same expression).

- ``ix_ris_exams_retake_of_fk``: the retakes made from an exam (the image-quality figure
  counts them per exam: without it each exam scanned every exam, quadratic on a year).
- ``ix_ris_exam_history_new_status``: (new_status, exam_fk) for "who completed / checked in
  this exam", the newest step of one status per exam, without reading all of the history.
- ``ix_ris_orders_referring_department``: the filter's list of referring departments seen
  (every figure page asks for it): a distinct over every order without it.

Measured in bench/README.md (Statistics benchmark).

Revision ID: 0090_statistics_indexes
Revises: 0001
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0090_statistics_indexes"
down_revision = "0001"
branch_labels = None
depends_on = ("0055_ris_prices", "0009_reporting")


def upgrade() -> None:
    op.create_index(
        "ix_ris_exams_exam_time",
        "ris_exams",
        [sa.text("coalesce(scheduled_at, created_at)")],
    )
    op.create_index("ix_ris_exams_retake_of_fk", "ris_exams", ["retake_of_fk"])
    op.create_index("ix_ris_exam_history_new_status", "ris_exam_history", ["new_status", "exam_fk"])
    op.create_index("ix_ris_orders_referring_department", "ris_orders", ["referring_department"])


def downgrade() -> None:
    op.drop_index("ix_ris_orders_referring_department", table_name="ris_orders")
    op.drop_index("ix_ris_exam_history_new_status", table_name="ris_exam_history")
    op.drop_index("ix_ris_exams_retake_of_fk", table_name="ris_exams")
    op.drop_index("ix_ris_exams_exam_time", table_name="ris_exams")
