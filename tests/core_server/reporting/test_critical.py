"""Critical values: raised, carried, escalated until a clinician acknowledges; the whole chain
kept (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_server.reporting import Conflict, Content, Doctor, Forbidden
from tests.core_server.reporting.conftest import RESIDENT, Setup


def test_critical_value_chain_and_escalation(setup: Setup) -> None:
    reporting = setup.reporting
    reporting.change_settings({"critical_escalate_minutes": 15})
    report = reporting.start(setup.exam(), RESIDENT)
    reporting.autosave(report.id, RESIDENT, Content(findings="<p>左侧大量气胸</p>"))
    with pytest.raises(Forbidden):
        reporting.raise_critical(report.id, Doctor("nurse", "clinician"), "气胸")
    alert = reporting.raise_critical(report.id, RESIDENT, "左侧张力性气胸，肺压缩约80%")
    assert (alert.status, alert.escalation_level, alert.patient_name) == ("open", 0, "张三")
    assert reporting.report(report.id).critical
    raised = [p for t, p in setup.events.events if t == "reporting.critical_value_raised"]
    assert raised == [
        {
            "alert_id": alert.id,
            "report_id": report.id,
            "exam_id": report.exam_id,
            "accession_number": report.accession_number,
            "patient_id": "P1",
            "description": "左侧张力性气胸，肺压缩约80%",
            "raised_by": RESIDENT.username,
            "level": 0,
        }
    ]
    # The carrier records what it queued and what the HIS acknowledged.
    reporting.record_alert_event(alert.id, "queued", username="hl7", detail="HIS", ref="7")
    assert reporting.undelivered() == [(alert.id, "7")]
    reporting.record_alert_event(alert.id, "delivered", username="hl7", detail="AA", ref="7")
    assert reporting.undelivered() == []
    # Not yet due: nothing escalates. Past the 15 minutes: escalation 1, then 2.
    assert reporting.escalate_due(alert.raised_at + timedelta(minutes=14)) == []
    first = reporting.escalate_due(alert.raised_at + timedelta(minutes=15, seconds=1))
    assert [a.escalation_level for a in first] == [1]
    assert reporting.escalate_due(alert.raised_at + timedelta(minutes=16)) == []
    second = reporting.escalate_due(alert.raised_at + timedelta(minutes=31))
    assert [a.escalation_level for a in second] == [2]
    escalated = [p for t, p in setup.events.events if t == "reporting.critical_value_escalated"]
    assert [p["level"] for p in escalated] == [1, 2]
    assert [a.id for a in reporting.alerts(status="open")] == [alert.id]
    # A clinician acknowledges: no more escalation; a second acknowledgement is refused.
    done = reporting.acknowledge(alert.id, "dr.ward", "已通知值班医生行胸腔闭式引流")
    assert (done.status, done.acknowledged_by) == ("acknowledged", "dr.ward")
    assert done.acknowledged_at is not None
    with pytest.raises(Conflict, match=r"dr\.ward"):
        reporting.acknowledge(alert.id, "dr.other")
    assert reporting.escalate_due(alert.raised_at + timedelta(hours=5)) == []
    assert reporting.alerts(status="open") == []
    chain = reporting.alert(alert.id).chain
    assert [e.kind for e in chain] == [
        "raised",
        "queued",
        "delivered",
        "escalated",
        "escalated",
        "acknowledged",
    ]
    assert chain[0].username == RESIDENT.username and chain[-1].username == "dr.ward"
    assert chain[-1].detail == "已通知值班医生行胸腔闭式引流"
    assert setup.events.topics()[-1] == "reporting.critical_value_acknowledged"
