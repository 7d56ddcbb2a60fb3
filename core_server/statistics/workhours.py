"""Working hours (工作时间): how long something took counting only the department's opening
hours on the hospital's clock, e.g. ``1-5 08:00-12:00,13:30-17:30`` (Monday to Friday, a
lunch break). An exam done Friday 17:00 and reported Monday 09:00 took 1 h of working time.

A rule is written as days (ISO weekday numbers, ``1`` Monday .. ``7`` Sunday; ranges and
lists: ``1-5``, ``1-5,7``) and spans (``HH:MM-HH:MM``, comma separated). Holidays are not
known to the rule: a department that wants them out enters the days it works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core_server import clock
from core_server.refusals import Invalid

_RULE = re.compile(r"^\s*([1-7](?:-[1-7])?(?:,[1-7](?:-[1-7])?)*)\s+(\S.*?)\s*$")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class WorkingHours:
    days: frozenset[int]  # ISO weekdays
    spans: tuple[tuple[time, time], ...]  # in order, not overlapping; end may be 24:00 (max)

    @classmethod
    def parse(cls, rule: str) -> WorkingHours:
        """From the rule's text; a bad one is ``statistics.targets.bad_hours``."""
        found = _RULE.match(rule)
        if found is None:
            raise Invalid("statistics.targets.bad_hours", rule=rule)
        days: set[int] = set()
        for part in found.group(1).split(","):
            first, _, last = part.partition("-")
            if last and int(last) < int(first):
                raise Invalid("statistics.targets.bad_hours", rule=rule)
            days.update(range(int(first), int(last or first) + 1))
        spans: list[tuple[time, time]] = []
        for text in found.group(2).replace(" ", "").split(","):
            span = _SPAN.match(text)
            if span is None:
                raise Invalid("statistics.targets.bad_hours", rule=rule)
            h1, m1, h2, m2 = (int(g) for g in span.groups())
            start = time(h1, m1)
            end = time.max if (h2, m2) >= (24, 0) else time(h2, m2)
            if (h2 == 24 and m2) or end <= start or (spans and start < spans[-1][1]):
                raise Invalid("statistics.targets.bad_hours", rule=rule)
            spans.append((start, end))
        return cls(frozenset(days), tuple(spans))

    def text(self) -> str:
        """The rule written back (days as ranges)."""
        days = sorted(self.days)
        runs: list[str] = []
        for day in days:
            if runs and int(runs[-1].split("-")[-1]) == day - 1:
                runs[-1] = f"{runs[-1].split('-')[0]}-{day}"
            else:
                runs.append(str(day))
        spans = ",".join(
            f"{a:%H:%M}-{'24:00' if b == time.max else f'{b:%H:%M}'}" for a, b in self.spans
        )
        return f"{','.join(runs)} {spans}"

    def duration(self, start: datetime, end: datetime) -> timedelta:
        """The working time between two moments (aware, or naive UTC); none if end <= start."""
        if end <= start:
            return timedelta(0)
        first, last = clock.local(start), clock.local(end)
        if first.date() == last.date():
            return self._on(first.date(), first, last)
        total = self._on(first.date(), first, last) + self._on(last.date(), first, last)
        # The days in between count whole: whole weeks in one step, the rest day by day.
        inside = (last.date() - first.date()).days - 1
        total += (inside // 7) * self._full_day() * len(self.days)
        day = first.date() + timedelta(days=1 + 7 * (inside // 7))
        while day < last.date():
            if day.isoweekday() in self.days:
                total += self._full_day()
            day += timedelta(days=1)
        return total

    def _on(self, day: date, first: datetime, last: datetime) -> timedelta:
        """Working time of one hospital day inside ``first``..``last`` (both local)."""
        if day.isoweekday() not in self.days:
            return timedelta(0)
        total = timedelta(0)
        zone = clock.zone()
        for a, b in self.spans:
            opens = datetime.combine(day, a, tzinfo=zone)
            closes = (
                clock.local_day_bounds(day)[1]
                if b == time.max
                else datetime.combine(day, b, tzinfo=zone)
            )
            lo, hi = max(opens, first), min(closes, last)
            if hi > lo:
                total += hi - lo
        return total

    def _full_day(self) -> timedelta:
        """The working time of a whole working day (the zone has no daylight saving to mind)."""
        total = timedelta(0)
        for a, b in self.spans:
            close = (
                timedelta(hours=24) if b == time.max else timedelta(hours=b.hour, minutes=b.minute)
            )
            total += close - timedelta(hours=a.hour, minutes=a.minute)
        return total
