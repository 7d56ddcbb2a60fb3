"""The capture station's state machine: patient first, pedal mapping with long press, still,
burst, timed, clip with its maximum, delete before sending, end and discontinue (MPPS)."""

from __future__ import annotations

from capture_station import app
from capture_station.app import CaptureApp, Command, Pedal
from capture_station.contract import Capture, ExamContext, PedalPress

EXAMS = [
    ExamContext("A1", "P1", "WANG^JIANGUO=王^建国", exam_id=1),
    ExamContext("A2", "P2", "LI^SI=李^四", exam_id=2),
]


def machine(**options: object) -> CaptureApp:
    machine = CaptureApp(
        pedal_keys={"KEY_B": "still", "KEY_A": "clip"},
        pedal_long={"KEY_B": "pick"},
        **options,  # type: ignore[arg-type]
    )
    machine.handle(app.WorklistFetched(list(EXAMS)))
    return machine


def capture(key: str, exam: ExamContext = EXAMS[0]) -> Capture:
    return Capture(
        key,
        "still",
        "1.2." + key,
        "1.3",
        exam,
        "2026-12-07T10:00:00+08:00",
        f"{key}.jpg",
        64,
        48,
        1,
    )


def kinds(actions: list[app.Action]) -> list[type]:
    return [type(a) for a in actions if not isinstance(a, app.Redraw)]


def press(m: CaptureApp, code: str, down_at: float, up_at: float) -> list[app.Action]:
    first = m.handle(Pedal(PedalPress(code, True, down_at)))
    return first + m.handle(Pedal(PedalPress(code, False, up_at)))


def test_nothing_is_captured_before_a_patient_is_picked() -> None:
    m = machine()
    assert m.start()[:2] == [app.FetchWorklist(), app.FetchCalled()]
    assert kinds(m.handle(Command("burst"))) == []
    assert m.notice is not None and m.notice.key == "pick_patient_first"
    # The still pedal walks the worklist, its long press picks.
    assert kinds(press(m, "KEY_B", 1.0, 1.1)) == []
    assert m.highlighted == EXAMS[1]
    actions = press(m, "KEY_B", 2.0, 3.0)
    assert app.BeginExam(EXAMS[1]) in actions
    assert m.exam == EXAMS[1]


def test_the_called_exam_is_highlighted_and_touch_picks_any() -> None:
    m = machine()
    m.handle(app.CalledExam(2))
    assert m.highlighted == EXAMS[1]
    m.handle(app.CalledExam(None, "A1"))
    assert m.highlighted == EXAMS[0]
    assert app.BeginExam(EXAMS[1]) in m.handle(Command("pick", 1))
    # Another exam cannot be picked while one is under way.
    assert kinds(m.handle(Command("pick", 0))) == []
    assert m.notice is not None and m.notice.key == "end_exam_first"


def test_emergency_makes_a_temporary_patient_through_the_wiring() -> None:
    m = CaptureApp()
    assert kinds(m.handle(Command("pick"))) == []  # empty worklist
    assert kinds(m.handle(Command("emergency"))) == [app.CreateEmergency]
    temporary = ExamContext("EM1", "TMP-1", "EMERGENCY^1=急诊^1", temporary=True)
    assert app.BeginExam(temporary) in m.handle(app.Picked(temporary))


def test_still_acts_on_pedal_down_during_an_exam_and_starts_mpps_once() -> None:
    m = machine()
    m.handle(Command("pick", 0))
    first = m.handle(Pedal(PedalPress("KEY_B", True, 5.0)))
    assert kinds(first) == [app.StartStep, app.TakeStill]
    assert kinds(m.handle(Pedal(PedalPress("KEY_B", False, 5.05)))) == []
    assert kinds(press(m, "KEY_B", 6.0, 6.1)) == [app.TakeStill]
    assert app.TakeStill(5) in m.handle(Command("burst"))
    # Unmapped keys do nothing.
    assert press(m, "KEY_Z", 7.0, 7.1) == []


def test_taken_captures_are_listed_and_counted_until_sent() -> None:
    m = machine()
    m.handle(Command("pick", 0))
    m.handle(app.Taken([capture("k1"), capture("k2"), capture("x", EXAMS[1])]))
    assert [c.key for c in m.shown_captures] == ["k1", "k2"]
    m.handle(app.SenderState(False, 3))
    assert not m.online and m.unsent == 3
    m.handle(app.SenderState(True, 1, frozenset({"k1"})))
    assert [c.state for c in m.shown_captures] == ["sent", "taken"]


def test_delete_only_before_sending() -> None:
    m = machine()
    m.handle(Command("pick", 0))
    m.handle(app.Taken([capture("k1"), capture("k2")]))
    m.handle(app.SenderState(True, 1, frozenset({"k1"})))
    assert app.DeleteCapture("k2") in m.handle(Command("delete"))
    assert [c.key for c in m.shown_captures] == ["k1"]
    assert kinds(m.handle(Command("delete", "k1"))) == []
    assert m.notice is not None and m.notice.key == "nothing_to_delete"


def test_timed_capture_counts_down_and_stops() -> None:
    m = machine(timed_seconds=3.0)
    m.handle(Command("pick", 0))
    m.handle(app.Clock(10.0))
    assert kinds(m.handle(Command("timed"))) == [app.StartStep, app.TakeStill]
    m.handle(app.Clock(11.2))
    assert m.timed_countdown == 2
    assert kinds(m.handle(app.Clock(13.0))) == [app.TakeStill]
    assert m.timed_countdown == 3
    m.handle(Command("timed"))
    assert m.timed_countdown is None
    assert kinds(m.handle(app.Clock(30.0))) == []


def test_clip_starts_stops_and_ends_at_its_maximum() -> None:
    m = machine(clip_max_seconds=4.0)
    m.handle(Command("pick", 0))
    m.handle(app.Clock(1.0))
    assert app.StartClip(4.0) in press(m, "KEY_A", 1.0, 1.1)
    m.handle(app.Clock(3.5))
    assert m.clip_seconds == 2.5
    assert kinds(m.handle(app.Clock(5.0))) == [app.StopClip]
    assert kinds(m.handle(app.Clock(5.5))) == []  # asked once
    m.handle(app.ClipEnded(capture("clip1")))
    assert m.clip_seconds is None and m.shown_captures[-1].key == "clip1"
    # Started again and stopped by the pedal.
    press(m, "KEY_A", 6.0, 6.1)
    assert kinds(press(m, "KEY_A", 7.0, 7.1)) == [app.StopClip]


def test_end_completes_and_discontinue_asks_a_reason() -> None:
    m = machine()
    m.handle(Command("pick", 0))
    m.handle(Command("still"))
    actions = m.handle(Command("end"))
    assert app.EndStep(EXAMS[0], "COMPLETED", "") in actions
    assert app.FetchWorklist() in actions and m.exam is None
    # An exam ended without a capture still has its step created first.
    m.handle(Command("pick", 1))
    assert kinds(m.handle(Command("discontinue"))) == [] and m.choosing_reason
    actions = m.handle(Command("discontinue", "equipment_failure"))
    assert kinds(actions)[:2] == [app.StartStep, app.EndStep]
    assert app.EndStep(EXAMS[1], "DISCONTINUED", "equipment_failure") in actions


def test_restored_exam_and_captures_after_a_crash() -> None:
    m = machine()
    m.handle(app.Restored(EXAMS[0], [capture("k1")], True))
    assert m.exam == EXAMS[0] and [c.key for c in m.shown_captures] == ["k1"]
    assert kinds(m.handle(Command("still"))) == [app.TakeStill]  # the step was started before
