"""The queue REST API on a running core: setup, devices, check-in through the RIS, caller
actions, role refusals, idempotent resends, the RIS event path, restart."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any

import httpx

from core_server import auth, clock
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore


def setup_ct(core: RunningCore) -> None:
    with core.api() as admin:
        for path, body in (
            (
                "/api/queueing/queues",
                {"code": "CT", "name": "CT检查", "modality": "CT", "prefix": "CT"},
            ),
            (
                "/api/queueing/rooms",
                {"code": "CT1", "name": "CT一室", "queues": ["CT"], "min_call_interval_seconds": 0},
            ),
            (
                "/api/queueing/rooms",
                {"code": "CT2", "name": "CT二室", "queues": ["CT"], "min_call_interval_seconds": 0},
            ),
            ("/api/queueing/screens", {"code": "1F", "name": "一楼候诊区", "queues": ["CT"]}),
        ):
            answer = admin.post(path, json=body)
            assert answer.status_code == 201, answer.text
        answer = admin.put(
            "/api/queueing/settings", json={"hospital_name": "某某市人民医院", "font_call": 72}
        )
        assert answer.status_code == 200, answer.text


def enrol(core: RunningCore, name: str, kind: str, **binding: Any) -> httpx.Client:
    with core.api() as admin:
        answer = admin.post("/api/queueing/devices", json={"name": name, "kind": kind, **binding})
        assert answer.status_code == 201, answer.text
        key = answer.json()["key"]
    return httpx.Client(base_url=core.base_url, headers={"Authorization": f"Bearer {key}"})


def order_exam(
    core: RunningCore, patient_id: str, name: str, id_card: str = "", **procedure: Any
) -> Any:
    ris = core.core.ris
    ris.register_patient(
        PatientIn(patient_id=patient_id, name=name, id_card_number=id_card), username="test"
    )
    order = ris.place_order(
        patient_id,
        "",
        OrderIn(
            placer_order_number=f"HIS-{patient_id}",
            procedures=(ProcedureRequest(procedure_code="CT-CHEST", **procedure),),
        ),
        username="test",
    )
    return order.exams[0]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_check_in_call_flow_and_device_scopes(core: RunningCore) -> None:
    setup_ct(core)
    printer = enrol(core, "desk-printer", "printer")
    caller = enrol(core, "ct1-caller", "caller", room="CT1")
    screen = enrol(core, "hall-screen", "screen", screen="1F")
    first = order_exam(core, "P001", "张三丰")
    order_exam(core, "P002", "欧阳娜娜")

    me = caller.get("/api/queueing/devices/me").json()
    assert (me["kind"], me["room"], me["queues"]) == ("caller", "CT1", ["CT"])
    answer = printer.post(
        "/api/queueing/check-in", json={"barcode": first.accession_number}, headers=key()
    )
    assert answer.status_code == 201, answer.text
    (ticket,) = answer.json()["tickets"]
    assert ticket["number"] == "CT001" and ticket["name"] == "张*丰"
    assert ticket["hospital_name"] == "某某市人民医院" and ticket["waiting_ahead"] == 0
    assert core.core.ris.exam(first.id).status == "arrived"
    # Checking in again gives the same ticket, not a new one.
    again = printer.post("/api/queueing/check-in", json={"barcode": first.accession_number})
    assert (
        again.status_code == 200 and again.json()["tickets"][0]["ticket_id"] == ticket["ticket_id"]
    )
    # By patient ID: that patient's exams of today.
    answer = printer.post("/api/queueing/check-in", json={"barcode": "P002"}, headers=key())
    assert answer.status_code == 201 and answer.json()["tickets"][0]["waiting_ahead"] == 1
    # By resident ID card (as the reader gives it, lower-case check letter too).
    order_exam(core, "P003", "王小明", id_card="11010519491231002X")
    by_card = printer.post("/api/queueing/check-in", json={"barcode": "11010519491231002x"})
    assert by_card.status_code == 201 and by_card.json()["tickets"][0]["number"] == "CT003"
    unknown = printer.post("/api/queueing/check-in", json={"barcode": "NOPE"})
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "exam_not_found"

    called = caller.post("/api/queueing/rooms/CT1/call-next", json={}, headers=key())
    assert called.status_code == 200, called.text
    assert called.json()["ticket"]["name"] == "张三丰"  # the room sees the full name
    started = caller.post("/api/queueing/rooms/CT1/start", headers=key())
    assert started.json()["room"]["state"] == "busy"
    assert core.core.ris.exam(first.id).status == "in_progress"
    finished = caller.post("/api/queueing/rooms/CT1/finish", headers=key())
    assert finished.json()["room"]["state"] == "idle"
    assert core.core.ris.exam(first.id).status == "completed"

    state = screen.get("/api/queueing/screens/1F/state").json()
    assert state["hospital"]["name"] == "某某市人民医院" and state["fonts"]["call"] == 72
    assert [w["name"] for w in state["queues"][0]["waiting"]] == ["欧**娜", "王*明"]
    assert state["current_call"]["number"] == "CT001" and state["current_call"]["name"] == "张*丰"
    assert state["queues"][0]["counts"]["finished"] == 1

    # Scopes: a caller acts only for its room, a screen reads only its screen, neither checks in.
    refused = caller.post("/api/queueing/rooms/CT2/call-next")
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "not_your_room"
    assert screen.get("/api/queueing/rooms/CT1/state").status_code == 403
    assert screen.post("/api/queueing/check-in", json={"barcode": "P002"}).status_code == 403
    assert caller.get("/api/queueing/screens/1F/state").status_code == 403
    assert printer.post("/api/queueing/rooms/CT1/call-next").status_code == 403
    # A revoked key stops working at once.
    with core.api() as admin:
        assert admin.delete("/api/queueing/devices/ct1-caller").status_code == 204
    assert caller.get("/api/queueing/rooms/CT1/state").status_code == 401
    # Device keys and setup changes are in the audit trail.
    _total, audited = auth.query_audit(core.core.engine, action="queueing.")
    assert {(e.action, e.target) for e in audited} >= {
        ("queueing.device.create", "device:ct1-caller"),
        ("queueing.device.delete", "device:ct1-caller"),
        ("queueing.room.create", "room:CT1"),
        ("queueing.settings.change", "settings"),
    }


def test_check_in_of_an_exam_booked_for_another_day_needs_the_desk(core: RunningCore) -> None:
    """A barcode names tomorrow's exam: the ticket printer sends the patient to the desk, the
    desk is asked and its confirmation goes into the RIS history (as the RIS's own check-in)."""
    setup_ct(core)
    printer = enrol(core, "desk-printer", "printer")
    tomorrow = clock.from_local(datetime.combine(clock.today() + timedelta(days=1), time(8, 30)))
    exam = order_exam(core, "P010", "王^建国", scheduled_at=tomorrow)
    body = {"barcode": exam.accession_number}

    at_printer = printer.post("/api/queueing/check-in", json=body, headers=key())
    assert at_printer.status_code == 409, at_printer.text
    detail = at_printer.json()["detail"]
    assert detail["code"] == "check_in_other_day" and "登记处" in detail["message"]
    assert detail["scheduled_at"] == clock.iso(tomorrow)
    # A device cannot confirm for itself.
    forced = printer.post("/api/queueing/check-in", json={**body, "confirm_other_day": True})
    assert forced.status_code == 409
    with core.api() as desk:
        asked = desk.post("/api/queueing/check-in", json=body, headers=key())
        assert asked.status_code == 409 and "确定今天签到" in asked.json()["detail"]["message"]
        assert core.core.ris.exam(exam.id).status == "scheduled"  # nothing happened yet
        assert not desk.get("/api/queueing/queues/CT/tickets").json()
        confirmed = desk.post(
            "/api/queueing/check-in", json={**body, "confirm_other_day": True}, headers=key()
        )
        assert confirmed.status_code == 201, confirmed.text
    assert core.core.ris.exam(exam.id).status == "arrived"
    step = core.core.ris.history(exam.id)[-1]
    assert step.new_status == "arrived" and "confirmed" in step.reason and "08:30" in step.reason


def test_idempotent_resend_over_http(core: RunningCore) -> None:
    setup_ct(core)
    caller = enrol(core, "ct1-caller", "caller", room="CT1")
    for i in range(3):
        order_exam(core, f"P{i}", f"患者{i}")
        with core.api() as admin:
            admin.post("/api/queueing/check-in", json={"barcode": f"P{i}"}).raise_for_status()
    headers = key()
    first = caller.post("/api/queueing/rooms/CT1/call-next", headers=headers)
    resent = caller.post("/api/queueing/rooms/CT1/call-next", headers=headers)
    assert resent.status_code == 200 and resent.headers["Idempotent-Replayed"] == "true"
    assert resent.json() == first.json()
    assert caller.get("/api/queueing/rooms/CT1/state").json()["waiting_count"] == 2


def test_two_callers_pressing_at_once_never_get_the_same_patient(core: RunningCore) -> None:
    setup_ct(core)
    with core.api() as admin:
        for i in range(10):
            order_exam(core, f"C{i}", f"并发{i}")
            admin.post("/api/queueing/check-in", json={"barcode": f"C{i}"}).raise_for_status()
    callers = [
        enrol(core, "ct1-caller", "caller", room="CT1"),
        enrol(core, "ct2-caller", "caller", room="CT2"),
    ]
    start = threading.Barrier(2)

    def press(caller: httpx.Client) -> list[int]:
        start.wait()
        got = []
        for _ in range(6):
            answer = caller.post(
                f"/api/queueing/rooms/{caller_room(caller)}/call-next", headers=key()
            )
            body = answer.json()
            if answer.status_code == 200 and body["ticket"] is not None:
                got.append(body["ticket"]["id"])
            else:  # queue empty: after closing the current patient (200) or with none (409)
                assert (body.get("notice") or body.get("detail"))["code"] == "no_waiting_patient"
        return got

    with ThreadPoolExecutor(2) as pool:
        called = [t for got in pool.map(press, callers) for t in got]
    assert len(called) == len(set(called)) == 10


def caller_room(caller: httpx.Client) -> str:
    return str(caller.get("/api/queueing/devices/me").json()["room"])


def test_exam_arrived_elsewhere_gets_its_ticket(core: RunningCore) -> None:
    setup_ct(core)
    exam = order_exam(core, "P100", "李四", room="CT1")
    core.core.ris.check_in(exam.id, username="registrar1")  # registration desk, not the queue
    with core.api() as admin:
        (ticket,) = admin.get("/api/queueing/queues/CT/tickets").json()
        assert ticket["exam_id"] == exam.id and ticket["status"] == "waiting"
        # MPPS (or the technician page) starts and completes the exam: the ticket follows.
        core.core.ris.change_status(exam.id, "in_progress", username="mpps:CT01")
        assert admin.get(f"/api/queueing/tickets/{ticket['id']}").json()["status"] == "in_progress"
        core.core.ris.change_status(exam.id, "completed", username="mpps:CT01")
        assert admin.get(f"/api/queueing/tickets/{ticket['id']}").json()["status"] == "finished"


def test_roles_and_refusals(core: RunningCore) -> None:
    setup_ct(core)
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": "reg1", "password": "registrar-pw", "role": "registrar"}
        ).raise_for_status()
        admin.post(
            "/api/users", json={"username": "doc1", "password": "clinician-pw", "role": "clinician"}
        ).raise_for_status()
        bad = admin.post(
            "/api/queueing/queues", json={"code": "X", "name": "X", "voice_template": "请{编号}"}
        )
        assert bad.status_code == 422 and bad.json()["detail"]["code"] == "invalid"
        dup = admin.post("/api/queueing/rooms", json={"code": "CT1", "name": "again"})
        assert dup.status_code == 409
    with core.api("reg1", "registrar-pw") as registrar:
        assert registrar.post("/api/queueing/rooms/CT1/call-next").status_code == 403
        assert (
            registrar.post("/api/queueing/queues", json={"code": "Y", "name": "Y"}).status_code
            == 403
        )
        empty = registrar.post("/api/queueing/check-in", json={"barcode": " "})
        assert empty.status_code == 422
    with core.api("doc1", "clinician-pw") as clinician:
        assert clinician.post("/api/queueing/check-in", json={"barcode": "x"}).status_code == 403
        assert clinician.get("/api/queueing/screens/1F/state").status_code == 200
    assert httpx.get(core.base_url + "/api/queueing/screens/1F/state").status_code == 401
    with core.api() as admin:
        nothing = admin.post("/api/queueing/rooms/CT1/call-next")
        assert nothing.status_code == 409 and nothing.json()["detail"]["message"] == "没有候诊患者"
        english = admin.post("/api/queueing/rooms/CT1/call-next", headers={"Accept-Language": "en"})
        assert english.json()["detail"] == {
            "code": "no_waiting_patient",
            "message": "No patient is waiting",
        }


def test_logo_and_settings(core: RunningCore) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    with core.api() as admin:
        assert admin.get("/api/queueing/logo").status_code == 404
        put = admin.put("/api/queueing/logo", content=png, headers={"Content-Type": "image/png"})
        assert put.status_code == 204, put.text
        got = admin.get("/api/queueing/logo")
        assert got.content == png and got.headers["content-type"] == "image/png"
        wrong = admin.put(
            "/api/queueing/logo", content=b"x", headers={"Content-Type": "text/plain"}
        )
        assert wrong.status_code == 422
        assert admin.get("/api/queueing/settings").json()["has_logo"] is True


def test_the_ris_rooms_are_adopted_in_one_step(core: RunningCore) -> None:
    """Out of the box the queue knows no room although the RIS has 8 (issue 18 item 6)."""
    with core.api() as admin:
        assert admin.get("/api/queueing/rooms").json() == []
        offered = admin.get("/api/queueing/ris-rooms").json()
        assert len(offered) == 8 and not any(r["adopted"] for r in offered)
        us1 = next(r for r in offered if r["code"] == "US1")
        assert (us1["name"], us1["modality"], us1["department"]) == ("超声一室", "US", "US")
        made = admin.post("/api/queueing/ris-rooms/adopt", json={}).json()
        assert sorted(made["rooms"]) == sorted(r["code"] for r in offered)
        assert sorted(made["queues"]) == ["CT", "DX", "ES", "MG", "MR", "US"]
        assert made["screens"] == ["WAITING"]
        us = admin.get("/api/queueing/queues/US").json()
        assert us["modality"] == "US" and us["rooms"] == ["US1", "US2"]
        assert admin.get("/api/queueing/screens/WAITING").json()["queues"]
        assert all(r["adopted"] for r in admin.get("/api/queueing/ris-rooms").json())
        again = admin.post("/api/queueing/ris-rooms/adopt", json={}).json()
        assert again == {"rooms": [], "queues": [], "screens": []}
        # The hospital name defaults to the core's; times carry the hospital's offset.
        settings = admin.get("/api/queueing/settings").json()
        assert settings["hospital_name"] == (core.core.settings.hospital_name or "医学影像中心")
        admin.post(
            "/api/users", json={"username": "reg1", "password": "registrar-pw", "role": "registrar"}
        ).raise_for_status()
        assert settings["timezone"] == "Asia/Shanghai"
    with core.api("reg1", "registrar-pw") as registrar:
        assert registrar.post("/api/queueing/ris-rooms/adopt", json={}).status_code == 403
    enrol(core, "scr-w", "screen", screen="WAITING")
    with core.api() as admin:
        device = admin.get("/api/queueing/devices").json()[0]
        assert device["created_at"].endswith("+08:00")
