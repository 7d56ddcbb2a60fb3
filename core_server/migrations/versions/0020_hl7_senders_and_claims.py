"""hl7: who may send to the listener (hl7_allowed_senders), and which process is applying an
inbound message (hl7_inbound_messages.claimed_by, so a restarted core releases its
predecessor's claims at start)

Revision ID: 0020_hl7_senders_and_claims
Revises: 0011_hl7_reporting_cursor
Create Date: 2026-12-07 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_hl7_senders_and_claims"
down_revision = "0011_hl7_reporting_cursor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hl7_allowed_senders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=64), server_default="", nullable=False),
        sa.Column("sending_application", sa.String(length=180), server_default="", nullable=False),
        sa.Column("sending_facility", sa.String(length=180), server_default="", nullable=False),
        sa.Column("note", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_allowed_senders")),
        sa.UniqueConstraint(
            "address",
            "sending_application",
            "sending_facility",
            name="uq_hl7_allowed_senders_address_application_facility",
        ),
    )
    with op.batch_alter_table("hl7_inbound_messages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hl7_inbound_messages") as batch:
        batch.drop_column("claimed_by")
    op.drop_table("hl7_allowed_senders")
