"""The reporting REST API on a running core: a report's way from the worklist to the clinician,
locks, word rules, critical values, configuration, and who is refused what."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import RunningCore

PASSWORD = "password-123"


@dataclass
class Staff:
    resident: httpx.Client
    attending: httpx.Client
    clinician: httpx.Client
    technician: httpx.Client
    admin: httpx.Client


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core for this module's tests (signing users in is the slow part: Argon2)."""
    core = RunningCore(tmp_path_factory.mktemp("reporting-api") / "data").start()
    try:
        yield core
    finally:
        core.stop()


@pytest.fixture(scope="module")
def staff(running: RunningCore) -> Staff:
    return Staff(
        resident=_user(running, "li", "reporting_doctor"),
        attending=_user(running, "wang", "reviewing_doctor"),
        clinician=_user(running, "ward", "clinician"),
        technician=_user(running, "tech", "technician"),
        admin=running.api(),
    )


def _user(core: RunningCore, name: str, role: str) -> httpx.Client:
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": name, "password": PASSWORD, "role": role}
        ).raise_for_status()
    return core.api(name, PASSWORD)


def _performed_exam(core: RunningCore, placer: str, *, emergency: bool = False) -> int:
    with core.api() as admin:
        order = {
            "patient": {"patient_id": "R001", "name": "欧阳娜娜"},
            "placer_order_number": placer,
            "emergency": emergency,
            "procedures": [{"procedure_code": "CT-CHEST"}],
        }
        placed = admin.post("/api/ris/orders", json=order)
        assert placed.status_code == 201, placed.text
        exam_id = int(placed.json()["exams"][0]["id"])
        for step in ("arrived", "in_progress", "completed"):
            admin.post(f"/api/ris/exams/{exam_id}/status", json={"status": step}).raise_for_status()
    return exam_id


def test_report_from_worklist_to_clinician(running: RunningCore, staff: Staff) -> None:
    resident, attending, clinician = staff.resident, staff.attending, staff.clinician
    technician, admin = staff.technician, staff.admin
    exam_id = _performed_exam(running, "API-1")

    answer = resident.get("/api/reporting/worklist", params={"q": "oyn"})
    listed = answer.json()
    assert (exam_id, "") in [(r["exam_id"], r["report_status"]) for r in listed]
    assert answer.headers["X-Total-Count"] == str(len(listed))
    assert (
        resident.get("/api/reporting/worklist", params={"q": "oyn", "offset": 1}).json()
        == (listed[1:])
    )
    assert resident.get("/api/reporting/worklist", params={"limit": 0}).status_code == 422
    assert clinician.get("/api/reporting/worklist").status_code == 403

    created = resident.post(f"/api/reporting/exams/{exam_id}/report")
    assert created.status_code == 201, created.text
    report_id = created.json()["id"]
    assert resident.post(f"/api/reporting/exams/{exam_id}/report").status_code == 200
    assert clinician.post(f"/api/reporting/exams/{exam_id}/report").status_code == 403

    # The lock: the second doctor is told who holds it.
    assert resident.post(f"/api/reporting/reports/{report_id}/lock").status_code == 200
    refused = attending.put(f"/api/reporting/reports/{report_id}/draft", json={"findings": "x"})
    assert refused.status_code == 409 and refused.json()["detail"]["holder"] == "li"
    saved = resident.put(
        f"/api/reporting/reports/{report_id}/draft",
        json={"findings": "<p>双肺<b>纹理</b>清晰<img src=x onerror=alert(1)></p>"},
    )
    assert saved.status_code == 200 and saved.json()["draft_saved_at"]
    assert resident.get(f"/api/reporting/reports/{report_id}").json()["findings"] == (
        "<p>双肺<b>纹理</b>清晰</p>"
    )

    # Word rules are the administrator's; a forbidden word stops the submission (422).
    rule = {"kind": "forbidden", "word": "肯定", "message": "避免绝对化用语"}
    assert resident.post("/api/reporting/word-rules", json=rule).status_code == 403
    assert admin.post("/api/reporting/word-rules", json=rule).status_code == 201
    blocked = resident.post(
        f"/api/reporting/reports/{report_id}/submit", json={"impression": "肯定是肺炎"}
    )
    assert blocked.status_code == 422
    assert blocked.json()["detail"]["problems"][0]["word"] == "肯定"
    submitted = resident.post(
        f"/api/reporting/reports/{report_id}/submit", json={"impression": "<p>未见异常</p>"}
    )
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"

    # Clinicians read signed reports only.
    assert clinician.get(f"/api/reporting/reports/{report_id}").status_code == 404
    assert resident.post(f"/api/reporting/reports/{report_id}/sign").status_code == 403  # own
    signed = attending.post(
        f"/api/reporting/reports/{report_id}/sign", json={"impression": "<p>两肺未见异常</p>"}
    )
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    assert admin.get(f"/api/ris/exams/{exam_id}").json()["status"] == "verified"
    read = clinician.get(f"/api/reporting/exams/{exam_id}/report").json()
    assert (read["impression"], read["status"], read["amending"]) == (
        "<p>两肺未见异常</p>",
        "signed",
        False,
    )
    diff = attending.get(f"/api/reporting/reports/{report_id}/diff").json()
    assert {"op": "insert", "text": "两肺"} in diff["impression"]

    # Amending: the clinician keeps reading the signed text meanwhile.
    amended = attending.post(f"/api/reporting/reports/{report_id}/amend", json={"reason": "补充"})
    assert amended.status_code == 200 and amended.json()["status"] == "draft"
    attending.put(f"/api/reporting/reports/{report_id}/draft", json={"impression": "<p>改</p>"})
    during = clinician.get(f"/api/reporting/reports/{report_id}").json()
    assert (during["impression"], during["amending"]) == ("<p>两肺未见异常</p>", True)

    # Quality: the reviewer grades the report, a technician the images.
    assert (
        resident.put(
            f"/api/reporting/reports/{report_id}/report-quality", json={"quality": "good"}
        ).status_code
        == 403
    )
    assert (
        attending.put(
            f"/api/reporting/reports/{report_id}/report-quality", json={"quality": "good"}
        ).json()["report_quality"]
        == "good"
    )
    graded = technician.put(
        f"/api/reporting/exams/{exam_id}/image-quality", json={"quality": "excellent"}
    )
    assert graded.status_code == 200 and graded.json()["image_quality_by"] == "tech"
    # The technician, who may not read reports, sees the grade on the technician page.
    grade = technician.get(f"/api/reporting/exams/{exam_id}/image-quality").json()
    assert grade == {"quality": "excellent", "graded_by": "tech"}
    assert (
        technician.put(
            f"/api/reporting/exams/{exam_id}/image-quality", json={"quality": "perfect"}
        ).status_code
        == 422
    )

    # Audit: sign and amend are on the trail.
    trail = admin.get("/api/audit", params={"action": "reporting."}).json()["events"]
    actions = [e["action"] for e in trail]
    assert "reporting.report.sign" in actions and "reporting.report.amend" in actions


def test_critical_alerts_locks_and_configuration(running: RunningCore, staff: Staff) -> None:
    resident, clinician, admin = staff.resident, staff.clinician, staff.admin
    exam_id = _performed_exam(running, "API-2", emergency=True)
    report_id = resident.post(f"/api/reporting/exams/{exam_id}/report").json()["id"]

    raised = resident.post(
        f"/api/reporting/reports/{report_id}/critical", json={"description": "主动脉夹层"}
    )
    assert raised.status_code == 201
    alert_id = raised.json()["id"]
    assert (
        clinician.post(
            f"/api/reporting/reports/{report_id}/critical", json={"description": "x"}
        ).status_code
        == 403
    )
    open_alerts = clinician.get("/api/reporting/critical-alerts", params={"status": "open"}).json()
    assert [a["id"] for a in open_alerts] == [alert_id]
    assert (
        resident.post(f"/api/reporting/critical-alerts/{alert_id}/acknowledge", json={}).status_code
        == 403
    )
    done = clinician.post(
        f"/api/reporting/critical-alerts/{alert_id}/acknowledge", json={"note": "已会诊"}
    ).json()
    assert (done["status"], done["acknowledged_by"]) == ("acknowledged", "ward")
    assert [e["kind"] for e in done["chain"]] == ["raised", "acknowledged"]
    assert (
        clinician.post(
            f"/api/reporting/critical-alerts/{alert_id}/acknowledge", json={}
        ).status_code
        == 409
    )

    # An emergency report is signed by its author at once.
    signed = resident.post(
        f"/api/reporting/reports/{report_id}/sign",
        json={"findings": "<p>主动脉夹层</p>", "impression": "<p>主动脉夹层 Stanford A型</p>"},
    )
    assert signed.status_code == 200 and signed.json()["levels"] == 1

    # The administrator breaks a lock; configuration is the administrator's.
    exam2 = _performed_exam(running, "API-3")
    report2 = resident.post(f"/api/reporting/exams/{exam2}/report").json()["id"]
    resident.post(f"/api/reporting/reports/{report2}/lock").raise_for_status()
    assert resident.post(f"/api/reporting/reports/{report2}/lock/break").status_code == 403
    freed = admin.post(f"/api/reporting/reports/{report2}/lock/break")
    assert freed.status_code == 200 and freed.json()["lock_holder"] == ""
    assert (
        resident.put("/api/reporting/departments/RAD/levels", json={"levels": 3}).status_code == 403
    )
    assert admin.put("/api/reporting/departments/RAD/levels", json={"levels": 3}).json() == {
        "RAD": 3
    }
    assert admin.put("/api/reporting/doctors/wang/grade", json={"grade": "chief"}).json() == {
        "wang": "chief"
    }
    assert admin.put("/api/reporting/settings", json={"lock_minutes": 0}).status_code == 400
    changed = admin.put("/api/reporting/settings", json={"critical_escalate_minutes": 30}).json()
    assert changed["critical_escalate_minutes"] == 30
    settings = resident.get("/api/reporting/settings").json()
    assert (settings["department_levels"], settings["grades"]) == ({"RAD": 3}, {"wang": "chief"})

    # Templates: doctors keep private ones, administrators the shared ones.
    shared = {"name": "胸部正常", "scope": "system", "modality": "CT", "findings": "<p>清晰</p>"}
    assert resident.post("/api/reporting/templates", json=shared).status_code == 403
    template = admin.post("/api/reporting/templates", json=shared)
    assert template.status_code == 201
    own = resident.post(f"/api/reporting/reports/{report2}/template", json={"name": "我的模板"})
    assert own.status_code == 201 and own.json()["owner"] == "li"
    names = [
        t["name"]
        for t in resident.get("/api/reporting/templates", params={"modality": "CT"}).json()
    ]
    assert "胸部正常" in names and "我的模板" in names
    assert (
        admin.put(
            "/api/reporting/default-templates/CT-CHEST",
            json={"template_id": template.json()["id"]},
        ).json()["CT-CHEST"]
        == template.json()["id"]
    )


def test_answers_carry_allowed_actions_hospital_times_and_refusal_codes(
    running: RunningCore, staff: Staff
) -> None:
    """A report comes with what the asking user may do; its times have the hospital's offset
    (after the response model too); a refusal has its code and the caller's language."""
    resident, attending = staff.resident, staff.attending
    staff.admin.put("/api/reporting/departments/RAD/levels", json={"levels": 2}).raise_for_status()
    exam_id = _performed_exam(running, "API-4")
    report = resident.post(f"/api/reporting/exams/{exam_id}/report").json()
    assert {"edit", "submit"} <= set(report["allowed_actions"])
    assert "sign" not in report["allowed_actions"]
    assert report["created_at"].endswith("+08:00")
    draft = resident.put(
        f"/api/reporting/reports/{report['id']}/draft", json={"findings": "<p>未见异常</p>"}
    ).json()
    assert draft["draft_saved_at"].endswith("+08:00") and draft["lock_expires_at"].endswith(
        "+08:00"
    )
    submitted = resident.post(
        f"/api/reporting/reports/{report['id']}/submit", json={"impression": "<p>未见异常</p>"}
    ).json()
    assert "edit" not in submitted["allowed_actions"]  # read-only for its author now
    seen = attending.get(f"/api/reporting/reports/{report['id']}").json()
    assert {"edit", "sign", "reject"} <= set(seen["allowed_actions"])
    refused = resident.post(f"/api/reporting/reports/{report['id']}/sign")
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "reporting.signoff.sign_needs_attending"
    assert refused.json()["detail"]["message"] == "签发需要主治医师及以上"
    english = resident.post(
        f"/api/reporting/reports/{report['id']}/sign", headers={"Accept-Language": "en"}
    )
    assert english.json()["detail"]["message"] == "Signing needs an attending or above"
    other = resident.post(f"/api/reporting/exams/{_performed_exam(running, 'API-5')}/report")
    resident.post(f"/api/reporting/reports/{other.json()['id']}/lock").raise_for_status()
    locked = attending.put(
        f"/api/reporting/reports/{other.json()['id']}/draft", json={"findings": "x"}
    )
    detail = locked.json()["detail"]
    assert (locked.status_code, detail["code"], detail["holder"]) == (
        409,
        "reporting.lock.held",
        "li",
    )
    assert detail["expires_at"].endswith("+08:00") and detail["until"] in detail["message"]
