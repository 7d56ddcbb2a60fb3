"""ris: a price on each exam item and the fee on each exam (revenue statistics, issue 15)

Money is integer fen (分, 1/100 yuan) in ``ris_procedures.price_fen`` and ``ris_exams.fee_fen``:
exact on SQLite and PostgreSQL alike, sums without rounding. An exam takes its item's price
when it is created or its item changes; a registrar may change it through the RIS exam API
(audited). Existing exams take their item's price of today (0 until the administrator enters
the hospital's price list).

Revision ID: 0055_ris_prices
Revises: 0050_ris_names_and_times
Create Date: 2026-12-07 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0055_ris_prices"
down_revision = "0050_ris_names_and_times"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ris_procedures", sa.Column("price_fen", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "ris_exams", sa.Column("fee_fen", sa.Integer(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE ris_exams SET fee_fen = COALESCE((SELECT p.price_fen FROM ris_procedures p"
        " WHERE p.code = ris_exams.procedure_code), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("ris_exams") as batch:
        batch.drop_column("fee_fen")
    with op.batch_alter_table("ris_procedures") as batch:
        batch.drop_column("price_fen")
