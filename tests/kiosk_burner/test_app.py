"""Every transition of the kiosk's state machine, without I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kiosk_burner import app as k
from kiosk_burner.app import KioskApp, Touched

T0 = datetime(2026, 12, 7, 9, 0, 0)
EXAMS = [
    {
        "exam_id": 1,
        "accession_number": "A1",
        "exam_date": "2026-12-01",
        "procedure": "胸部CT平扫",
        "modality": "CT",
        "images": 320,
        "report": True,
        "may_burn": True,
        "why_not": "",
    },
    {
        "exam_id": 2,
        "accession_number": "A2",
        "exam_date": "2026-12-05",
        "procedure": "头颅MR",
        "modality": "MR",
        "images": 180,
        "report": False,
        "may_burn": False,
        "why_not": "discs.why.no_report",
    },
    {
        "exam_id": 3,
        "accession_number": "A3",
        "exam_date": "2026-11-02",
        "procedure": "腹部CT",
        "modality": "CT",
        "images": 90,
        "report": True,
        "may_burn": True,
        "why_not": "",
    },
]


def online() -> KioskApp:
    app = KioskApp(idle_seconds=60, show_seconds=30, now=T0)
    app.handle(k.Connection(True))
    return app


def identified(app: KioskApp) -> KioskApp:
    [identify, _] = app.handle(k.Scanned("A1"))
    assert isinstance(identify, k.Identify) and identify.body == {"code": "A1"}
    assert app.screen == k.LOOKING_UP
    app.handle(k.Identified(identify.key, {"patient_id": "P1", "name": "王建国"}, EXAMS))
    return app


def queued(app: KioskApp) -> k.QueueJob:
    identified(app)
    app.handle(Touched("continue"))
    [queue, _] = app.handle(Touched("burn"))
    assert isinstance(queue, k.QueueJob)
    app.handle(k.JobQueued(queue.key, {"id": 41, "state": "queued"}))
    return queue


def test_scan_lists_exams_and_only_burnable_ones_can_be_picked() -> None:
    app = identified(online())
    assert app.screen == k.EXAMS
    assert [e["exam_id"] for e in app.burnable] == [1, 3]
    assert [e["exam_id"] for e in app.not_burnable] == [2]
    assert app.picked == [1]  # the first burnable one, preselected
    assert app.handle(Touched("exam:2")) == []  # may not be burned: no pick
    app.handle(Touched("exam:3"))
    app.handle(Touched("exam:1"))
    assert app.picked == [3]
    app.handle(Touched("exam:3"))
    assert app.handle(Touched("continue")) == [] and app.screen == k.EXAMS  # nothing picked


def test_copies_one_to_three_then_queued_and_progress_to_done() -> None:
    app = identified(online())
    app.handle(Touched("exam:3"))
    app.handle(Touched("continue"))
    assert app.screen == k.COPIES and app.copies == 1
    app.handle(Touched("copies:3"))
    app.handle(Touched("copies:9"))
    assert app.copies == 3
    app.handle(Touched("back"))
    assert app.screen == k.EXAMS
    app.handle(Touched("continue"))
    [queue, _] = app.handle(Touched("burn"))
    assert queue == k.QueueJob(queue.key, (1, 3), 3)  # type: ignore[union-attr]
    assert app.screen == k.QUEUING
    app.handle(k.JobQueued(queue.key, {"id": 41, "state": "queued"}))  # type: ignore[union-attr]
    assert (app.screen, app.job_id) == (k.PROGRESS, 41)
    assert app.handle(k.JobStep(99, "burning", 1, 1)) == []  # the desk's job, not this one
    app.handle(k.JobStep(41, "building"))
    app.handle(k.JobStep(41, "burning", 1, 2))
    assert (app.job_state, app.disc, app.discs) == ("burning", 1, 2)
    app.handle(k.JobStep(41, "burning", 1, 2, reason="verify_failed"))
    assert app.reason == "verify_failed" and app.screen == k.PROGRESS  # retried on a new disc
    app.handle(k.JobStep(41, "labelling", 2, 2))
    assert app.reason == ""
    app.handle(k.JobStep(41, "done", 2, 2))
    assert app.screen == k.DONE
    app.handle(Touched("finish"))
    assert app.screen == k.WELCOME and app.patient == {} and app.job_id is None


def test_keypad_id_card_and_birth_date() -> None:
    app = online()
    app.handle(Touched("start"))
    assert app.screen == k.IDENTIFY and app.entering == k.ID_CARD
    for digit in "11010119800115123":
        app.handle(Touched(f"key:{digit}"))
    app.handle(Touched("key:X"))
    assert app.id_card == "11010119800115123X"
    app.handle(Touched("key:5"))  # 18 is the most
    assert app.id_card == "11010119800115123X"
    app.handle(Touched("delete"))
    assert app.handle(Touched("next"))[0] == k.Redraw()
    assert app.message == {"key": "id_card_incomplete"} and app.entering == k.ID_CARD
    app.handle(Touched("key:X"))
    app.handle(Touched("next"))
    assert app.entering == k.BIRTH_DATE and app.message is None
    assert app.handle(Touched("key:X")) == []  # no X in a date
    for digit in "19800231":
        app.handle(Touched(f"key:{digit}"))
    app.handle(Touched("next"))
    assert app.message == {"key": "birth_date_invalid"} and app.screen == k.IDENTIFY
    app.handle(Touched("delete"))
    app.handle(Touched("delete"))
    app.handle(Touched("key:1"))
    app.handle(Touched("key:5"))
    [identify, _] = app.handle(Touched("next"))
    assert identify.body == {"id_card": "11010119800115123X", "birth_date": "1980-02-15"}  # type: ignore[union-attr]
    assert app.screen == k.LOOKING_UP
    app.handle(k.Refused(identify.key, "discs.not_found", "未找到"))  # type: ignore[union-attr]
    assert app.screen == k.ERROR and app.message == {"text": "未找到", "code": "discs.not_found"}


def test_back_from_birth_date_and_from_keypad() -> None:
    app = online()
    app.handle(Touched("start"))
    app.entering = k.BIRTH_DATE
    app.handle(Touched("back"))
    assert app.entering == k.ID_CARD and app.screen == k.IDENTIFY
    app.handle(Touched("back"))
    assert app.screen == k.WELCOME


@pytest.mark.parametrize("screen", ["identify", "looking_up", "exams", "copies", "queuing"])
def test_cancel_at_any_step_before_the_job_forgets_the_patient(screen: str) -> None:
    app = online()
    app.handle(Touched("start"))
    if screen not in ("identify", "looking_up"):
        identified(app)
    if screen == "copies":
        app.handle(Touched("continue"))
    if screen == "queuing":
        app.handle(Touched("continue"))
        app.handle(Touched("burn"))
    if screen == "looking_up":
        app.handle(k.Scanned("A1"))
    assert app.screen == screen
    assert app.handle(Touched("cancel")) == [k.Redraw()]
    assert app.screen == k.WELCOME and app.patient == {} and app.picked == []
    # The late answer of the abandoned request changes nothing.
    assert app.handle(k.JobQueued("any", {"id": 5})) == []
    assert app.handle(k.Identified("any", {}, EXAMS)) == []


def test_cancel_during_burning_cancels_the_job() -> None:
    app = online()
    queued(app)
    app.handle(k.JobStep(41, "burning", 1, 1))
    assert app.handle(Touched("cancel")) == [k.CancelJob(41), k.Redraw()]
    assert app.screen == k.WELCOME
    assert app.handle(k.JobStep(41, "cancelled")) == []


def test_robot_needs_the_desk_and_failure() -> None:
    app = online()
    queued(app)
    app.handle(k.JobStep(41, "burning", 1, 1, reason="no_blank_disc"))
    assert app.screen == k.PROGRESS and app.reason == "no_blank_disc"
    app.handle(k.JobStep(41, "failed", reason="out_of_ink"))
    assert app.screen == k.ERROR and app.message == {"key": "ask_desk"}
    app2 = online()
    queued(app2)
    app2.handle(k.JobStep(41, "failed", reason="verify_failed"))  # after the last attempt
    assert app2.message == {"key": "burn_failed_final"}


def test_writer_not_ok_takes_no_new_jobs() -> None:
    app = online()
    app.handle(k.WriterStatus(False, ("out_of_ink",)))
    assert not app.may_start
    app.handle(Touched("start"))
    assert app.screen == k.ERROR and app.message == {"key": "ask_desk"}
    app.handle(Touched("finish"))
    assert app.handle(k.Scanned("A1")) == [k.Redraw()] and app.message == {"key": "ask_desk"}
    app.handle(k.WriterStatus(True))
    app.handle(Touched("finish"))
    assert isinstance(app.handle(k.Scanned("A1"))[0], k.Identify)


def test_core_unreachable_says_so_and_takes_no_new_jobs() -> None:
    app = KioskApp(now=T0)
    app.handle(k.Scanned("A1"))
    assert app.screen == k.ERROR and app.message == {"key": "core_unreachable"}
    app = identified(online())
    app.handle(k.Connection(False))
    assert app.screen == k.ERROR and app.message == {"key": "core_unreachable"}
    # Lost mid-request: the answer that never comes is an error, not a hang.
    app = online()
    [identify, _] = app.handle(k.Scanned("A1"))
    app.handle(k.Unreachable(identify.key))  # type: ignore[union-attr]
    assert app.message == {"key": "core_unreachable"}
    # A burning job goes on (the worker reports when it can).
    app = online()
    queued(app)
    app.handle(k.Connection(False))
    assert app.screen == k.PROGRESS


def test_idle_timeout_back_to_welcome() -> None:
    app = identified(online())
    app.handle(k.Tick(T0 + timedelta(seconds=59)))
    assert app.screen == k.EXAMS
    app.handle(Touched("exam:3"))  # a touch restarts the wait
    app.handle(k.Tick(T0 + timedelta(seconds=100)))
    assert app.screen == k.EXAMS
    app.handle(k.Tick(T0 + timedelta(seconds=121)))
    assert app.screen == k.WELCOME and app.patient == {}
    # Progress never times out; done does, after show_seconds.
    app = online()
    queued(app)
    app.handle(k.Tick(T0 + timedelta(hours=1)))
    assert app.screen == k.PROGRESS
    app.handle(k.JobStep(41, "done", 1, 1))
    app.handle(k.Tick(T0 + timedelta(hours=1, seconds=31)))
    assert app.screen == k.WELCOME
    # Waiting for the core's answer does not time out either.
    app = online()
    app.handle(k.Scanned("A1"))
    app.handle(k.Tick(T0 + timedelta(seconds=200)))
    assert app.screen == k.LOOKING_UP


def test_stray_scan_while_burning_is_ignored() -> None:
    app = online()
    queued(app)
    assert app.handle(k.Scanned("A9")) == []
    assert app.screen == k.PROGRESS
