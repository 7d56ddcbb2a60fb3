"""queueing: rooms, queues, screens, settings, devices, tickets, calls, event journal

Revision ID: 0007_queueing
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_queueing"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queueing_event_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_event_counter")),
    )
    op.create_table(
        "queueing_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=32), server_default="", nullable=False),
        sa.Column("room", sa.String(length=32), server_default="", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_queueing_events")),
    )
    op.create_index(
        op.f("ix_queueing_events_created_at"), "queueing_events", ["created_at"], unique=False
    )
    op.create_table(
        "queueing_idempotency_keys",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "key", name=op.f("pk_queueing_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_queueing_idempotency_keys_created_at"),
        "queueing_idempotency_keys",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "queueing_queues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), server_default="", nullable=False),
        sa.Column("modality", sa.String(length=16), server_default="", nullable=False),
        sa.Column("prefix", sa.String(length=8), server_default="", nullable=False),
        sa.Column("order_by", sa.String(length=16), server_default="arrival", nullable=False),
        sa.Column("priority_groups", sa.String(length=255), server_default="", nullable=False),
        sa.Column("late_grace_minutes", sa.Integer(), server_default="15", nullable=False),
        sa.Column("late_rule", sa.String(length=16), server_default="back", nullable=False),
        sa.Column("late_insert_every", sa.Integer(), server_default="3", nullable=False),
        sa.Column("missed_suspend_minutes", sa.Integer(), server_default="5", nullable=False),
        sa.Column("missed_rule", sa.String(length=16), server_default="insert", nullable=False),
        sa.Column("missed_insert_every", sa.Integer(), server_default="2", nullable=False),
        sa.Column("missed_max", sa.Integer(), server_default="3", nullable=False),
        sa.Column("voice_template", sa.String(length=255), nullable=False),
        sa.Column("voice_repeat", sa.Integer(), server_default="2", nullable=False),
        sa.Column("regular_since_late", sa.Integer(), server_default="0", nullable=False),
        sa.Column("regular_since_returned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_queues")),
        sa.UniqueConstraint("code", name=op.f("uq_queueing_queues_code")),
    )
    op.create_table(
        "queueing_rooms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), server_default="", nullable=False),
        sa.Column("modality", sa.String(length=16), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), server_default="idle", nullable=False),
        sa.Column("min_call_interval_seconds", sa.Integer(), server_default="5", nullable=False),
        sa.Column("last_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_ticket_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_rooms")),
        sa.UniqueConstraint("code", name=op.f("uq_queueing_rooms_code")),
    )
    op.create_table(
        "queueing_screens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("orientation", sa.String(length=16), server_default="landscape", nullable=False),
        sa.Column("rows", sa.Integer(), server_default="8", nullable=False),
        sa.Column("page_seconds", sa.Integer(), server_default="8", nullable=False),
        sa.Column("mask_names", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_screens")),
        sa.UniqueConstraint("code", name=op.f("uq_queueing_screens_code")),
    )
    op.create_table(
        "queueing_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False),
        sa.Column("font_title", sa.Integer(), server_default="48", nullable=False),
        sa.Column("font_header", sa.Integer(), server_default="36", nullable=False),
        sa.Column("font_list", sa.Integer(), server_default="32", nullable=False),
        sa.Column("font_call", sa.Integer(), server_default="64", nullable=False),
        sa.Column("font_clock", sa.Integer(), server_default="28", nullable=False),
        sa.Column("voice_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("voice_rate", sa.Integer(), server_default="150", nullable=False),
        sa.Column("voice_name", sa.String(length=16), server_default="full", nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=32), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_settings")),
    )
    op.create_table(
        "queueing_devices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("screen_id", sa.Integer(), nullable=True),
        sa.Column("queues", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["queueing_rooms.id"],
            name=op.f("fk_queueing_devices_room_id_queueing_rooms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["screen_id"],
            ["queueing_screens.id"],
            name=op.f("fk_queueing_devices_screen_id_queueing_screens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_queueing_devices_name")),
        sa.UniqueConstraint("username", name=op.f("uq_queueing_devices_username")),
    )
    op.create_table(
        "queueing_room_queues",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queueing_queues.id"],
            name=op.f("fk_queueing_room_queues_queue_id_queueing_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["queueing_rooms.id"],
            name=op.f("fk_queueing_room_queues_room_id_queueing_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "queue_id", name=op.f("pk_queueing_room_queues")),
    )
    op.create_table(
        "queueing_screen_queues",
        sa.Column("screen_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queueing_queues.id"],
            name=op.f("fk_queueing_screen_queues_queue_id_queueing_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["screen_id"],
            ["queueing_screens.id"],
            name=op.f("fk_queueing_screen_queues_screen_id_queueing_screens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("screen_id", "queue_id", name=op.f("pk_queueing_screen_queues")),
    )
    op.create_table(
        "queueing_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=True),
        sa.Column("accession", sa.String(length=64), server_default="", nullable=False),
        sa.Column("patient_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("patient_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("sex", sa.String(length=4), server_default="", nullable=False),
        sa.Column("age", sa.String(length=8), server_default="", nullable=False),
        sa.Column("exam_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("priority_group", sa.String(length=32), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("returned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="waiting", nullable=False),
        sa.Column("is_open", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("call_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("missed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queueing_queues.id"],
            name=op.f("fk_queueing_tickets_queue_id_queueing_queues"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["queueing_rooms.id"],
            name=op.f("fk_queueing_tickets_room_id_queueing_rooms"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_tickets")),
        sa.UniqueConstraint(
            "queue_id",
            "service_day",
            "sequence",
            name=op.f("uq_queueing_tickets_queue_id_service_day_sequence"),
        ),
    )
    op.create_index(
        op.f("ix_queueing_tickets_queue_id_status"),
        "queueing_tickets",
        ["queue_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_queueing_tickets_status_back_at"),
        "queueing_tickets",
        ["status", "back_at"],
        unique=False,
    )
    op.create_index(
        "ux_queueing_tickets_open_exam",
        "queueing_tickets",
        ["exam_id"],
        unique=True,
        sqlite_where=sa.text("is_open AND exam_id IS NOT NULL"),
        postgresql_where=sa.text("is_open AND exam_id IS NOT NULL"),
    )
    op.create_table(
        "queueing_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recall", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("voice_text", sa.String(length=255), server_default="", nullable=False),
        sa.Column("called_by", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queueing_queues.id"],
            name=op.f("fk_queueing_calls_queue_id_queueing_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["queueing_rooms.id"],
            name=op.f("fk_queueing_calls_room_id_queueing_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["queueing_tickets.id"],
            name=op.f("fk_queueing_calls_ticket_id_queueing_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queueing_calls")),
    )
    op.create_index(
        op.f("ix_queueing_calls_queue_id_called_at"),
        "queueing_calls",
        ["queue_id", "called_at"],
        unique=False,
    )
    op.bulk_insert(
        sa.table(
            "queueing_event_counter", sa.column("id", sa.Integer), sa.column("seq", sa.Integer)
        ),
        [{"id": 1, "seq": 0}],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_queueing_calls_queue_id_called_at"), table_name="queueing_calls")
    op.drop_table("queueing_calls")
    op.drop_index(
        "ux_queueing_tickets_open_exam",
        table_name="queueing_tickets",
        sqlite_where=sa.text("is_open AND exam_id IS NOT NULL"),
        postgresql_where=sa.text("is_open AND exam_id IS NOT NULL"),
    )
    op.drop_index(op.f("ix_queueing_tickets_status_back_at"), table_name="queueing_tickets")
    op.drop_index(op.f("ix_queueing_tickets_queue_id_status"), table_name="queueing_tickets")
    op.drop_table("queueing_tickets")
    op.drop_table("queueing_screen_queues")
    op.drop_table("queueing_room_queues")
    op.drop_table("queueing_devices")
    op.drop_table("queueing_settings")
    op.drop_table("queueing_screens")
    op.drop_table("queueing_rooms")
    op.drop_table("queueing_queues")
    op.drop_index(
        op.f("ix_queueing_idempotency_keys_created_at"), table_name="queueing_idempotency_keys"
    )
    op.drop_table("queueing_idempotency_keys")
    op.drop_index(op.f("ix_queueing_events_created_at"), table_name="queueing_events")
    op.drop_table("queueing_events")
    op.drop_table("queueing_event_counter")
