"""Working-hours durations on the hospital's clock (Mon-Fri 08:00-12:00, 13:30-17:30), while
the machine runs in UTC: the edge cases of a weekend, lunch, midnight and long spans."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core_server import clock
from core_server.refusals import Invalid
from core_server.statistics.workhours import WorkingHours

RULE = WorkingHours.parse("1-5 08:00-12:00,13:30-17:30")


def at(text: str) -> datetime:
    """A hospital wall-clock time, aware (2026-12-04 is a Friday)."""
    return clock.from_local(datetime.fromisoformat(text))


def hours(start: str, end: str) -> float:
    return RULE.duration(at(start), at(end)).total_seconds() / 3600


def test_done_friday_at_five_reported_monday_at_nine_is_one_working_hour() -> None:
    """With the department closing at 17:00; closing at 17:30 it is half an hour more."""
    assert datetime.fromisoformat("2026-12-04").isoweekday() == 5
    closing_at_five = WorkingHours.parse("1-5 08:00-12:00,13:00-17:00")
    taken = closing_at_five.duration(at("2026-12-04 17:00"), at("2026-12-07 09:00"))
    assert taken == timedelta(hours=1)
    assert hours("2026-12-04 17:00", "2026-12-07 09:00") == 1.5


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-12-07 09:00", "2026-12-07 10:30", 1.5),  # inside a morning
        ("2026-12-07 11:00", "2026-12-07 14:00", 1.5),  # lunch does not count
        ("2026-12-07 12:10", "2026-12-07 13:20", 0.0),  # wholly inside lunch
        ("2026-12-07 07:00", "2026-12-07 08:00", 0.0),  # before opening
        ("2026-12-07 17:00", "2026-12-08 08:30", 1.0),  # over midnight: 17:00-17:30 + 08:00-08:30
        ("2026-12-05 09:00", "2026-12-06 16:00", 0.0),  # a whole weekend
        ("2026-12-07 08:00", "2026-12-07 17:30", 8.0),  # one whole working day
        ("2026-12-07 08:00", "2026-12-14 08:00", 40.0),  # a week
        ("2026-12-04 17:00", "2027-01-04 09:00", 8.0 * 20 + 0.5 + 1.0),  # four weeks and a bit
        ("2026-12-07 10:00", "2026-12-07 10:00", 0.0),  # no time
        ("2026-12-07 10:00", "2026-12-07 09:00", 0.0),  # backwards: none, never negative
    ],
)
def test_working_hours(start: str, end: str, expected: float) -> None:
    assert hours(start, end) == pytest.approx(expected)


def test_long_spans_agree_with_counting_day_by_day() -> None:
    """The whole-week shortcut gives what walking every day gives."""
    start = at("2026-11-03 10:15")
    for days in range(0, 60, 3):
        end = start + timedelta(days=days, hours=5, minutes=20)
        walked = timedelta(0)
        day = start
        while day < end:
            step = min(day + timedelta(days=1), end)
            walked += RULE.duration(day, step)
            day = step
        assert RULE.duration(start, end) == walked, days


def test_the_day_follows_the_hospital_not_utc() -> None:
    """08:00 in Shanghai is 00:00 UTC: an hour from 07:30 to 08:30 local counts half."""
    start = datetime.fromisoformat("2026-12-06T23:30:00+00:00")  # Mon 07:30 in Shanghai
    assert RULE.duration(start, start + timedelta(hours=1)) == timedelta(minutes=30)


def test_rules_read_and_write_back() -> None:
    assert RULE.text() == "1-5 08:00-12:00,13:30-17:30"
    every_day = WorkingHours.parse("1-5,7 00:00-24:00")
    assert every_day.text() == "1-5,7 00:00-24:00"
    assert every_day.duration(at("2026-12-05 10:00"), at("2026-12-07 10:00")) == timedelta(
        hours=24 + 10
    )


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "Mon-Fri 08:00-12:00",
        "1-5",
        "1-8 08:00-12:00",
        "5-1 08:00-12:00",
        "1-5 12:00-08:00",
        "1-5 08:00-12:00,11:00-13:00",
        "1-5 8:00-12:00",
        "1-5 08:00-24:30",
    ],
)
def test_bad_rules_are_refused(rule: str) -> None:
    with pytest.raises(Invalid) as refused:
        WorkingHours.parse(rule)
    assert refused.value.code == "statistics.targets.bad_hours"
