"""The queue service's tables: rooms, queues, screens, settings, devices, tickets, calls, the
event journal and idempotency keys. Every bit of queue state lives here, so a restart (or a
second core process) sees exactly what the first saw.

Tickets copy what screens and tickets show from the RIS exam (name, exam, accession) and keep
its id without a foreign key: the queue survives RIS corrections and needs no RIS join to draw
a screen.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)

from core_server.db import BigId, UtcDateTime, metadata

rooms = Table(
    "queueing_rooms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("department", String(64), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),
    # idle, calling (a patient called), busy (an exam in progress), paused (no calls)
    Column("state", String(16), nullable=False, server_default="idle"),
    Column("min_call_interval_seconds", Integer, nullable=False, server_default="5"),
    Column("last_call_at", UtcDateTime),
    Column("current_ticket_id", Integer),
    Column("position", Integer, nullable=False, server_default="0"),
)

queues = Table(
    "queueing_queues",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("department", String(64), nullable=False, server_default=""),
    # Exams of this modality (and department, when set) are checked into this queue.
    Column("modality", String(16), nullable=False, server_default=""),
    Column("prefix", String(8), nullable=False, server_default=""),
    # arrival: first come first served; appointment: by booked time (walk-ins by arrival)
    Column("order_by", String(16), nullable=False, server_default="arrival"),
    Column("priority_groups", String(255), nullable=False, server_default=""),
    Column("late_grace_minutes", Integer, nullable=False, server_default="15"),
    Column("late_rule", String(16), nullable=False, server_default="back"),
    Column("late_insert_every", Integer, nullable=False, server_default="3"),
    Column("missed_suspend_minutes", Integer, nullable=False, server_default="5"),
    Column("missed_rule", String(16), nullable=False, server_default="insert"),
    Column("missed_insert_every", Integer, nullable=False, server_default="2"),
    Column("missed_max", Integer, nullable=False, server_default="3"),
    Column("voice_template", String(255), nullable=False),
    Column("voice_repeat", Integer, nullable=False, server_default="2"),
    # Regular patients called since the last inserted (late / returning) one: see ordering.py.
    Column("regular_since_late", Integer, nullable=False, server_default="0"),
    Column("regular_since_returned", Integer, nullable=False, server_default="0"),
    Column("position", Integer, nullable=False, server_default="0"),
)

room_queues = Table(
    "queueing_room_queues",
    metadata,
    Column(
        "room_id", Integer, ForeignKey("queueing_rooms.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "queue_id", Integer, ForeignKey("queueing_queues.id", ondelete="CASCADE"), primary_key=True
    ),
)

screens = Table(
    "queueing_screens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("orientation", String(16), nullable=False, server_default="landscape"),
    Column("rows", Integer, nullable=False, server_default="8"),
    Column("page_seconds", Integer, nullable=False, server_default="8"),
    Column("mask_names", Boolean, nullable=False, server_default=true()),
)

screen_queues = Table(
    "queueing_screen_queues",
    metadata,
    Column(
        "screen_id",
        Integer,
        ForeignKey("queueing_screens.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "queue_id", Integer, ForeignKey("queueing_queues.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("position", Integer, nullable=False, server_default="0"),
)

# One row (id 1): what every screen and ticket shares (the time zone is the core's).
settings = Table(
    "queueing_settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("hospital_name", String(128), nullable=False, server_default=""),
    Column("font_title", Integer, nullable=False, server_default="48"),
    Column("font_header", Integer, nullable=False, server_default="36"),
    Column("font_list", Integer, nullable=False, server_default="32"),
    Column("font_call", Integer, nullable=False, server_default="64"),
    Column("font_clock", Integer, nullable=False, server_default="28"),
    Column("voice_enabled", Boolean, nullable=False, server_default=true()),
    Column("voice_rate", Integer, nullable=False, server_default="150"),
    # full: the name as registered; surname: 张某某; none: number only
    Column("voice_name", String(16), nullable=False, server_default="full"),
    Column("logo", LargeBinary),
    Column("logo_type", String(32), nullable=False, server_default=""),
    Column("updated_at", UtcDateTime),
)

devices = Table(
    "queueing_devices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(48), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # screen, caller, printer
    Column("username", String(64), nullable=False, unique=True),
    Column("room_id", Integer, ForeignKey("queueing_rooms.id", ondelete="SET NULL")),
    Column("screen_id", Integer, ForeignKey("queueing_screens.id", ondelete="SET NULL")),
    Column("queues", String(255), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime),
)

tickets = Table(
    "queueing_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue_id", Integer, ForeignKey("queueing_queues.id"), nullable=False),
    Column("service_day", Date, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("number", String(16), nullable=False),
    Column("exam_id", Integer),
    Column("accession", String(64), nullable=False, server_default=""),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("patient_name", String(128), nullable=False, server_default=""),
    Column("sex", String(4), nullable=False, server_default=""),
    Column("age", String(8), nullable=False, server_default=""),
    Column("exam_name", String(128), nullable=False, server_default=""),
    Column("emergency", Boolean, nullable=False, server_default=false()),
    Column("priority_group", String(32)),
    Column("arrived_at", UtcDateTime, nullable=False),
    Column("appointment_at", UtcDateTime),
    Column("late", Boolean, nullable=False, server_default=false()),
    Column("returned", Boolean, nullable=False, server_default=false()),
    Column("returned_at", UtcDateTime),
    # waiting, called, in_progress, finished, missed, cancelled, absent
    Column("status", String(16), nullable=False, server_default="waiting"),
    # Open until finished, cancelled or absent; an exam has at most one open ticket.
    Column("is_open", Boolean, nullable=False, server_default=true()),
    Column("room_id", Integer, ForeignKey("queueing_rooms.id", ondelete="SET NULL")),
    Column("called_at", UtcDateTime),
    Column("call_count", Integer, nullable=False, server_default="0"),
    Column("missed_count", Integer, nullable=False, server_default="0"),
    Column("back_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("issued_by", String(64), nullable=False, server_default=""),
    UniqueConstraint("queue_id", "service_day", "sequence"),
    Index(None, "queue_id", "status"),
    Index(None, "status", "back_at"),
    Index(
        "ux_queueing_tickets_open_exam",
        "exam_id",
        unique=True,
        sqlite_where=text("is_open AND exam_id IS NOT NULL"),
        postgresql_where=text("is_open AND exam_id IS NOT NULL"),
    ),
)

calls = Table(
    "queueing_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "ticket_id", Integer, ForeignKey("queueing_tickets.id", ondelete="CASCADE"), nullable=False
    ),
    Column("room_id", Integer, ForeignKey("queueing_rooms.id", ondelete="CASCADE"), nullable=False),
    Column(
        "queue_id", Integer, ForeignKey("queueing_queues.id", ondelete="CASCADE"), nullable=False
    ),
    Column("called_at", UtcDateTime, nullable=False),
    Column("recall", Boolean, nullable=False, server_default=false()),
    Column("voice_text", String(255), nullable=False, server_default=""),
    Column("called_by", String(64), nullable=False, server_default=""),
    Index(None, "queue_id", "called_at"),
)

# The event journal: gap-free sequence numbers (from ``event_counter``, taken under its row
# lock inside the writing transaction) so a WebSocket client can resume after reconnecting.
events = Table(
    "queueing_events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("type", String(32), nullable=False),
    Column("queue", String(32), nullable=False, server_default=""),
    Column("room", String(32), nullable=False, server_default=""),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)

event_counter = Table(
    "queueing_event_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigId, nullable=False),
)

# A device's spool may resend an action after a lost answer: the answer is kept with the key.
idempotency_keys = Table(
    "queueing_idempotency_keys",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)
