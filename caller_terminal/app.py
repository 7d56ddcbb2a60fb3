"""The exam-room caller's state machine: button presses in, spooled core actions out; no I/O.

Every action goes through the device spool with its own idempotency key, so a press during a
network outage is not lost (start/finish/missed always reach the core; a call older than
``call_ttl`` is dropped unsent, with a message, because a late call would call an absent
patient). The core decides everything: two terminals can never call the same patient, and its
refusal is shown as it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from device_kit.events import (
    Connection,
    FetchBinding,
    FetchFailed,
    Pushed,
    Redraw,
    StateFetched,
    Tick,
)
from device_kit.refresh import Refresh, newer

# The commands a keypad, a button box or the touchscreen can give.
ACTIONS = ("call_next", "recall", "missed", "start", "finish", "pause", "resume")
NAVIGATION = ("choose", "up", "down", "confirm", "cancel")
COMMANDS = ACTIONS + NAVIGATION
CALLS = ("call_next", "call", "recall")
PATHS = {
    "call_next": "call-next",
    "call": "call",
    "recall": "recall",
    "missed": "missed",
    "start": "start",
    "finish": "finish",
    "pause": "pause",
    "resume": "resume",
}

# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    room: str


@dataclass(frozen=True)
class Press:
    command: str
    ticket_id: int | None = None  # the touchscreen can name the patient directly


@dataclass(frozen=True)
class Settled:
    kind: str
    key: str
    accepted: bool
    answer: dict[str, Any] | None  # the core's answer, or its refusal {code, message}


@dataclass(frozen=True)
class Expired:
    kind: str
    key: str


@dataclass(frozen=True)
class InputStatus:
    """A keypad or button box went away or came back."""

    name: str
    ok: bool


Event = (
    Connection
    | Bound
    | StateFetched
    | FetchFailed
    | Pushed
    | Press
    | Settled
    | Expired
    | InputStatus
    | Tick
)

# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchState:
    room: str


@dataclass(frozen=True)
class Send:
    """Spool ``POST /api/queueing/rooms/{room}/{path}`` with ``body``."""

    kind: str
    path: str
    body: dict[str, Any]
    ttl: float | None


Action = FetchBinding | FetchState | Send | Redraw


@dataclass(frozen=True)
class Notice:
    """A line for the operator: a message key with values, or the core's own words."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    core_text: str | None = None  # the core's words, in the terminal's language
    error: bool = False
    at: datetime = field(default_factory=datetime.now)


@dataclass
class CallerApp:
    call_ttl: float = 60.0
    notice_seconds: float = 8.0
    refresh_seconds: float = 30.0  # fetch the room state this often even without events
    room: str | None = None
    state: dict[str, Any] | None = None
    online: bool = False
    refused: bool = False
    choosing: bool = False
    selected: int = 0
    notice: Notice | None = None
    inputs_down: set[str] = field(default_factory=set)
    pending: dict[str, str] = field(default_factory=dict)  # idempotency key -> kind
    now: datetime = field(default_factory=datetime.now)
    _refresh: Refresh = field(default_factory=Refresh)

    def start(self) -> list[Action]:
        return [FetchBinding()] if self.room is None else [FetchState(self.room)]

    # -- what the screen shows ---------------------------------------------------------

    @property
    def current(self) -> dict[str, Any] | None:
        return (self.state or {}).get("current")

    @property
    def waiting_count(self) -> int:
        return int((self.state or {}).get("waiting_count", 0))

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Who can be called by name: waiting patients in calling order, then missed ones."""
        state = self.state or {}
        return list(state.get("waiting", [])) + list(state.get("missed", []))

    @property
    def calling(self) -> bool:
        return any(kind in CALLS for kind in self.pending.values())

    # -- events ------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        match event:
            case Connection(online, reason):
                self.online, self.refused = online, reason == "refused"
                if online and self.room is None:
                    return [FetchBinding(), Redraw()]
                return [*self._fetch(), Redraw()] if online else [Redraw()]
            case Bound(room):
                self.room = room
                return [*self._fetch(), Redraw()]
            case StateFetched(state):
                if newer(self.state, state):
                    self.state = state
                self.selected = min(self.selected, max(0, len(self.choices) - 1))
                return [Redraw(), *(self._fetch() if self._refresh.answered() else [])]
            case FetchFailed():
                self._refresh.answered()
                return [Redraw()]
            case Pushed(message):
                return self._pushed(message)
            case Press():
                return self._press(event)
            case Settled():
                return self._settled(event)
            case Expired(kind, key):
                self.pending.pop(key, None)
                self.notice = Notice("expired", {"action": kind}, error=True, at=self.now)
                return [Redraw()]
            case InputStatus(name, ok):
                (self.inputs_down.discard if ok else self.inputs_down.add)(name)
                return [Redraw()]
            case Tick(now):
                self.now = now
                if self.notice and (now - self.notice.at).total_seconds() > self.notice_seconds:
                    self.notice = None
                due = self._refresh.due(now, self.refresh_seconds)
                return [*(self._fetch() if self.online and due else []), Redraw()]
        raise TypeError(f"unknown event {event!r}")

    def _fetch(self) -> list[Action]:
        if self.room is None or not self._refresh.ask(self.now):
            return []
        return [FetchState(self.room)]

    def _pushed(self, message: dict[str, Any]) -> list[Action]:
        kind = message.get("type")
        if kind in ("hello", "resync"):
            return self._fetch()
        if self.state is None or not isinstance(kind, str):
            return []
        if message.get("seq", 0) <= self.state.get("seq", 0):
            return []
        room = self.state.get("room") or {}
        ours = message.get("room") == self.room or message.get("queue") in room.get("queues", [])
        if kind == "config.updated" or (kind.startswith(("ticket.", "room.")) and ours):
            return self._fetch()
        return []

    def _press(self, press: Press) -> list[Action]:
        command = press.command
        if self.room is None:
            self.notice = Notice("not_bound", error=True, at=self.now)
            return [Redraw()]
        if press.ticket_id is not None:
            return self._send("call", {"ticket_id": press.ticket_id})
        if command == "choose":
            self.choosing, self.selected = True, 0
            return [Redraw()]
        if command in ("up", "down") and self.choosing:
            step = -1 if command == "up" else 1
            self.selected = max(0, min(len(self.choices) - 1, self.selected + step))
            return [Redraw()]
        if command == "cancel":
            self.choosing = False
            return [Redraw()]
        if command == "confirm" and self.choosing:
            self.choosing = False
            if not self.choices:
                self.notice = Notice("nobody_to_choose", error=True, at=self.now)
                return [Redraw()]
            return self._send("call", {"ticket_id": self.choices[self.selected]["id"]})
        if command in ACTIONS:
            self.choosing = False
            return self._send(command, {})
        return []

    def _send(self, kind: str, body: dict[str, Any]) -> list[Action]:
        if kind in CALLS and self.calling:
            # One call at a time: the next press waits for the core's answer to this one.
            self.notice = Notice("busy", at=self.now)
            return [Redraw()]
        self.notice = Notice("sending" if self.online else "spooled", {"action": kind}, at=self.now)
        ttl = self.call_ttl if kind in CALLS else None
        return [Send(kind, PATHS[kind], body, ttl), Redraw()]

    def sent(self, key: str, kind: str) -> None:
        """The wiring spooled a Send under ``key``; its answer comes back as Settled."""
        self.pending[key] = kind

    def _settled(self, event: Settled) -> list[Action]:
        self.pending.pop(event.key, None)
        answer = event.answer or {}
        if not event.accepted:
            self.notice = Notice(
                "refused",
                {"action": event.kind},
                core_text=str(answer.get("message") or answer.get("code") or ""),
                error=True,
                at=self.now,
            )
            return [*self._fetch(), Redraw()]
        ticket = answer.get("ticket") or {}
        if self.state is not None and ("ticket" in answer or "room" in answer):
            # Show the core's answer at once; the fetch that follows brings the rest.
            if event.kind in CALLS or event.kind in ("start",):
                self.state["current"] = ticket or None
            elif event.kind in ("finish", "missed"):
                self.state["current"] = None
            if answer.get("room"):
                self.state["room"] = answer["room"]
        self.notice = Notice(
            "done_" + event.kind,
            {"number": ticket.get("number", ""), "name": ticket.get("name", "")},
            at=self.now,
        )
        return [*self._fetch(), Redraw()]
