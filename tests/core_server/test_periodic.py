"""The one ticker helper: rounds run on their thread, a failing round does not stop the
next, and stop() ends the thread at once."""

from __future__ import annotations

import threading
import time

from core_server.periodic import Periodic


def test_rounds_go_on_after_a_failure_and_stop_is_prompt() -> None:
    rounds: list[int] = []
    three = threading.Event()

    def task() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("first round fails")
        if len(rounds) >= 3:
            three.set()

    ticker = Periodic("test-ticker", 0.01, task)
    ticker.start()
    ticker.start()  # a second start does not start a second thread
    assert three.wait(5)
    started = time.monotonic()
    ticker.stop()
    assert time.monotonic() - started < 1 and not ticker.running
    count = len(rounds)
    time.sleep(0.05)
    assert len(rounds) == count


def test_run_once_logs_instead_of_raising(caplog) -> None:  # type: ignore[no-untyped-def]
    Periodic("failing", 60, lambda: 1 / 0).run_once()
    assert "failing: a round failed" in caplog.text


def test_wake_runs_the_next_round_now_and_at_start_runs_one_at_once() -> None:
    rounds: list[float] = []
    ran = threading.Event()

    def task() -> None:
        rounds.append(time.monotonic())
        ran.set()

    ticker = Periodic("woken", 3600, task, at_start=True)
    ticker.start()
    assert ran.wait(5) and len(rounds) == 1  # the first round did not wait an hour
    ran.clear()
    ticker.wake()
    assert ran.wait(5) and len(rounds) == 2  # nor did the woken one
    ticker.stop()
    assert not ticker.running and not ticker.stopping  # rounds by hand still go on after
    ticker.run_once()
    assert len(rounds) == 3
