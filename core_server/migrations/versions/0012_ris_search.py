"""ris: patient search by phone and by name prefix can use an index

Revision ID: 0012_ris_search
Revises: 0003_ris
Create Date: 2026-11-29 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_ris_search"
down_revision = "0003_ris"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ris_patients_phone", "ris_patients", ["phone"])
    if op.get_bind().dialect.name == "postgresql":
        # byte-wise ordering, so that LIKE '张%' walks the name's B-tree (as for the pinyin)
        op.alter_column(
            "ris_patients",
            "name",
            type_=sa.String(128, collation="C"),
            existing_type=sa.String(128),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "ris_patients",
            "name",
            type_=sa.String(128),
            existing_type=sa.String(128, collation="C"),
            existing_nullable=False,
        )
    op.drop_index("ix_ris_patients_phone", "ris_patients")
