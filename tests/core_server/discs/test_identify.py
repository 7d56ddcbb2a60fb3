"""POST /api/discs/identify and the eligibility rules, on both databases: a kiosk or the desk
finds the patient by accession number, patient ID, the report's QR URL, or ID card with birth
date; each exam says whether it may be burned and why not."""

from __future__ import annotations

import httpx
import pytest

from core_server import auth, db
from core_server.discs import eligibility
from core_server.refusals import Conflict
from tests.conftest import RunningCore
from tests.core_server.discs.conftest import Desk
from tests.core_server.discs.test_cloud_data import BIRTH, CHIEF, DOCTOR_PASSWORD, standard


def _by_label(answer: dict, p) -> dict[str, dict]:
    ids = {v: k for k, v in p.exams.items()}
    return {ids[e["exam_id"]]: e for e in answer["exams"]}


def test_identify_lists_what_may_be_burned_and_why_not(desk: Desk) -> None:
    p = standard(desk.core)
    with desk.core.api(CHIEF.username, DOCTOR_PASSWORD) as doctor:
        held = doctor.put(
            f"/api/discs/release/{p.exams['held']}",
            json={"released": False, "reason": "待与临床沟通"},
        )
        assert held.status_code == 200, held.text
    kiosk = desk.kiosk("kiosk-1")
    answer = kiosk.post("/api/discs/identify", json={"code": p.accessions["signed"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["patient"] == {"patient_id": p.patient_id, "name": "王建国"}
    exams = _by_label(body, p)
    assert set(exams) == {"signed", "unsigned", "running", "held"}
    assert exams["signed"]["may_burn"] is True and exams["signed"]["why_not"] == ""
    assert exams["signed"]["report"] is True and exams["signed"]["images"] == 2
    assert exams["signed"]["procedure"] and exams["signed"]["modality"] == "CT"
    assert exams["signed"]["exam_date"] == "2026-11-28"  # the study's date
    assert exams["unsigned"] | {"report": False} == exams["unsigned"]
    assert (exams["unsigned"]["may_burn"], exams["unsigned"]["why_not"]) == (
        False,
        "discs.why.no_report",
    )
    assert (exams["running"]["may_burn"], exams["running"]["why_not"]) == (
        False,
        "discs.why.not_complete",
    )
    assert (exams["held"]["may_burn"], exams["held"]["why_not"]) == (False, "discs.why.held")
    # The same answer from the patient ID, and from the report's QR code URL.
    by_id = kiosk.post("/api/discs/identify", json={"code": p.patient_id})
    assert by_id.json() == body
    qr = f"http://pacs.example.cn/reports/view?AccessionNumber={p.accessions['unsigned']}"
    assert kiosk.post("/api/discs/identify", json={"code": qr}).json() == body
    # The desk identifies for a patient too; the identification is audited.
    assert desk.registrar.post("/api/discs/identify", json={"code": p.patient_id}).json() == body
    events = auth.query_audit(desk.core.core.engine, action="discs.identify")[1]
    assert {e.target for e in events} == {f"patient:{p.patient_id}"}
    assert len(events) == 4


def test_images_only_setting_allows_an_unsigned_exam(desk: Desk) -> None:
    p = standard(desk.core, "P-DISC-2")
    engine = desk.core.core.engine
    with db.read(engine) as conn:
        strict = eligibility.identify(conn, code=p.patient_id)
        relaxed = eligibility.identify(conn, code=p.patient_id, images_without_report=True)
    assert _by_label(strict, p)["unsigned"]["may_burn"] is False
    unsigned = _by_label(relaxed, p)["unsigned"]
    assert (unsigned["may_burn"], unsigned["why_not"], unsigned["report"]) == (True, "", False)
    # Still not an incomplete exam.
    assert _by_label(relaxed, p)["running"]["why_not"] == "discs.why.not_complete"
    with db.read(engine) as conn:
        with pytest.raises(Conflict) as refused:
            eligibility.burnable(conn, [p.exams["signed"], p.exams["unsigned"]])
        assert refused.value.code == "discs.eligibility.not_releasable"
        assert refused.value.values["why"] == "discs.why.no_report"
        ok = eligibility.burnable(
            conn, [p.exams["signed"], p.exams["unsigned"]], images_without_report=True
        )
    assert [e["exam_id"] for e in ok] == [p.exams["signed"], p.exams["unsigned"]]


def test_id_card_needs_its_birth_date_and_a_wrong_pair_reads_as_unknown(desk: Desk) -> None:
    p = standard(desk.core, "P-DISC-3")
    kiosk = desk.kiosk("kiosk-2")
    right = kiosk.post(
        "/api/discs/identify", json={"id_card": p.card, "birth_date": BIRTH.isoformat()}
    )
    assert right.status_code == 200, right.text
    assert right.json()["patient"]["patient_id"] == p.patient_id
    lower_x = p.card.lower()  # a typed lower-case x reads the same
    assert (
        kiosk.post(
            "/api/discs/identify", json={"id_card": lower_x, "birth_date": "19750309"}
        ).json()
        == right.json()
    )
    wrong_date = kiosk.post(
        "/api/discs/identify", json={"id_card": p.card, "birth_date": "1975-03-10"}
    )
    unknown = kiosk.post(
        "/api/discs/identify", json={"id_card": "110101197503091239", "birth_date": "1975-03-09"}
    )
    nothing = kiosk.post("/api/discs/identify", json={"code": "NO-SUCH-CODE"})
    for refused in (wrong_date, unknown, nothing):
        assert refused.status_code == 404
        assert refused.json()["detail"]["code"] == "discs.not_found"
    assert wrong_date.content == unknown.content == nothing.content
    assert kiosk.post("/api/discs/identify", json={"id_card": p.card}).status_code == 422
    assert len(auth.query_audit(desk.core.core.engine, action="discs.identify_failed")[1]) == 3


def test_who_may_identify(desk: Desk, core_on: RunningCore) -> None:
    standard(core_on, "P-DISC-4")
    printer = desk.admin.post("/api/queueing/devices", json={"name": "p1", "kind": "printer"})
    key = printer.json()["key"]
    body = {"code": "P-DISC-4"}
    with httpx.Client(base_url=core_on.base_url, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.post("/api/discs/identify", json=body).status_code == 403
    assert httpx.post(core_on.base_url + "/api/discs/identify", json=body).status_code == 401
    with core_on.api(CHIEF.username, DOCTOR_PASSWORD) as doctor:
        assert doctor.post("/api/discs/identify", json=body).status_code == 403


def test_identify_by_study_instance_uid(desk: Desk) -> None:
    p = standard(desk.core, "P-DISC-UID")
    uid = desk.core.core.ris.exam(p.exams["signed"]).study_instance_uid
    kiosk = desk.kiosk("kiosk-uid")
    answer = kiosk.post("/api/discs/identify", json={"code": uid})
    assert answer.status_code == 200, answer.text
    assert answer.json() == kiosk.post("/api/discs/identify", json={"code": p.patient_id}).json()
    exams = _by_label(answer.json(), p)
    assert exams["signed"]["study_instance_uids"] == [uid]
    assert uid not in exams["unsigned"]["study_instance_uids"]
    unknown = kiosk.post("/api/discs/identify", json={"code": uid + ".9"})
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "discs.not_found"
