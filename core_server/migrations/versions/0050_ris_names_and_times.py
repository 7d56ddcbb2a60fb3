"""ris: names searchable however they came in; scheduled and performed times aware (UTC)

- ``ris_patients`` gets ``name_shown`` (the display name, 王建国) and ``name_spelled`` (the
  pinyin's letters, WANGJIANGUO), indexed, filled for every patient; a name stored
  DICOM-shaped (``WANG^JIANGUO=王^建国``) is normalised to its components and pinyin, and the
  initials are made again (ris/person.py).
- ``ris_exams.scheduled_at``, ``ris_appointments.start`` and ``ris_performed_steps``'
  ``started_at``/``ended_at`` held the hospital's wall clock without a zone: they are
  converted from the hospital's zone (the core's ``--timezone``, Asia/Shanghai by default) to
  UTC, and become ``timestamp with time zone`` on PostgreSQL.

Revision ID: 0050_ris_names_and_times
Revises: 0012_ris_search
Create Date: 2026-12-08 12:00:00
"""

from datetime import UTC, datetime, tzinfo

import sqlalchemy as sa
from alembic import op

revision = "0050_ris_names_and_times"
down_revision = "0012_ris_search"
branch_labels = None
depends_on = None

_key = sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql")
# (table, column, nullable) of the wall-clock columns.
_WALL_CLOCK = (
    ("ris_exams", "scheduled_at", True),
    ("ris_appointments", "start", False),
    ("ris_performed_steps", "started_at", True),
    ("ris_performed_steps", "ended_at", True),
)


def _zone_name() -> str:
    from core_server import clock

    return clock.zone().key


def upgrade() -> None:
    for column in ("name_shown", "name_spelled"):
        op.add_column("ris_patients", sa.Column(column, _key, server_default="", nullable=False))
        op.create_index(op.f(f"ix_ris_patients_{column}"), "ris_patients", [column])
    _fill_names()
    if op.get_bind().dialect.name == "postgresql":
        for table, column, nullable in _WALL_CLOCK:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(timezone=True),
                existing_type=sa.DateTime(),
                existing_nullable=nullable,
                postgresql_using=f"\"{column}\" AT TIME ZONE '{_zone_name()}'",
            )
    else:
        _shift_sqlite(to_utc=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, nullable in _WALL_CLOCK:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(),
                existing_type=sa.DateTime(timezone=True),
                existing_nullable=nullable,
                postgresql_using=f"\"{column}\" AT TIME ZONE '{_zone_name()}'",
            )
    else:
        _shift_sqlite(to_utc=False)
    for column in ("name_spelled", "name_shown"):
        op.drop_index(op.f(f"ix_ris_patients_{column}"), "ris_patients")
        op.drop_column("ris_patients", column)


def _fill_names() -> None:
    from core_server.ris import person

    conn = op.get_bind()
    patients = sa.table(
        "ris_patients",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("name_pinyin", sa.String()),
        sa.column("name_shown", sa.String()),
        sa.column("name_spelled", sa.String()),
        sa.column("name_initials", sa.String()),
    )
    rows = conn.execute(sa.select(patients.c.id, patients.c.name, patients.c.name_pinyin)).all()
    for row in rows:
        name, spelled = row.name, row.name_pinyin
        if "=" in name:  # a DICOM-shaped name: its components and its own alphabetic group
            name, spelled = person.received(name)
        conn.execute(
            patients.update()
            .where(patients.c.id == row.id)
            .values(name=name, name_pinyin=spelled, **person.search_columns(name, spelled))
        )


def _shift_sqlite(*, to_utc: bool) -> None:
    """SQLite keeps datetimes as text without a zone: rewrite each value."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(_zone_name())
    conn = op.get_bind()
    for table_name, column, _nullable in _WALL_CLOCK:
        table = sa.table(
            table_name, sa.column("id", sa.Integer()), sa.column(column, sa.DateTime())
        )
        values = conn.execute(
            sa.select(table.c.id, table.c[column]).where(table.c[column].is_not(None))
        ).all()
        for row_id, value in values:
            conn.execute(
                table.update()
                .where(table.c.id == row_id)
                .values({column: _shifted(value, zone, to_utc)})
            )


def _shifted(value: datetime, zone: tzinfo, to_utc: bool) -> datetime:
    if to_utc:
        return value.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
