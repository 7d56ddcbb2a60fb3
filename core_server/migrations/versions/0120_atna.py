"""atna: the sender's cursor over the audit trail

Revision ID: 0120_atna
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0120_atna"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "atna_cursors",
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("last_id", _ID, nullable=False),
        sa.Column("sent", _ID, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("destination", name=op.f("pk_atna_cursors")),
    )


def downgrade() -> None:
    op.drop_table("atna_cursors")
