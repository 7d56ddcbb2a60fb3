"""The screen's state machine: what it fetches, speaks and shows for each event."""

from __future__ import annotations

from datetime import datetime, timedelta

from queue_display.app import (
    Bound,
    Connection,
    DisplayApp,
    FetchBinding,
    FetchFailed,
    FetchState,
    Pushed,
    Redraw,
    Speak,
    StateFetched,
    Tick,
)
from tests.queue_display.states import screen_state


def bound_app(**options: object) -> DisplayApp:
    app = DisplayApp(**options)  # type: ignore[arg-type]
    assert app.start() == [FetchBinding()]
    assert app.handle(Connection(True)) == [FetchBinding(), Redraw()]
    assert app.handle(Bound("1F")) == [FetchState("1F")]
    assert app.handle(StateFetched(screen_state(seq=10))) == [Redraw()]
    return app


def called(seq: int, queue: str = "CT", **payload: object) -> Pushed:
    body = {
        "ticket_id": 42,
        "number": "CT016",
        "name": "张*丰",
        "room_name": "CT一室",
        "voice_text": "请CT016号张*丰到CT一室检查",
        "repeat": 2,
        **payload,
    }
    return Pushed(
        {"seq": seq, "type": "ticket.called", "queue": queue, "room": "CT1", "payload": body}
    )


def test_a_call_is_spoken_and_the_state_fetched_again() -> None:
    app = bound_app()
    assert app.handle(called(11)) == [Speak("请CT016号张*丰到CT一室检查", 2, 150), FetchState("1F")]
    # Another event while that fetch is in flight: no second fetch now, one after it.
    assert (
        app.handle(Pushed({"seq": 12, "type": "ticket.updated", "queue": "CT", "payload": {}}))
        == []
    )
    assert app.handle(StateFetched(screen_state(seq=11))) == [Redraw(), FetchState("1F")]
    assert app.handle(StateFetched(screen_state(seq=12))) == [Redraw()]
    assert app.state is not None and app.state["seq"] == 12


def test_old_other_and_unknown_events_are_ignored() -> None:
    app = bound_app()
    # A fetch's answer can overtake the event: the call is on screen already, but still spoken.
    assert app.handle(called(9)) == [Speak("请CT016号张*丰到CT一室检查", 2, 150)]
    assert app.handle(called(9)) == []  # the same event twice: once
    reconnected = bound_app()
    reconnected.handle(Pushed({"type": "hello", "seq": 30}))  # events up to 30 are past
    reconnected.handle(StateFetched(screen_state(seq=30)))
    assert reconnected.handle(called(25)) == []
    # Room CT1 is on this screen even when the event names another queue.
    assert app.handle(called(11, queue="MR")) == [
        Speak("请CT016号张*丰到CT一室检查", 2, 150),
        FetchState("1F"),
    ]
    app = bound_app()
    other = Pushed(
        {"seq": 11, "type": "ticket.called", "queue": "MR", "room": "MR1", "payload": {}}
    )
    assert app.handle(other) == []
    assert app.handle(Pushed({"seq": 12, "type": "report.signed", "payload": {}})) == []
    assert app.handle(
        Pushed({"seq": 13, "type": "config.updated", "payload": {"what": "screen"}})
    ) == [FetchState("1F")]


def test_voice_can_be_off_locally_or_in_the_core() -> None:
    assert bound_app(voice=False).handle(called(11)) == [FetchState("1F")]
    app = bound_app()
    state = screen_state(seq=10)
    state["voice"]["enabled"] = False
    app.handle(StateFetched(state))
    assert app.handle(called(11)) == [FetchState("1F")]


def test_offline_keeps_the_last_state_and_reconnecting_refreshes_it() -> None:
    app = bound_app()
    assert app.handle(Connection(False)) == [Redraw()]
    view = app.view()
    assert not view.online and view.has_state and view.current_call is not None
    assert app.handle(FetchFailed("unreachable")) == [Redraw()]
    assert app.view().queues[0].waiting[0]["number"] == "CT016"  # still shown
    assert app.handle(Connection(True)) == [FetchState("1F"), Redraw()]
    assert app.handle(Pushed({"type": "hello", "seq": 20})) == []  # that fetch is in flight
    refused = bound_app()
    refused.handle(Connection(False, "refused"))
    assert refused.view().refused


def test_long_lists_page_through() -> None:
    app = bound_app()
    app.handle(StateFetched(screen_state(seq=11, waiting=10)))  # 4 rows per page -> 3 pages
    start = datetime(2026, 11, 29, 8, 0, 0)
    pages = []
    for second in range(0, 30, 1):
        app.handle(Tick(start + timedelta(seconds=second)))
        panel = app.view().queues[0]
        pages.append((panel.page, [t["number"] for t in panel.waiting]))
    assert pages[0] == (1, ["CT016", "CT017", "CT018", "CT019"])
    assert pages[8] == (2, ["CT020", "CT021", "CT022", "CT023"])
    assert pages[16] == (3, ["CT024", "CT025"])
    assert pages[24][0] == 1
    assert {p[0] for p in pages} == {1, 2, 3}


def test_orientation_from_config_or_the_core() -> None:
    assert bound_app().view().orientation == "landscape"
    assert bound_app(orientation="portrait").view().orientation == "portrait"
    app = bound_app()
    app.handle(StateFetched(screen_state(seq=11, orientation="portrait")))
    assert app.view().orientation == "portrait"


def test_state_is_fetched_again_every_refresh_period_while_online() -> None:
    t0 = datetime(2026, 11, 29, 8, 0, 0)
    app = bound_app(now=t0, refresh_seconds=30)  # bound and fetched at t0
    assert app.handle(Tick(t0 + timedelta(seconds=10))) == [Redraw()]
    assert app.handle(Tick(t0 + timedelta(seconds=31))) == [FetchState("1F"), Redraw()]
    assert app.handle(Tick(t0 + timedelta(seconds=70))) == [Redraw()]  # that fetch is in flight
    app.handle(FetchFailed("unreachable"))
    app.handle(Connection(False))
    assert app.handle(Tick(t0 + timedelta(seconds=100))) == [Redraw()]  # offline: no fetch


def test_a_new_call_blinks_for_its_first_seconds() -> None:
    t0 = datetime(2026, 11, 29, 8, 0, 0)
    app = bound_app(now=t0)  # the first state's call is new too
    blinking = []
    for second in range(8):
        app.handle(Tick(t0 + timedelta(seconds=second)))
        blinking.append(app.view().flash)
    assert blinking == [True, False, True, False, True, False, False, False]
    state = screen_state(seq=11)
    app.handle(StateFetched(state))  # the same call again: no new blinking
    assert not app.view().flash
    state = screen_state(seq=12)
    state["current_call"]["call_id"] = 78  # a recall or a new patient
    app.handle(StateFetched(state))
    assert app.view().flash


def test_more_queues_than_fit_take_turns() -> None:
    app = bound_app(queues_per_screen=2)
    state = screen_state(seq=11, waiting=6)  # 6 waiting, 4 rows: 2 pages
    state["queues"] += [dict(state["queues"][0], code=code, name=code) for code in ("MR", "DR")]
    app.handle(StateFetched(state))
    t0 = datetime(2026, 11, 29, 8, 0, 0)
    shown = []
    for turn in range(4):
        app.handle(Tick(t0 + timedelta(seconds=8 * turn)))
        view = app.view()
        shown.append([(p.code, p.page) for p in view.queues])
    assert shown == [
        [("CT", 1), ("MR", 1)],
        [("DR", 1)],
        [("CT", 2), ("MR", 2)],
        [("DR", 2)],
    ]


def test_the_clock_shows_hospital_time_whatever_the_devices_zone() -> None:
    """The waiting-room clock ignored the hospital's zone (tests run with TZ=UTC: a device
    set to UTC showed 06:00 for 14:00 in Shanghai)."""
    from datetime import UTC

    from queue_display.app import hospital_time

    app = bound_app()
    app.handle(StateFetched({**screen_state(seq=11), "timezone": "Asia/Shanghai"}))
    device_clock = datetime(2026, 11, 29, 6, 0, tzinfo=UTC).astimezone().replace(tzinfo=None)
    app.handle(Tick(device_clock))
    assert app.view().now.strftime("%H:%M") == "14:00"  # the state says Asia/Shanghai
    state = {"utc_offset_minutes": 480}  # a core naming only the offset
    assert hospital_time(device_clock, state).strftime("%H:%M") == "14:00"
    assert hospital_time(device_clock, {}) == device_clock  # an older core: as before


def test_a_call_made_while_reconnecting_is_spoken_once_from_the_state() -> None:
    """The call's event came before this connection's hello (the core restarted and a spooled
    press reached it first): it is never pushed, so the state's fresh call is spoken."""
    from datetime import UTC

    app = bound_app()
    now = datetime.now(UTC)
    app.handle(Tick(now.astimezone().replace(tzinfo=None)))
    app.handle(Pushed({"type": "hello", "seq": 40}))
    state = screen_state(seq=40)
    state["current_call"] = {**state["current_call"], "call_id": 99, "called_at": now.isoformat()}
    actions = app.handle(StateFetched(state))
    assert [a for a in actions if isinstance(a, Speak)] == [
        Speak(state["current_call"]["voice_text"], 2, 150)
    ]
    assert not [a for a in app.handle(StateFetched({**state, "seq": 41})) if isinstance(a, Speak)]
    # An old call on screen after a reconnection stays silent.
    old = bound_app()
    old.handle(Pushed({"type": "hello", "seq": 40}))
    assert not [a for a in old.handle(StateFetched(screen_state(seq=40))) if isinstance(a, Speak)]
