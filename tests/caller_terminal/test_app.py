"""The caller's state machine: presses become spooled actions; answers and refusals shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from caller_terminal.app import (
    Bound,
    CallerApp,
    Connection,
    Expired,
    FetchBinding,
    FetchState,
    InputStatus,
    Press,
    Pushed,
    Redraw,
    Send,
    Settled,
    StateFetched,
    Tick,
)
from tests.caller_terminal.rooms import room_state, ticket


def bound(**options: object) -> CallerApp:
    app = CallerApp(**options)  # type: ignore[arg-type]
    assert app.start() == [FetchBinding()]
    app.handle(Connection(True))
    assert app.handle(Bound("CT1")) == [FetchState("CT1"), Redraw()]
    app.handle(StateFetched(room_state()))
    return app


def test_every_button_is_one_spooled_action() -> None:
    app = bound(call_ttl=30)
    assert app.handle(Press("call_next")) == [Send("call_next", "call-next", {}, 30), Redraw()]
    for command in ("missed", "start", "finish", "pause", "resume"):
        assert app.handle(Press(command)) == [Send(command, command, {}, None), Redraw()]
    assert app.handle(Press("recall")) == [Send("recall", "recall", {}, 30), Redraw()]


def test_one_call_at_a_time_until_the_core_answers() -> None:
    app = bound()
    [send, _] = app.handle(Press("call_next"))
    app.sent("k1", "call_next")
    assert app.handle(Press("call_next")) == [Redraw()]  # a double press sends nothing
    assert app.notice is not None and app.notice.key == "busy"
    answer = {
        "seq": 11,
        "room": {"code": "CT1", "state": "idle", "queues": ["CT"]},
        "ticket": ticket(42, "CT016", "张三丰", "called"),
    }
    assert app.handle(Settled("call_next", "k1", True, answer)) == [FetchState("CT1"), Redraw()]
    assert app.current is not None and app.current["number"] == "CT016"
    assert app.notice is not None and (app.notice.key, app.notice.values["number"]) == (
        "done_call_next",
        "CT016",
    )
    assert app.handle(Press("call_next"))[0] == send


def test_the_cores_refusal_is_shown_as_written() -> None:
    app = bound()
    app.handle(Press("call_next"))
    app.sent("k1", "call_next")
    refusal = {
        "status": 409,
        "code": "ticket_taken",
        "message": "该患者已被其他诊室呼叫",
    }
    app.handle(Settled("call_next", "k1", False, refusal))
    assert app.notice is not None and app.notice.error
    assert app.notice.core_text == "该患者已被其他诊室呼叫"
    assert not app.calling


def test_choosing_a_patient_walks_waiting_then_missed() -> None:
    app = bound()
    app.handle(Press("choose"))
    assert app.choosing and [t["number"] for t in app.choices] == [
        "CT016",
        "CT017",
        "CT018",
        "CT012",
    ]
    for _ in range(5):
        app.handle(Press("down"))
    assert app.selected == 3  # stops at the end
    app.handle(Press("up"))
    assert app.handle(Press("confirm")) == [Send("call", "call", {"ticket_id": 44}, 60.0), Redraw()]
    assert not app.choosing
    # The touchscreen names the patient directly.
    assert app.handle(Press("call", ticket_id=39))[0] == Send(
        "call", "call", {"ticket_id": 39}, 60.0
    )


def test_offline_presses_are_spooled_and_expired_calls_explained() -> None:
    app = bound()
    app.handle(Connection(False))
    assert app.handle(Press("finish")) == [Send("finish", "finish", {}, None), Redraw()]
    assert app.notice is not None and app.notice.key == "spooled"
    app.sent("k9", "call_next")
    app.handle(Expired("call_next", "k9"))
    assert app.notice is not None and app.notice.key == "expired" and not app.calling


def test_events_for_this_room_refresh_and_notices_fade() -> None:
    app = bound()
    assert app.handle(
        Pushed({"seq": 11, "type": "ticket.created", "queue": "CT", "payload": {}})
    ) == [FetchState("CT1")]
    app.handle(StateFetched(room_state(seq=11)))
    assert (
        app.handle(Pushed({"seq": 12, "type": "ticket.created", "queue": "MR", "room": "MR1"}))
        == []
    )
    assert app.handle(Pushed({"seq": 5, "type": "room.updated", "room": "CT1"})) == []
    app.handle(InputStatus("keypad /dev/input/event3", False))
    assert app.inputs_down == {"keypad /dev/input/event3"}
    start = datetime(2026, 11, 29, 8, 0, 0)
    app.handle(Tick(start))
    app.handle(Press("start"))
    app.handle(Tick(start + timedelta(seconds=30)))
    assert app.notice is None


def test_unbound_terminal_says_so() -> None:
    app = CallerApp()
    app.handle(Connection(True))
    assert app.handle(Press("call_next")) == [Redraw()]
    assert app.notice is not None and app.notice.key == "not_bound"


def test_room_state_is_fetched_again_every_refresh_period() -> None:
    t0 = datetime(2026, 11, 29, 8, 0, 0)
    app = bound(now=t0, refresh_seconds=30)
    assert app.handle(Tick(t0 + timedelta(seconds=29))) == [Redraw()]
    assert app.handle(Tick(t0 + timedelta(seconds=30))) == [FetchState("CT1"), Redraw()]
