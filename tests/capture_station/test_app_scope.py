"""The endoscope check in the state machine: no capture before a scope is scanned or picked
and answered; a warning stops capture until "continue anyway", which is recorded; offline
(no answer in time) capture goes on, the list's warning still stops it; a refusal asks again."""

from __future__ import annotations

from capture_station import app, scope
from capture_station.app import CaptureApp, Command
from capture_station.contract import ExamContext
from capture_station.scope import ScopeAnswered, ScopeCheck, ScopeScanned, ScopesFetched

EXAM = ExamContext("A1", "P1", "WANG^JIANGUO=王^建国", exam_id=7)
EXPIRED = "capture.scope.disinfection_expired"


def endoscopy() -> CaptureApp:
    machine = CaptureApp(pedal_keys={"KEY_B": "still"}, scope=ScopeCheck(True, wait_seconds=3))
    machine.handle(app.WorklistFetched([EXAM]))
    actions = machine.handle(Command("pick"))
    assert any(isinstance(a, scope.FetchScopes) for a in actions)  # the touch list
    machine.handle(ScopesFetched((("GS-01", None), ("GS-02", EXPIRED))))
    return machine


def takes(actions: list[app.Action]) -> bool:
    return any(isinstance(a, app.TakeStill) for a in actions)


def test_no_capture_before_the_scope_is_checked() -> None:
    m = endoscopy()
    assert m.scope.needed and m.scope.choices == ["GS-01", "GS-02"]
    assert not takes(m.handle(Command("still")))
    assert m.notice is not None and m.notice.key == "scope_first"
    actions = m.handle(ScopeScanned("GS-01 "))
    assert [a for a in actions if isinstance(a, scope.UseScope)] == [scope.UseScope(EXAM, "GS-01")]
    assert not takes(m.handle(Command("still")))  # the core has not answered yet
    assert m.notice is not None and m.notice.key == "scope_checking"
    m.handle(ScopeAnswered("GS-01", None))
    assert m.scope.use is not None and m.scope.use.status == "ok" and not m.scope.needed
    assert takes(m.handle(Command("still")))


def test_a_warning_stops_capture_until_continue_anyway_which_is_recorded() -> None:
    m = endoscopy()
    m.handle(Command("scope", "GS-02"))  # touched in the list
    m.handle(ScopeAnswered("GS-02", EXPIRED))
    assert m.notice is not None and m.notice.key == "scope_disinfection_expired" and m.notice.error
    assert not takes(m.handle(Command("still")))
    assert m.notice.key == "scope_confirm_first"
    actions = m.handle(Command("scope_accept"))
    recorded = [a for a in actions if isinstance(a, scope.RecordScope)]
    assert recorded and recorded[0].use.status == "accepted" and recorded[0].use.warning == EXPIRED
    assert takes(m.handle(Command("still")))
    # The exam's end forgets the scope: the next exam scans again.
    m.handle(Command("end"))
    m.handle(Command("pick"))
    assert m.scope.use is None and m.scope.blocks() == "scope_first"


def test_offline_capture_goes_on_and_a_late_warning_still_stops_it() -> None:
    m = endoscopy()
    m.handle(app.Clock(100.0))
    m.handle(ScopeScanned("GS-01"))
    m.handle(app.Clock(102.0))
    assert m.scope.blocks() == "scope_checking"
    actions = m.handle(app.Clock(103.5))  # no answer in 3 s: the core is out of reach
    assert m.scope.use is not None and m.scope.use.status == "unanswered"
    assert any(isinstance(a, scope.RecordScope) for a in actions)
    assert m.notice is not None and m.notice.key == "scope_offline"
    assert takes(m.handle(Command("still")))
    # The spooled use reaches the core later; its warning is shown and stops capture.
    m.handle(ScopeAnswered("GS-01", "capture.scope.disinfection_failed"))
    assert m.notice is not None and m.notice.key == "scope_disinfection_failed"
    assert not takes(m.handle(Command("still")))


def test_offline_the_lists_warning_counts() -> None:
    m = endoscopy()
    m.handle(app.Clock(10.0))
    m.handle(ScopeScanned("GS-02"))
    m.handle(app.Clock(14.0))
    assert m.scope.use is not None and m.scope.use.status == "warned"
    m.handle(Command("scope_accept"))
    assert takes(m.handle(Command("still")))
    # The core's answer, when it comes, is the same warning: the decision stands.
    m.handle(ScopeAnswered("GS-02", EXPIRED))
    assert m.scope.use.status == "accepted" and takes(m.handle(Command("still")))


def test_an_unknown_scope_is_refused_and_asked_again() -> None:
    m = endoscopy()
    m.handle(ScopeScanned("XX-9"))
    m.handle(ScopeAnswered("XX-9", refused="未找到内镜 XX-9"))
    assert m.scope.use is None and m.notice is not None and m.notice.key == "scope_refused"
    assert m.notice.values["message"] == "未找到内镜 XX-9"
    m.handle(ScopeAnswered("GS-01", None))  # an answer for no scope in hand changes nothing
    assert m.scope.use is None and not takes(m.handle(Command("still")))


def test_an_emergency_patient_is_checked_against_the_list_only() -> None:
    m = CaptureApp(scope=ScopeCheck(True))
    m.handle(app.Picked(ExamContext("EM1", "TMP-1", "急诊^0930", temporary=True)))
    actions = m.handle(ScopeScanned("GS-01"))
    assert not any(isinstance(a, scope.UseScope) for a in actions)  # not in the RIS yet
    assert m.scope.use is not None and m.scope.use.status == "unanswered"
    assert takes(m.handle(Command("still")))


def test_without_the_check_nothing_changes() -> None:
    m = CaptureApp()
    m.handle(app.WorklistFetched([EXAM]))
    assert not any(isinstance(a, scope.FetchScopes) for a in m.handle(Command("pick")))
    assert takes(m.handle(Command("still")))
    assert m.notice is None or m.notice.key != "scope_first"


def test_a_restart_keeps_the_scope_decision() -> None:
    m = CaptureApp(scope=ScopeCheck(True))
    use = scope.ScopeUse.from_json(
        scope.ScopeUse(
            "GS-02", "accepted", EXPIRED, accepted_at="2026-12-07T10:00:00+08:00"
        ).as_json()
    )
    m.handle(app.Restored(EXAM, [], True, use))
    assert takes(m.handle(Command("still")))
