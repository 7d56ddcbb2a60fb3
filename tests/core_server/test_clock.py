"""The hospital clock: aware times inside, the hospital's zone outside, with the machine in
UTC (tests/conftest.py sets TZ=UTC)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from core_server import clock, db


def test_the_machine_runs_in_utc_for_these_tests() -> None:
    assert time.strftime("%z") == "+0000"


def test_local_times_are_the_hospitals_not_the_machines() -> None:
    at = datetime(2026, 12, 7, 6, 9, tzinfo=UTC)
    assert clock.local(at).strftime("%H:%M%z") == "14:09+0800"
    assert clock.shown(at) == "2026-12-07 14:09"
    assert clock.iso(at) == "2026-12-07T14:09:00+08:00"
    assert clock.hl7_ts(at) == "20261207140900+0800"
    assert (clock.dicom_date(at), clock.dicom_time(at)) == ("20261207", "140900")
    assert clock.dicom_datetime(at) == "20261207140900+0800"
    assert clock.iso(None) is None and clock.shown(None) == ""


def test_wall_clock_times_are_the_hospitals() -> None:
    appointment = clock.from_local(datetime(2026, 12, 7, 14, 12))
    assert clock.utc(appointment) == datetime(2026, 12, 7, 6, 12, tzinfo=UTC)
    aware = datetime(2026, 12, 7, 14, 12, tzinfo=timezone(timedelta(hours=1)))
    assert clock.from_local(aware) is aware
    start, end = clock.local_day_bounds(date(2026, 12, 7))
    assert clock.utc(start) == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_the_zone_is_one_setting() -> None:
    try:
        clock.set_zone("Asia/Urumqi")
        assert clock.shown(datetime(2026, 12, 7, 6, 9, tzinfo=UTC)) == "2026-12-07 12:09"
    finally:
        clock.set_zone(clock.DEFAULT_ZONE)
    with pytest.raises(ValueError, match="unknown time zone"):
        clock.set_zone("Mars/Olympus")


def test_settings_refuse_an_unknown_zone() -> None:
    from pydantic import ValidationError

    from core_server.settings import Settings

    assert Settings().timezone == "Asia/Shanghai"
    with pytest.raises(ValidationError):
        Settings(timezone="Nowhere/Town")


def test_utc_datetime_column_is_aware_both_ways(database_url: str) -> None:
    engine = db.make_engine(database_url)
    table = Table(
        "moments",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", db.UtcDateTime()),
    )
    table.metadata.create_all(engine)
    shanghai = datetime(2026, 12, 7, 14, 9, tzinfo=clock.zone())
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=shanghai))
        stored = conn.execute(select(table.c.at)).scalar_one()
        assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
        assert stored == shanghai
        with pytest.raises(Exception, match="naive"):
            conn.execute(insert(table).values(id=2, at=datetime(2026, 12, 7, 14, 9)))
    engine.dispose()
