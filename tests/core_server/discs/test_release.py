"""The release right on an exam, on both databases: doctors and the administrator hold an
exam back with a reason (audited), which stops its disc and its cloud film; releasing it again
lifts that."""

from __future__ import annotations

from core_server import auth, db
from core_server.discs import eligibility
from tests.core_server.discs.conftest import Desk
from tests.core_server.discs.test_cloud_data import CHIEF, DOCTOR_PASSWORD, standard


def test_hold_and_release_an_exam(desk: Desk) -> None:
    p = standard(desk.core, "P-REL-1")
    exam = p.exams["signed"]
    path = f"/api/discs/release/{exam}"
    assert desk.registrar.get(path).json() == {
        "exam_id": exam,
        "released": True,
        "reason": "",
        "set_by": "",
        "set_at": None,
    }
    with desk.core.api(CHIEF.username, DOCTOR_PASSWORD) as doctor:
        no_reason = doctor.put(path, json={"released": False, "reason": "  "})
        assert no_reason.status_code == 422
        assert no_reason.json()["detail"]["code"] == "discs.release.reason_needed"
        held = doctor.put(path, json={"released": False, "reason": "报告需更正"})
        assert held.status_code == 200
        state = held.json()
        assert (state["released"], state["reason"], state["set_by"]) == (
            False,
            "报告需更正",
            CHIEF.username,
        )
        assert state["set_at"].endswith("+08:00")
        assert doctor.get(path).json() == state
        assert (
            doctor.put(
                "/api/discs/release/999999", json={"released": False, "reason": "x"}
            ).status_code
            == 404
        )
    # A registrar may read it, not change it.
    assert desk.registrar.put(path, json={"released": True}).status_code == 403
    engine = desk.core.core.engine
    with db.read(engine) as conn:
        entry = eligibility.identify(conn, code=p.patient_id)["exams"]
    assert {e["exam_id"]: e["why_not"] for e in entry}[exam] == "discs.why.held"
    cleared = desk.admin.put(path, json={"released": True})
    assert cleared.json()["released"] is True
    with db.read(engine) as conn:
        assert eligibility.burnable(conn, [exam])[0]["may_burn"] is True
    # Clearing again changes nothing and records nothing.
    desk.admin.put(path, json={"released": True})
    holds = auth.query_audit(engine, action="discs.release.hold")[1]
    clears = auth.query_audit(engine, action="discs.release.clear")[1]
    assert [(e.username, e.target, e.detail) for e in holds] == [
        (CHIEF.username, f"exam:{exam}", {"reason": "报告需更正"})
    ]
    assert [(e.username, e.target) for e in clears] == [("admin", f"exam:{exam}")]
