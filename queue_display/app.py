"""The waiting-room screen's state machine: events in, actions out, no I/O.

It follows the simplest correct client of docs/queue-api.md section 7: any event about a
queue or room on this screen means "fetch the screen state again" (at most one fetch in
flight, one more queued behind it); ``ticket.called`` events are also spoken. The last state
stays on screen while the core is unreachable, marked offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """The core told this device which screen it is (GET /api/queueing/devices/me)."""

    screen: str


Event = Connection | Bound | StateFetched | FetchFailed | Pushed | Tick

# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchState:
    screen: str


@dataclass(frozen=True)
class Speak:
    text: str
    repeat: int
    rate: int | None


Action = FetchBinding | FetchState | Speak | Redraw

# -- what the screen shows --------------------------------------------------------------


@dataclass(frozen=True)
class QueuePanel:
    code: str
    name: str
    department: str
    rooms: list[dict[str, Any]]
    counts: dict[str, int]
    called: list[dict[str, Any]]
    waiting: list[dict[str, Any]]  # this page only
    missed: list[dict[str, Any]]
    page: int  # 1-based
    pages: int


@dataclass(frozen=True)
class ScreenView:
    now: datetime
    hospital: str
    screen_name: str
    orientation: str
    fonts: dict[str, int]
    current_call: dict[str, Any] | None
    queues: list[QueuePanel]
    online: bool
    refused: bool
    has_state: bool
    bound: bool
    flash: bool = False  # a new call blinks its banner for its first seconds


@dataclass
class DisplayApp:
    orientation: str = "auto"  # "landscape", "portrait", or "auto": the core's screen setting
    rows: int | None = None  # rows per waiting list; None: the core's screen setting
    page_seconds: float | None = None
    queues_per_screen: int | None = None  # None: 4 side by side, 3 stacked in portrait
    voice: bool = True  # local switch; the core's screen voice setting must also allow it
    # Fetch the state this often even without events: changes that come with time (a missed
    # patient back in the queue) and a fetch that failed are caught up.
    refresh_seconds: float = 30.0
    flash_seconds: float = 6.0
    screen: str | None = None  # the screen code, once bound
    state: dict[str, Any] | None = None
    online: bool = False
    refused: bool = False
    now: datetime = field(default_factory=datetime.now)
    _refresh: Refresh = field(default_factory=Refresh)
    _page_tick: int = 0
    _page_started: datetime | None = None
    _event_seq: int = 0  # the newest pushed event handled
    _call: tuple[Any, datetime] | None = None  # (call id, when this screen first showed it)
    _spoken: set[Any] = field(default_factory=set)  # call ids spoken (or too old to speak)
    _hello_seq: int | None = None  # set by a (re)connection until the state after it arrives

    def start(self) -> list[Action]:
        return [FetchBinding()] if self.screen is None else [FetchState(self.screen)]

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, Connection):
            self.online = event.online
            self.refused = event.reason == "refused"
            if event.online and self.screen is None:
                return [FetchBinding(), Redraw()]
            return [*self._fetch(), Redraw()] if event.online else [Redraw()]
        if isinstance(event, Bound):
            self.screen = event.screen
            return self._fetch()
        if isinstance(event, StateFetched):
            spoken: list[Action] = []
            if newer(self.state, event.state):
                self.state = event.state
                call = event.state.get("current_call") or {}
                key = (call.get("call_id"), call.get("call_count"), call.get("called_at"))
                if call and (self._call is None or self._call[0] != key):
                    self._call = (key, self.now)
                spoken = self._missed_while_away(event.state)
            return [*spoken, Redraw(), *(self._fetch() if self._refresh.answered() else [])]
        if isinstance(event, FetchFailed):
            self._refresh.answered()
            return [Redraw()]
        if isinstance(event, Pushed):
            return self._pushed(event.message)
        return self._tick(event.now)

    def _fetch(self) -> list[Action]:
        if self.screen is None or not self._refresh.ask(self.now):
            return []
        return [FetchState(self.screen)]

    def _pushed(self, message: dict[str, Any]) -> list[Action]:
        kind = message.get("type")
        seq = message.get("seq", 0)
        if kind in ("hello", "resync"):
            # Events up to here happened before this connection: never spoken late, except a
            # call of the last seconds (see _missed_while_away).
            self._event_seq = max(self._event_seq, int(seq or 0))
            self._hello_seq = int(seq or 0)
            return self._fetch()
        if not isinstance(kind, str) or "." not in kind or self.state is None:
            return []
        if seq <= self._event_seq:
            return []  # seen already (or from before this connection)
        self._event_seq = seq
        if kind == "config.updated":
            return self._fetch()
        if not kind.startswith(("ticket.", "room.")) or not self._concerns_us(message):
            return []
        actions: list[Action] = []
        payload = message.get("payload") or {}
        # Spoken even when a fetch already brought the call on screen (its answer can overtake
        # the event): the event stream, not the state, says what is new.
        if kind == "ticket.called" and self._voice_on():
            self._spoken.add(payload.get("call_id"))
            text = payload.get("voice_text") or _voice_text(payload)
            voice = self.state.get("voice") or {}
            actions.append(Speak(text, max(1, int(payload.get("repeat") or 1)), voice.get("rate")))
        if seq > self.state.get("seq", 0):
            actions += self._fetch()
        return actions

    def _missed_while_away(self, state: dict[str, Any]) -> list[Action]:
        """A call made in the moment this screen was reconnecting (its event came before the
        connection's hello, so it is never pushed): spoken once from the state, if it is at
        most ``SPEAK_LATE_SECONDS`` old. A state newer than the hello leaves it to the events."""
        hello, self._hello_seq = self._hello_seq, None
        call = state.get("current_call") or {}
        call_id = call.get("call_id")
        if hello is None or not call or call_id in self._spoken or state.get("seq", 0) > hello:
            return []
        self._spoken.add(call_id)
        if not self._voice_on() or not _recent(call.get("called_at"), self.now):
            return []
        voice = state.get("voice") or {}
        text = call.get("voice_text") or _voice_text(call)
        return [Speak(text, max(1, int(call.get("repeat") or 1)), voice.get("rate"))]

    def _concerns_us(self, message: dict[str, Any]) -> bool:
        assert self.state is not None
        queues = {q.get("code") for q in self.state.get("queues", [])}
        rooms = {r.get("code") for q in self.state.get("queues", []) for r in q.get("rooms", [])}
        return message.get("queue") in queues or message.get("room") in rooms

    def _voice_on(self) -> bool:
        assert self.state is not None
        return self.voice and bool((self.state.get("voice") or {}).get("enabled", True))

    def _tick(self, now: datetime) -> list[Action]:
        self.now = now
        if self._page_started is None:
            self._page_started = now
        if (now - self._page_started).total_seconds() >= self._page_seconds():
            self._page_started = now
            self._page_tick += 1
        if self.online and self._refresh.due(now, self.refresh_seconds):
            return [*self._fetch(), Redraw()]
        return [Redraw()]

    def _screen_setting(self, name: str, default: Any) -> Any:
        screen = (self.state or {}).get("screen") or {}
        return screen.get(name) or default

    def _page_seconds(self) -> float:
        return float(self.page_seconds or self._screen_setting("page_seconds", 8))

    def _flashing(self) -> bool:
        if self._call is None:
            return False
        age = (self.now - self._call[1]).total_seconds()
        return 0 <= age < self.flash_seconds and int(age) % 2 == 0

    def view(self) -> ScreenView:
        state = self.state or {}
        rows = int(self.rows or self._screen_setting("rows", 8))
        orientation = self.orientation
        if orientation == "auto":
            orientation = self._screen_setting("orientation", "landscape")
        # More queues than fit side by side (or stacked) take turns, a group per page; each
        # queue's long waiting list pages within its group's turns.
        per_screen = self.queues_per_screen or (4 if orientation == "landscape" else 3)
        queues = state.get("queues", [])
        groups = max(1, math.ceil(len(queues) / per_screen))
        group, turn = self._page_tick % groups, self._page_tick // groups
        panels = []
        for queue in queues[group * per_screen : (group + 1) * per_screen]:
            waiting = queue.get("waiting", [])
            pages = max(1, math.ceil(len(waiting) / rows))
            page = turn % pages
            panels.append(
                QueuePanel(
                    code=queue.get("code", ""),
                    name=queue.get("name", ""),
                    department=queue.get("department", ""),
                    rooms=queue.get("rooms", []),
                    counts=queue.get("counts", {}),
                    called=queue.get("called", [])[:rows],
                    waiting=waiting[page * rows : (page + 1) * rows],
                    missed=queue.get("missed", []),
                    page=page + 1,
                    pages=pages,
                )
            )
        return ScreenView(
            now=hospital_time(self.now, state),
            hospital=(state.get("hospital") or {}).get("name", ""),
            screen_name=(state.get("screen") or {}).get("name", ""),
            orientation=orientation,
            fonts=state.get("fonts") or {},
            current_call=state.get("current_call"),
            flash=self._flashing(),
            queues=panels,
            online=self.online,
            refused=self.refused,
            has_state=bool(state),
            bound=self.screen is not None,
        )


SPEAK_LATE_SECONDS = 20.0


def _recent(called_at: Any, now: datetime) -> bool:
    try:
        at = datetime.fromisoformat(str(called_at))
    except ValueError:
        return False
    if at.tzinfo is None:
        return False
    age = (now.astimezone() - at).total_seconds()  # naive ``now``: the device's own clock
    return -SPEAK_LATE_SECONDS < age <= SPEAK_LATE_SECONDS


def hospital_time(now: datetime, state: dict[str, Any]) -> datetime:
    """``now`` (the device's clock: naive is its own local time) as the hospital's wall clock,
    from the zone the screen state names (or its UTC offset): a screen set to UTC, or to
    another zone, still shows the hospital's time."""
    zone = _zone(state)
    if zone is None:
        return now
    return now.astimezone(zone).replace(tzinfo=None)


def _zone(state: dict[str, Any]) -> tzinfo | None:
    name = state.get("timezone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset = state.get("utc_offset_minutes")
    if isinstance(offset, int):
        return timezone(timedelta(minutes=offset))
    return None


def _voice_text(payload: dict[str, Any]) -> str:
    """The core sends ``voice_text``; this is the fallback with the same template."""
    number, name = payload.get("number", ""), payload.get("name", "")
    return f"请{number}号{name}到{payload.get('room_name', '')}检查"
