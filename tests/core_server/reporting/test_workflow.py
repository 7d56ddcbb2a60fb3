"""Report states, sign-off levels, emergencies, locks, versions and diff, reject and amend, word
rules: on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core_server import db
from core_server.reporting import Conflict, Content, Forbidden, Locked, WordCheckFailed
from core_server.reporting.tables import reporting_reports
from tests.core_server.reporting.conftest import ATTENDING, CHIEF, RESIDENT, RESIDENT2, Setup

FINDINGS = "<p>双肺纹理清晰，<b>右肺上叶</b>见一结节，大小约1.5cm×1.2cm。</p>"
IMPRESSION = "<p>右肺上叶结节，建议随访。</p>"


def test_two_levels_submit_then_sign_moves_the_exam(setup: Setup) -> None:
    ris, reporting = setup.ris, setup.reporting
    exam_id = setup.exam()
    report = reporting.start(exam_id, RESIDENT)
    assert (report.status, report.levels, report.author) == ("draft", 2, "")
    assert reporting.start(exam_id, RESIDENT2).id == report.id  # one report per exam
    reporting.lock(report.id, RESIDENT.username)
    saved = reporting.autosave(
        report.id, RESIDENT, Content(findings=FINDINGS + "<script>alert(1)</script>")
    )
    assert "script" not in saved.findings and "<b>右肺上叶</b>" in saved.findings
    assert saved.author == RESIDENT.username  # the first to write, not the first to open
    assert saved.version == 0 and saved.draft_saved_at is not None  # autosave keeps no version
    submitted = reporting.submit(report.id, RESIDENT, Content(impression=IMPRESSION))
    assert (submitted.status, submitted.version, submitted.lock_holder) == ("submitted", 1, "")
    assert ris.exam(exam_id).status == "reported"
    # The author cannot sign their own report; a resident cannot sign at all.
    with pytest.raises(Forbidden):
        reporting.sign(report.id, RESIDENT)
    with pytest.raises(Forbidden):
        reporting.sign(report.id, RESIDENT2)
    signed = reporting.sign(
        report.id, ATTENDING, Content(impression="<p>右肺上叶小结节，建议3个月后复查。</p>")
    )
    assert (signed.status, signed.signed_by, signed.signed_version) == (
        "signed",
        ATTENDING.username,
        2,
    )
    assert ris.exam(exam_id).status == "verified"
    assert [h.action for h in reporting.history(report.id)] == ["create", "submit", "sign"]
    assert setup.events.topics() == ["reporting.report_submitted", "reporting.report_signed"]
    payload = setup.events.events[-1][1]
    assert payload["final"] is True and payload["corrected"] is False
    assert payload["exam_id"] == exam_id and payload["version"] == 2
    # The reviewer's changes against the author's version, character by character.
    changes = reporting.diff(report.id)
    assert changes["from"]["username"] == RESIDENT.username
    assert changes["findings"] == [
        {"op": "equal", "text": "双肺纹理清晰，右肺上叶见一结节，大小约1.5cm×1.2cm。"}
    ]
    impression = changes["impression"]
    assert {"op": "insert", "text": "小"} in impression
    assert {"op": "delete", "text": "建议随访"} in impression or any(
        r["op"] == "delete" and "随访" in r["text"] for r in impression
    )
    assert (
        "".join(r["text"] for r in impression if r["op"] != "insert") == "右肺上叶结节，建议随访。"
    )
    assert "".join(r["text"] for r in impression if r["op"] != "delete") == (
        "右肺上叶小结节，建议3个月后复查。"
    )
    # Signed: no more edits without an amendment.
    with pytest.raises(Conflict, match="amend"):
        reporting.autosave(report.id, ATTENDING, Content(findings="x"))


def test_three_levels_resident_attending_chief(setup: Setup) -> None:
    reporting = setup.reporting
    reporting.set_levels("RAD", 3)
    exam_id = setup.exam()
    report = reporting.start(exam_id, RESIDENT)
    assert report.levels == 3
    reporting.submit(report.id, RESIDENT, Content(findings=FINDINGS, impression=IMPRESSION))
    with pytest.raises(Conflict, match="three levels"):
        reporting.sign(report.id, ATTENDING)  # the attending reviews, the chief signs
    with pytest.raises(Forbidden):
        reporting.review(report.id, RESIDENT2)
    reviewed = reporting.review(report.id, ATTENDING)
    assert (reviewed.status, reviewed.reviewed_by) == ("reviewed", ATTENDING.username)
    assert setup.ris.exam(exam_id).status == "reported"
    with pytest.raises(Forbidden, match="chief"):
        reporting.sign(report.id, ATTENDING)
    signed = reporting.sign(report.id, CHIEF)
    assert (signed.status, signed.signed_by) == ("signed", CHIEF.username)
    assert [v.action for v in reporting.versions(report.id)] == ["submit", "review", "sign"]
    assert setup.ris.exam(exam_id).status == "verified"


def test_emergency_reports_are_signed_at_one_level(setup: Setup) -> None:
    reporting = setup.reporting
    routine = reporting.start(setup.exam("P1"), RESIDENT)
    reporting.autosave(routine.id, RESIDENT, Content(findings=FINDINGS, impression=IMPRESSION))
    with pytest.raises(Conflict, match="emergency"):
        reporting.sign(routine.id, RESIDENT)
    exam_id = setup.exam("P2", "李四", emergency=True)
    urgent = reporting.start(exam_id, RESIDENT)
    assert urgent.emergency
    signed = reporting.sign(urgent.id, RESIDENT, Content(findings=FINDINGS, impression=IMPRESSION))
    assert (signed.status, signed.author, signed.signed_by, signed.levels) == (
        "signed",
        RESIDENT.username,
        RESIDENT.username,
        1,
    )
    # completed -> reported -> verified, both steps in the RIS history.
    assert [c.new_status for c in setup.ris.history(exam_id)][-2:] == ["reported", "verified"]
    # A one-level department signs every report from the draft.
    reporting.set_levels("RAD", 1)
    with pytest.raises(Conflict, match="one-level"):
        reporting.submit(routine.id, RESIDENT)
    assert reporting.sign(routine.id, RESIDENT).status == "signed"


def test_one_editor_at_a_time(setup: Setup) -> None:
    reporting = setup.reporting
    report = reporting.start(setup.exam(), RESIDENT)
    reporting.lock(report.id, RESIDENT.username)
    with pytest.raises(Locked) as refused:
        reporting.lock(report.id, RESIDENT2.username)
    assert refused.value.holder == RESIDENT.username
    with pytest.raises(Locked):
        reporting.autosave(report.id, RESIDENT2, Content(findings="覆盖"))
    # Autosave renews the holder's lock.
    before = reporting.report(report.id).lock_expires_at
    renewed = reporting.autosave(report.id, RESIDENT, Content(findings=FINDINGS))
    assert renewed.lock_expires_at is not None and before is not None
    assert renewed.lock_expires_at >= before
    # Unlocking someone else's lock does nothing; the holder's own release frees it.
    assert reporting.unlock(report.id, RESIDENT2.username).lock_holder == RESIDENT.username
    reporting.unlock(report.id, RESIDENT.username)
    assert reporting.lock(report.id, RESIDENT2.username).lock_holder == RESIDENT2.username
    # An expired lock is free (the holder's browser went away).
    with db.write(setup.engine) as conn:
        conn.execute(
            update(reporting_reports)
            .where(reporting_reports.c.id == report.id)
            .values(lock_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert reporting.lock(report.id, RESIDENT.username).lock_holder == RESIDENT.username
    # An administrator breaks a live lock; it is in the history.
    assert reporting.lock(report.id, "admin", force=True).lock_holder == "admin"
    assert reporting.history(report.id)[-1].action == "break_lock"
    assert reporting.report(report.id).findings == FINDINGS  # nothing the holder saved is lost


def test_reject_with_reason_then_amend_a_signed_report(setup: Setup) -> None:
    ris, reporting = setup.ris, setup.reporting
    exam_id = setup.exam()
    report = reporting.start(exam_id, RESIDENT)
    reporting.submit(report.id, RESIDENT, Content(findings=FINDINGS, impression=IMPRESSION))
    with pytest.raises(Conflict, match="reason"):
        reporting.reject(report.id, ATTENDING, " ")
    rejected = reporting.reject(report.id, ATTENDING, "结节大小请复测")
    assert rejected.status == "draft" and ris.exam(exam_id).status == "completed"
    assert reporting.versions(report.id)[-1].reason == "结节大小请复测"
    reporting.submit(report.id, RESIDENT, Content(findings=FINDINGS.replace("1.5cm", "1.6cm")))
    first = reporting.sign(report.id, ATTENDING)
    # Amend: back to draft, the signed version kept, the exam back to "reported".
    with pytest.raises(Conflict, match="reason"):
        reporting.amend(report.id, ATTENDING, "")
    amending = reporting.amend(report.id, ATTENDING, "补充纵隔所见")
    assert (amending.status, amending.amendments, amending.author) == ("draft", 1, "")
    assert ris.exam(exam_id).status == "reported"
    kept = reporting.version(report.id, first.signed_version or 0)
    assert (kept.action, kept.status) == ("sign", "signed") and "1.6cm" in kept.findings
    reporting.submit(
        report.id, RESIDENT, Content(impression=IMPRESSION + "<p>纵隔未见肿大淋巴结。</p>")
    )
    corrected = reporting.sign(report.id, ATTENDING)
    assert corrected.signed_version and corrected.signed_version > (first.signed_version or 0)
    assert corrected.author == RESIDENT.username  # who wrote the amendment
    assert ris.exam(exam_id).status == "verified"
    signed_events = [p for t, p in setup.events.events if t == "reporting.report_signed"]
    assert [(p["final"], p["corrected"]) for p in signed_events] == [(True, False), (False, True)]
    assert [v.action for v in reporting.versions(report.id)] == [
        "submit",
        "reject",
        "submit",
        "sign",
        "amend",
        "submit",
        "sign",
    ]


def test_forbidden_and_mutually_exclusive_words_block_signing(setup: Setup) -> None:
    reporting = setup.reporting
    reporting.add_word_rule("forbidden", "肯定是癌", message="不得使用绝对化用语")
    reporting.add_word_rule("exclusive", "未见异常", other="结节", message="结论与所见矛盾")
    reporting.add_word_rule("forbidden", "钼靶", modality="MG")  # another modality's rule
    report = reporting.start(setup.exam(), RESIDENT)
    reporting.autosave(
        report.id, RESIDENT, Content(findings=FINDINGS, impression="<p>未见异常，钼靶</p>")
    )
    assert [p["kind"] for p in reporting.check(report.id)] == ["exclusive"]
    with pytest.raises(WordCheckFailed) as refused:
        reporting.submit(report.id, RESIDENT)
    assert refused.value.problems[0]["message"] == "结论与所见矛盾"
    assert reporting.report(report.id).status == "draft"  # nothing moved, nothing lost
    with pytest.raises(WordCheckFailed, match="绝对化"):
        reporting.submit(report.id, RESIDENT, Content(impression="<p>肯定是癌</p>"))
    # The text sent with the refused step was saved (the editor loses nothing).
    assert "肯定是癌" in reporting.report(report.id).impression
    assert reporting.submit(report.id, RESIDENT, Content(impression=IMPRESSION)).status == (
        "submitted"
    )


def test_concurrent_lock_requests_leave_one_holder(setup: Setup) -> None:
    reporting = setup.reporting
    report = reporting.start(setup.exam(), RESIDENT)
    doctors = [f"doctor{i}" for i in range(8)]
    start = threading.Barrier(len(doctors))

    def take(username: str) -> str:
        start.wait()
        try:
            return reporting.lock(report.id, username).lock_holder
        except Locked as refused:
            return f"refused:{refused.holder}"

    with ThreadPoolExecutor(len(doctors)) as pool:
        answers = list(pool.map(take, doctors))
    holder = reporting.report(report.id).lock_holder
    assert holder in doctors
    assert sorted(answers) == sorted([holder] + [f"refused:{holder}"] * (len(doctors) - 1))


def test_doctors_opening_one_exam_at_once_share_one_report(setup: Setup) -> None:
    exam_id = setup.exam()
    start = threading.Barrier(6)

    def open_report(_: int) -> int:
        start.wait()
        return setup.reporting.start(exam_id, RESIDENT).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(open_report, range(6)))
    assert len(ids) == 1
    assert [h.action for h in setup.reporting.history(ids.pop())] == ["create"]
