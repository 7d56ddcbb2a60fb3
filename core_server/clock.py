"""The hospital's clock: aware datetimes inside, the hospital's time zone outside.

Every time the core keeps is an aware datetime in UTC (the database column type is
:class:`core_server.db.UtcDateTime`); every time a person reads (a page, a PDF, a ticket, a
voice call) or another system receives (HL7 TS, DICOM DA/TM/DT, an API's ISO 8601 with its
offset) is in the hospital's zone, whatever zone the machine runs in (servers often run in
UTC). The zone is one setting of the core (``--timezone``, default Asia/Shanghai), set once
per process at start.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
_zone: ZoneInfo = ZoneInfo(DEFAULT_ZONE)


def set_zone(name: str) -> None:
    """Make ``name`` (an IANA zone such as ``Asia/Shanghai``) the hospital's zone."""
    global _zone
    _zone = parse_zone(name)


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)"
        ) from None


def zone() -> ZoneInfo:
    return _zone


def now() -> datetime:
    """Now, aware, in UTC (what the core stores)."""
    return datetime.now(UTC)


def utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is taken as UTC (what SQLite hands back)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def local(at: datetime | None = None, tz: tzinfo | None = None) -> datetime:
    """``at`` (default now) in the hospital's zone; a naive datetime is taken as UTC."""
    return utc(at or now()).astimezone(tz or _zone)


def today() -> date:
    """The hospital's date now."""
    return local().date()


def from_local(wall: datetime) -> datetime:
    """A wall-clock time in the hospital (naive, e.g. typed in a form or an HL7 TS without an
    offset) as an aware datetime; an aware one is returned as it is."""
    return wall if wall.tzinfo is not None else wall.replace(tzinfo=_zone)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first moment of ``day`` in the hospital and the first of the next, aware."""
    start = datetime.combine(day, time(0), tzinfo=_zone)
    end = datetime.combine(date.fromordinal(day.toordinal() + 1), time(0), tzinfo=_zone)
    return start, end


def iso(at: datetime | None) -> str | None:
    """ISO 8601 with the hospital's offset (``2026-12-07T14:09:00+08:00``), for APIs."""
    return local(at).isoformat() if at is not None else None


def shown(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The hospital time a person reads; empty for no time."""
    return local(at).strftime(fmt) if at is not None else ""


def hl7_ts(at: datetime | None = None) -> str:
    """An HL7 TS/DTM with the hospital's offset: ``20261207140900+0800``."""
    return local(at).strftime("%Y%m%d%H%M%S%z")


def dicom_date(at: datetime | None = None) -> str:
    return da(local(at))


def dicom_time(at: datetime | None = None) -> str:
    return tm(local(at))


def da(day: date) -> str:
    """A day as a DICOM DA, as it is (``strftime`` costs three times this: the worklist
    formats two per answer)."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def tm(at: datetime | time) -> str:
    """A wall-clock time as a DICOM TM (seconds), as it is: pass a hospital time."""
    return f"{at.hour:02d}{at.minute:02d}{at.second:02d}"


def dicom_datetime(at: datetime | None = None) -> str:
    """A DICOM DT with the offset: ``20261207140900+0800``."""
    return local(at).strftime("%Y%m%d%H%M%S%z")
