"""hl7: inbound message log, destinations, outbound queue

Revision ID: 0004_hl7
Revises: 0001
Create Date: 2026-11-29 07:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_hl7"
down_revision = "0001"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hl7_inbound_messages",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peer", sa.String(length=64), server_default="", nullable=False),
        sa.Column("sending_application", sa.String(length=180), server_default="", nullable=False),
        sa.Column("sending_facility", sa.String(length=180), server_default="", nullable=False),
        sa.Column("control_id", sa.String(length=64), nullable=True),
        sa.Column("message_type", sa.String(length=16), server_default="", nullable=False),
        sa.Column("charset", sa.String(length=32), server_default="", nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), server_default="received", nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=True),
        sa.Column("ack", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duplicates", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_inbound_messages")),
        sa.UniqueConstraint(
            "sending_application",
            "sending_facility",
            "control_id",
            name="uq_hl7_inbound_sender_control_id",
        ),
    )
    for column in ("received_at", "message_type", "status"):
        op.create_index(op.f(f"ix_hl7_inbound_messages_{column}"), "hl7_inbound_messages", [column])
    op.create_table(
        "hl7_destinations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column(
            "receiving_application", sa.String(length=180), server_default="", nullable=False
        ),
        sa.Column("receiving_facility", sa.String(length=180), server_default="", nullable=False),
        sa.Column("charset", sa.String(length=32), server_default="UNICODE UTF-8", nullable=False),
        sa.Column("purposes", sa.String(length=255), server_default="order_status", nullable=False),
        sa.Column("status_message", sa.String(length=8), server_default="ORM", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="10", nullable=False),
        sa.Column("retry_base_seconds", sa.Float(), server_default="5", nullable=False),
        sa.Column("retry_max_seconds", sa.Float(), server_default="600", nullable=False),
        sa.Column("ack_timeout_seconds", sa.Float(), server_default="30", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_destinations")),
        sa.UniqueConstraint("name", name=op.f("uq_hl7_destinations_name")),
    )
    op.create_table(
        "hl7_outbound_jobs",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("destination_fk", sa.Integer(), nullable=False),
        sa.Column("message_type", sa.String(length=16), server_default="", nullable=False),
        sa.Column("control_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=64), server_default="", nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=True),
        sa.Column("ack", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["destination_fk"],
            ["hl7_destinations.id"],
            name=op.f("fk_hl7_outbound_jobs_destination_fk_hl7_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_outbound_jobs")),
    )
    op.create_index(
        op.f("ix_hl7_outbound_jobs_destination_fk"), "hl7_outbound_jobs", ["destination_fk"]
    )
    op.create_index(op.f("ix_hl7_outbound_jobs_created_at"), "hl7_outbound_jobs", ["created_at"])
    op.create_index(
        op.f("ix_hl7_outbound_jobs_status_next_attempt_at"),
        "hl7_outbound_jobs",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_table("hl7_outbound_jobs")
    op.drop_table("hl7_destinations")
    op.drop_table("hl7_inbound_messages")
