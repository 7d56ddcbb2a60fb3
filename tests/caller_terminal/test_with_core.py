"""Two caller terminals against a real core: spooled actions reach it once, two rooms never get
the same patient (the loser sees the core's refusal), offline presses wait on disk."""

from __future__ import annotations

from pathlib import Path

import httpx

from caller_terminal.__main__ import CallerProgram
from caller_terminal.hardware import ScriptedButtons
from caller_terminal.settings import Settings
from device_kit import config
from device_kit.client import CoreClient
from device_kit.screen import offscreen
from device_kit.spool import Outcome, Spool
from tests.conftest import RunningCore
from tests.device_kit.core_setup import check_in, enrol, order_exam, run_until, setup_ct


def terminal(
    admin: httpx.Client, tmp_path: Path, name: str, room: str
) -> tuple[CallerProgram, ScriptedButtons]:
    state = tmp_path / name
    record = enrol(admin, state, name, "caller", room=room)
    settings = config.load(
        Settings, state_dir=state, reconnect_min_delay=0.05, reconnect_max_delay=0.5
    )
    buttons = ScriptedButtons()
    program = CallerProgram(settings, record, [buttons], offscreen((800, 480)))
    program.start()
    run_until(
        program.step, lambda: program.app.state is not None and program.app.online, f"{name} ready"
    )
    return program, buttons


def test_two_rooms_never_call_the_same_patient(core: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(core)
    for patient_id, name in (("P001", "张三丰"), ("P002", "欧阳娜娜")):
        check_in(admin, order_exam(core, patient_id, name).accession_number)
    ct1, keypad1 = terminal(admin, tmp_path, "ct1-caller", "CT1")
    ct2, keypad2 = terminal(admin, tmp_path, "ct2-caller", "CT2")
    try:
        assert ct1.app.waiting_count == 2 and ct1.app.room == "CT1"
        # Both choose the first waiting patient and press at the same moment.
        first = ct1.app.choices[0]["id"]
        ct1.press("call", first)
        ct2.press("call", first)
        both = (ct1, ct2)
        run_until(
            lambda: [p.step() for p in both],
            lambda: not ct1.app.pending and not ct2.app.pending,
            "answers",
        )
        notices = sorted(
            ((p.app.notice.key, p.app.notice.core_text) for p in both if p.app.notice), key=str
        )
        assert [key for key, _ in notices] == ["done_call", "refused"]
        refusal = next(text for key, text in notices if key == "refused")
        assert refusal  # the core's words, shown as written
        winner = ct1 if ct1.app.notice and ct1.app.notice.key == "done_call" else ct2
        loser = ct2 if winner is ct1 else ct1
        assert winner.app.current is not None and winner.app.current["id"] == first
        # The loser calls next from its keypad and gets the other patient.
        (keypad1 if loser is ct1 else keypad2).presses.append("call_next")
        run_until(
            loser.step,
            lambda: loser.app.notice is not None and loser.app.notice.key == "done_call_next",
            "call next",
        )
        assert loser.app.current is not None and loser.app.current["id"] != first
        # Start and finish in the winner's room, by keypad.
        (keypad1 if winner is ct1 else keypad2).presses.extend(["start", "finish"])
        run_until(
            winner.step,
            lambda: winner.app.notice is not None and winner.app.notice.key == "done_finish",
            "finish",
        )
        assert winner.app.current is None and len(winner.spool) == 0
    finally:
        ct1.stop()
        ct2.stop()


def test_a_resent_action_acts_once(core: RunningCore, tmp_path: Path) -> None:
    """The device crashed after sending and before removing the action: on restart the spool
    sends it again with the same key, and the core does not call a second patient."""
    admin = setup_ct(core)
    for patient_id, name in (("P001", "张三丰"), ("P002", "欧阳娜娜")):
        check_in(admin, order_exam(core, patient_id, name).accession_number)
    record = enrol(admin, tmp_path, "ct1-caller", "caller", room="CT1")
    spool = Spool(tmp_path / "spool.sqlite")
    action = spool.add("call_next", "POST", "/api/queueing/rooms/CT1/call-next", {})
    client = CoreClient(record)
    first = client.send(action)  # sent; the device dies before spool.remove
    spool.close()

    spool = Spool(tmp_path / "spool.sqlite")  # restart: the action is still there
    settled, _ = spool.replay(client.send)
    assert [r.outcome for r in settled] == [Outcome.DONE]
    assert settled[0].answer["ticket"]["id"] == first.answer["ticket"]["id"]
    state = client.get("/api/queueing/rooms/CT1/state")
    assert state["waiting_count"] == 1  # one patient called, not two
    assert state["current"]["call_count"] == 1
    client.close()
    spool.close()
