"""film: quality grades of film sheets (胶片质量)

Revision ID: 0106_film_grades
Revises: 0100_film_sheets
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0106_film_grades"
down_revision = "0100_film_sheets"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "film_sheet_grades",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sheet_id", _ID, sa.ForeignKey("film_sheets.id"), nullable=False),
        sa.Column("grade", sa.String(12), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("graded_by", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False, server_default=""),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_film_sheet_grades_sheet", "film_sheet_grades", ["sheet_id", "id"])


def downgrade() -> None:
    op.drop_table("film_sheet_grades")
