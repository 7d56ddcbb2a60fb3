"""When a device fetches its state again (docs/queue-api.md section 7): at most one fetch in
flight and one more queued behind it, whatever the number of events that asked; and one every
``refresh_seconds`` even without events, for what changes with time alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Refresh:
    in_flight: bool = False
    again: bool = False
    last: datetime | None = None

    def ask(self, now: datetime) -> bool:
        """True: fetch now. False: one is under way, and another follows its answer."""
        if self.in_flight:
            self.again = True
            return False
        self.in_flight, self.last = True, now
        return True

    def answered(self) -> bool:
        """The fetch came back (or failed); True if something asked meanwhile."""
        again = self.again
        self.in_flight = self.again = False
        return again

    def due(self, now: datetime, every: float) -> bool:
        return self.last is None or (now - self.last).total_seconds() >= every


def newer(current: dict[str, Any] | None, fetched: dict[str, Any]) -> bool:
    """Whether a fetched state replaces the shown one: an answer that overtook a newer one
    (both fetched around the same event) is older by the core's sequence number."""
    return current is None or fetched.get("seq", 0) >= current.get("seq", 0)
