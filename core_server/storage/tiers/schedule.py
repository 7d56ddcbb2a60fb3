"""When and how fast the rules' runner works (docs/storage-rules.md): the idle hours in the
hospital's time, the rate limits (MB/s and objects/s), the ingest meter that pauses it, and
the admin-edited row of ``storage_rule_settings``."""

from __future__ import annotations

import collections
import re
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from datetime import time as daytime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.refusals import Invalid
from core_server.storage.tiers.rules_tables import storage_rule_settings as table

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
RUN_NOW_FOR = timedelta(hours=2)  # "run now" lifts the idle hours this long (or until empty)


@dataclass
class RunnerSettings:
    idle_start: str = "22:00"
    idle_end: str = "06:00"
    max_mb_per_second: float = 50.0
    max_objects_per_second: float = 100.0
    busy_per_minute: int = 300  # objects stored in the last minute that pause the runner
    prefetch_enabled: bool = True
    prefetch_at: str = "20:00"  # hospital time, the day before the exams
    prefetch_per_patient: int = 3
    run_now_until: datetime | None = None
    prefetch_last_day: str = ""

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_now_until"] = clock.iso(self.run_now_until) if self.run_now_until else None
        return out


EDITABLE = (
    "idle_start",
    "idle_end",
    "max_mb_per_second",
    "max_objects_per_second",
    "busy_per_minute",
    "prefetch_enabled",
    "prefetch_at",
    "prefetch_per_patient",
)


def _hhmm(value: str) -> daytime:
    match = _HHMM.match(value)
    if match is None:
        raise Invalid("storage.rules.time", value=value)
    return daytime(int(match.group(1)), int(match.group(2)))


def in_window(start: str, end: str, at: datetime) -> bool:
    """Whether ``at`` (aware) falls in the hospital-time window [start, end), which may run
    over midnight (22:00-06:00); start == end is all day."""
    begin, finish, now = _hhmm(start), _hhmm(end), clock.local(at).time()
    if begin == finish:
        return True
    if begin < finish:
        return begin <= now < finish
    return now >= begin or now < finish


def load(engine: Engine) -> RunnerSettings:
    with db.read(engine) as conn:
        row = conn.execute(select(table).where(table.c.id == 1)).first()
    if row is None:
        return RunnerSettings()
    m = row._mapping
    return RunnerSettings(**{k: m[k] for k in asdict(RunnerSettings())})


def _ensure(engine: Engine) -> None:
    try:
        with db.write(engine) as conn:
            if conn.execute(select(table.c.id).where(table.c.id == 1)).first() is None:
                conn.execute(insert(table).values(id=1, updated_at=clock.now()))
    except IntegrityError:
        pass  # another process wrote it first


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid("storage.rules.field", field=", ".join(sorted(unknown)))
    merged = RunnerSettings(**changes)
    for name in ("idle_start", "idle_end", "prefetch_at"):
        if name in changes:
            _hhmm(str(changes[name]))
    for name, low, high in (
        ("max_mb_per_second", 0.1, 10000.0),
        ("max_objects_per_second", 0.1, 100000.0),
        ("busy_per_minute", 1, 1000000),
        ("prefetch_per_patient", 0, 50),
    ):
        value = getattr(merged, name)
        if name in changes and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Invalid("storage.rules.field", field=name)
        if name in changes and not low <= value <= high:
            raise Invalid("storage.rules.range", field=name, low=low, high=high)
    if "prefetch_enabled" in changes and not isinstance(changes["prefetch_enabled"], bool):
        raise Invalid("storage.rules.field", field="prefetch_enabled")
    return changes


def save(engine: Engine, changes: dict[str, Any]) -> RunnerSettings:
    values = _checked(dict(changes))
    _ensure(engine)
    with db.write(engine) as conn:
        conn.execute(update(table).where(table.c.id == 1).values(**values, updated_at=clock.now()))
    return load(engine)


def set_run_now(engine: Engine, until: datetime | None) -> None:
    _ensure(engine)
    with db.write(engine) as conn:
        conn.execute(update(table).where(table.c.id == 1).values(run_now_until=until))


def claim_prefetch_day(engine: Engine, day: str) -> bool:
    """Take today's prefetch for this process: True for exactly one caller per day."""
    _ensure(engine)
    with db.write(engine) as conn:
        taken = conn.execute(
            update(table)
            .where(table.c.id == 1, table.c.prefetch_last_day != day)
            .values(prefetch_last_day=day)
        ).rowcount
    return bool(taken == 1)


class Throttle:
    """Keeps a run under ``mb_per_second`` and ``objects_per_second``: after each object it
    waits (on ``stop``, so a shutdown is not held up) as long as the limits ask."""

    def __init__(self, mb_per_second: float, objects_per_second: float) -> None:
        self.bytes_per_second = mb_per_second * 1e6
        self.objects_per_second = objects_per_second
        self.started = time.monotonic()
        self.bytes = 0
        self.objects = 0

    def pause_after(self, size: int) -> float:
        """Seconds to wait after an object of ``size`` bytes."""
        self.bytes += size
        self.objects += 1
        due = max(self.bytes / self.bytes_per_second, self.objects / self.objects_per_second)
        return max(0.0, due - (time.monotonic() - self.started))

    def wait(self, size: int, stop: threading.Event) -> None:
        pause = self.pause_after(size)
        if pause > 0:
            stop.wait(pause)


class IngestMeter:
    """Objects the archive stored in the last minute (``archive.instance_stored`` on this
    process's bus): over the settings' ``busy_per_minute`` the runner pauses."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def on_stored(self, _topic: str, _payload: dict[str, Any]) -> None:
        self.note()

    def note(self, count: int = 1) -> None:
        now = time.monotonic()
        with self._lock:
            self._times.extend([now] * count)
            self._trim(now)

    def per_minute(self) -> int:
        with self._lock:
            self._trim(time.monotonic())
            return len(self._times)

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.WINDOW:
            self._times.popleft()
