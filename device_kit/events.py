"""The events and actions every device's state machine shares (the machines do no I/O: the
wiring turns link events into these, and these actions into requests and drawing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    online: bool
    reason: str = ""  # "refused" when the core does not accept this device's key


@dataclass(frozen=True)
class StateFetched:
    state: dict[str, Any]


@dataclass(frozen=True)
class FetchFailed:
    error: str


@dataclass(frozen=True)
class Pushed:
    """One message the core pushed over the WebSocket."""

    message: dict[str, Any]


@dataclass(frozen=True)
class Tick:
    now: datetime


# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchBinding:
    """Ask the core what this device is bound to (GET /api/queueing/devices/me)."""


@dataclass(frozen=True)
class Redraw:
    pass
