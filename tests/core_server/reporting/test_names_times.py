"""Names and times as people read them (issue 18, items 1, 3 and 21): a patient's name never
with a raw ``^`` whether it came by HL7 (王^建国), DICOM (WANG^JIANGUO=王^建国) or was typed
(王建国); the critical-value list shows the name the RIS has now (after an ADT^A08 rename);
times in the hospital's zone and with its offset while the machine runs in UTC (the
conftest sets TZ=UTC)."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core_server import clock
from core_server.reporting import Content, Locked
from core_server.ris import PatientIn
from tests.core_server.reporting.conftest import ATTENDING, RESIDENT, RESIDENT2, Setup

NAMES = ["王^建国", "WANG^JIANGUO=王^建国", "王建国"]


def test_the_machine_runs_in_utc() -> None:
    """What the time tests below rely on: otherwise a machine-zone bug would pass unseen."""
    assert os.environ.get("TZ") == "UTC" and time.localtime().tm_gmtoff == 0


@pytest.mark.parametrize("name", NAMES)
def test_names_are_shown_without_carets(sqlite_setup: Setup, name: str) -> None:
    reporting = sqlite_setup.reporting
    exam_id = sqlite_setup.exam("P-NAME", name)
    (row,) = reporting.worklist(RESIDENT).rows
    assert row.patient_display_name == "王建国"
    report = reporting.start(exam_id, RESIDENT)
    assert report.patient_display_name == "王建国"
    assert report.as_dict()["patient_display_name"] == "王建国"
    reporting.autosave(report.id, RESIDENT, Content(findings="<p>左侧气胸</p>"))
    alert = reporting.raise_critical(report.id, RESIDENT, "左侧气胸")
    assert alert.patient_display_name == "王建国"
    assert "^" not in reporting.alerts(status="open")[0].patient_display_name


def test_the_alert_list_follows_a_rename(setup: Setup) -> None:
    """ADT^A08 renames the patient (the RIS's update_patient): the open alert shows the new
    name at once, in the list and alone, though the report kept the old one as its copy."""
    reporting, ris = setup.reporting, setup.ris
    exam_id = setup.exam("P-A08", "王^建国")
    report = reporting.start(exam_id, RESIDENT)
    reporting.autosave(report.id, RESIDENT, Content(findings="<p>主动脉夹层</p>"))
    alert = reporting.raise_critical(report.id, RESIDENT, "主动脉夹层")
    assert alert.patient_display_name == "王建国"
    ris.update_patient("P-A08", "", PatientIn("P-A08", "王^建华", sex="M"), username="hl7")
    (listed,) = reporting.alerts(status="open")
    assert (listed.patient_name, listed.patient_display_name) == ("王^建华", "王建华")
    assert reporting.alert(alert.id).patient_display_name == "王建华"


def test_lock_refusal_says_the_hospital_time(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    report = reporting.start(sqlite_setup.exam(), RESIDENT)
    reporting.lock(report.id, RESIDENT.username)
    held = reporting.report(report.id)
    assert held.lock_expires_at is not None and held.lock_expires_at.tzinfo is not None
    with pytest.raises(Locked) as refused:
        reporting.lock(report.id, RESIDENT2.username)
    shanghai = (held.lock_expires_at + timedelta(hours=8)).strftime("%H:%M")
    assert refused.value.text("zh") == f"报告正由 {RESIDENT.username} 编辑（锁定至 {shanghai}）"
    assert refused.value.values["expires_at"].endswith("+08:00")
    assert refused.value.expires_at == held.lock_expires_at


def test_api_times_carry_the_hospital_offset(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    report = reporting.start(sqlite_setup.exam(emergency=True), RESIDENT)
    signed = reporting.sign(report.id, RESIDENT, Content("<p>未见异常</p>", "<p>未见异常</p>"))
    shown = signed.as_dict()
    for key in ("created_at", "updated_at", "signed_at", "draft_saved_at"):
        assert shown[key].endswith("+08:00"), (key, shown[key])
    assert signed.signed_at is not None and signed.signed_at.utcoffset() == timedelta(0)
    prior_exam = sqlite_setup.exam()
    (prior,) = reporting.priors(prior_exam)
    assert prior["exam_at"].endswith("+08:00") and prior["report"]["signed_at"].endswith("+08:00")
    assert reporting.versions(report.id)[-1].as_dict()["created_at"].endswith("+08:00")


def test_the_worklist_days_are_the_hospitals(
    sqlite_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 23:30 UTC it is already tomorrow in Shanghai: the default seven days end there."""
    reporting = sqlite_setup.reporting
    asked: list[date] = []
    original = reporting.ris.exams

    def exams(**kw: Any) -> list[Any]:
        asked.append(kw["day"])
        return original(**kw)

    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    monkeypatch.setattr(reporting.ris, "exams", exams)
    reporting.worklist(RESIDENT)
    assert (asked[0], asked[-1]) == (date(2026, 3, 2), date(2026, 2, 24))


def test_times_and_names_of_an_alert_and_a_version(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    report = reporting.start(sqlite_setup.exam(name="WANG^JIANGUO=王^建国"), RESIDENT)
    reporting.submit(report.id, RESIDENT, Content("<p>结节</p>", "<p>结节</p>"))
    reporting.sign(report.id, ATTENDING)
    alert = reporting.raise_critical(report.id, ATTENDING, "大量气胸")
    shown = alert.as_dict()
    assert shown["raised_at"].endswith("+08:00") and shown["chain"][0]["at"].endswith("+08:00")
    assert dataclasses.asdict(alert)["patient_display_name"] == "王建国"
