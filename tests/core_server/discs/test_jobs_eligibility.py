"""POST /api/discs queues only what may be burned (eligibility.burnable), both backends: a
held exam, an incomplete one and one whose report is unsigned are refused with 409 naming the
exam and why, nothing is queued; a failed job whose exam was held since is not retried."""

from __future__ import annotations

import httpx

from tests.core_server.discs.conftest import Desk
from tests.core_server.discs.test_cloud_data import CHIEF, DOCTOR_PASSWORD, standard


def _hold(desk: Desk, exam_id: int) -> None:
    with desk.core.api(CHIEF.username, DOCTOR_PASSWORD) as doctor:
        held = doctor.put(
            f"/api/discs/release/{exam_id}", json={"released": False, "reason": "待与临床沟通"}
        )
        assert held.status_code == 200, held.text


def _refused(answer: httpx.Response, exam_id: int, why: str) -> dict:
    assert answer.status_code == 409, answer.text
    detail = answer.json()["detail"]
    assert detail["code"] == "discs.eligibility.not_releasable"
    assert (detail["exam_id"], detail["why"]) == (exam_id, why)
    assert "discs.why" not in detail["message"]  # the reason in words, not its key
    return dict(detail)


def test_only_burnable_exams_are_queued(desk: Desk) -> None:
    p = standard(desk.core, "P-JOB-1")
    _hold(desk, p.exams["held"])
    kiosk = desk.kiosk("kiosk-e")
    for who in (desk.registrar, kiosk):
        for label, why in (
            ("held", "discs.why.held"),
            ("running", "discs.why.not_complete"),
            ("unsigned", "discs.why.no_report"),
        ):
            answer = who.post("/api/discs", json={"exam_ids": [p.exams[label]], "copies": 1})
            detail = _refused(answer, p.exams[label], why)
            assert detail["accession_number"] == p.accessions[label]
        # One unburnable exam among good ones refuses the whole disc.
        mixed = who.post("/api/discs", json={"exam_ids": [p.exams["signed"], p.exams["unsigned"]]})
        _refused(mixed, p.exams["unsigned"], "discs.why.no_report")
    zh = desk.registrar.post(
        "/api/discs", json={"exam_ids": [p.exams["unsigned"]]}, headers={"Accept-Language": "zh"}
    )
    assert "报告尚未签发" in zh.json()["detail"]["message"]
    assert desk.registrar.get("/api/discs").json() == []  # nothing was queued
    ok = desk.registrar.post("/api/discs", json={"exam_ids": [p.exams["signed"]]})
    assert ok.status_code == 201, ok.text


def test_a_job_held_since_it_failed_is_not_retried(desk: Desk) -> None:
    p = standard(desk.core, "P-JOB-2")
    job = desk.registrar.post("/api/discs", json={"exam_ids": [p.exams["signed"]]}).json()
    cancelled = desk.registrar.post(f"/api/discs/{job['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    _hold(desk, p.exams["signed"])
    _refused(
        desk.registrar.post(f"/api/discs/{job['id']}/retry"), p.exams["signed"], "discs.why.held"
    )
    assert desk.registrar.get(f"/api/discs/{job['id']}").json()["state"] == "cancelled"
