"""The targets API (readers read, the administrator replaces, audited, refusals with their
code) and the overdue API, on a running core."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_server import auth, clock
from core_server.auth.audit import query_audit
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore

HEAD = ("head", "Head-of-dept-2026")


@pytest.fixture
def head(core: RunningCore) -> tuple[str, str]:
    auth.create_user(core.core.engine, *HEAD, "department_head", display_name="李主任")
    return HEAD


def test_readers_read_the_targets_and_only_the_admin_changes_them(
    core: RunningCore, head: tuple[str, str]
) -> None:
    with core.api(*head) as reader:
        shown = reader.get("/api/statistics/targets").json()
        assert {"department": "", "priority": "emergency", "step": "report", "minutes": 30,
                "working_hours": False} in shown["targets"]  # fmt: skip
        assert reader.put("/api/statistics/targets", json=shown).status_code == 403
    wanted = {
        "targets": [
            {"department": "US", "priority": "routine", "step": "report", "minutes": 120,
             "working_hours": True},
            {"department": "", "priority": "emergency", "step": "report", "minutes": 20},
        ],
        "working_hours": [{"department": "US", "rule": "1-5  08:00-12:00, 13:30-17:30"}],
    }  # fmt: skip
    with core.api() as admin:
        answer = admin.put("/api/statistics/targets", json=wanted)
        assert answer.status_code == 200, answer.text
        assert answer.json()["working_hours"] == [
            {"department": "US", "rule": "1-5 08:00-12:00,13:30-17:30"}
        ]
        assert len(admin.get("/api/statistics/targets").json()["targets"]) == 2
    _total, events = query_audit(core.core.engine, action="statistics.targets")
    assert events[0].username == "admin"
    assert [t["minutes"] for t in events[0].detail["targets"]] == [20, 120]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"targets": [{"step": "nope", "minutes": 5}]}, "statistics.targets.bad_step"),
        ({"targets": [{"step": "report", "minutes": 0}]}, "statistics.targets.bad_minutes"),
        ({"targets": [{"step": "report", "minutes": "5"}]}, "statistics.targets.bad_minutes"),
        (
            {"targets": [{"step": "report", "priority": "x", "minutes": 5}]},
            "statistics.targets.bad_priority",
        ),
        (
            {"targets": [{"step": "report", "minutes": 5}, {"step": "report", "minutes": 6}]},
            "statistics.targets.twice",
        ),
        (
            {"targets": [], "working_hours": [{"department": "US", "rule": "Mon-Fri"}]},
            "statistics.targets.bad_hours",
        ),
        ({"targets": "x"}, "statistics.targets.bad_body"),
    ],
)
def test_bad_targets_are_refused_with_their_code(
    core: RunningCore, body: dict[str, object], code: str
) -> None:
    with core.api() as admin:
        before = admin.get("/api/statistics/targets").json()
        answer = admin.put("/api/statistics/targets", json=body, headers={"Accept-Language": "en"})
        assert answer.status_code == 422
        assert answer.json()["detail"]["code"] == code
        assert admin.get("/api/statistics/targets").json() == before  # nothing changed


def test_overdue_lists_an_emergency_not_reported_in_time(
    core: RunningCore, head: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ris = core.core.ris
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() - timedelta(minutes=45))
    ris.register_patient(PatientIn("P1", "王^建国"), username="reg")
    order = OrderIn("O1", (ProcedureRequest("CT-CHEST"),), emergency=True)
    exam = ris.place_order("P1", "", order, username="his").exams[0]
    for step in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, step, username="tech1")
    monkeypatch.setattr(clock, "now", real)
    with core.api(*head) as reader:
        answer = reader.get("/api/statistics/overdue").json()
        assert answer["total"] == 1
        (shown,) = answer["exams"]
        assert (shown["accession_number"], shown["step"]) == (exam.accession_number, "report")
        assert 14.5 < shown["over_minutes"] < 16 and shown["patient_name"] == "王建国"
        other = reader.get("/api/statistics/overdue", params={"department": "US"}).json()
        assert (other["total"], other["exams"]) == (0, [])
