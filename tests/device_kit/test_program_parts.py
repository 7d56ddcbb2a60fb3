"""The wiring pieces every device program shares: an input device that fails and comes back,
and when a state fetch is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from caller_terminal.hardware import ScriptedButtons
from device_kit.program import PolledInput
from device_kit.refresh import Refresh, newer

T0 = datetime(2026, 3, 2, 8, 0, 0)


def test_an_unplugged_input_is_reported_once_and_reopened_until_it_works() -> None:
    keypad = ScriptedButtons(presses=["call_next"])
    polled = PolledInput(keypad, retry=0)
    assert polled.poll() == (["call_next"], None)
    keypad.fail = "unplugged"
    assert polled.poll() == ([], False)  # went away: said once
    assert polled.poll() == ([], None)  # still away: tried again, nothing new to say
    keypad.fail, keypad.presses = None, ["recall"]
    assert polled.poll() == (["recall"], True)  # back, with what was pressed
    assert polled.poll() == ([], None)


def test_a_failed_input_is_left_alone_until_its_retry_is_due() -> None:
    keypad = ScriptedButtons(fail="unplugged")
    polled = PolledInput(keypad, retry=3600)
    assert polled.poll() == ([], False)
    keypad.fail, keypad.presses = None, ["recall"]
    assert polled.poll() == ([], None)  # not polled again yet: the press waits in the device
    assert keypad.presses == ["recall"]


def test_one_fetch_in_flight_one_queued_and_one_per_period() -> None:
    refresh = Refresh()
    assert refresh.due(T0, 30)
    assert refresh.ask(T0) is True
    assert refresh.ask(T0) is False and refresh.ask(T0) is False  # many events, one more fetch
    assert refresh.answered() is True  # fetch again now
    assert refresh.ask(T0) is True
    assert refresh.answered() is False  # nothing asked meanwhile
    assert not refresh.due(T0 + timedelta(seconds=29), 30)
    assert refresh.due(T0 + timedelta(seconds=30), 30)


def test_an_overtaken_answer_never_replaces_a_newer_state() -> None:
    assert newer(None, {"seq": 1})
    assert newer({"seq": 5}, {"seq": 5}) and newer({"seq": 5}, {"seq": 6})
    assert not newer({"seq": 6}, {"seq": 5})
