"""The RIS REST API on a running core: a HIS's register -> order -> status flow, the desk's
and technician's calls, and who is refused what."""

from __future__ import annotations

import httpx

from core_server import auth
from tests.conftest import RunningCore

CARD = "11010519491231002X"
PASSWORD = "password-123"
ENGLISH = {"Accept-Language": "en"}


def _user(core: RunningCore, name: str, role: str) -> httpx.Client:
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": name, "password": PASSWORD, "role": role}
        ).raise_for_status()
    return core.api(name, PASSWORD)


def test_his_registers_orders_and_reads_status(core: RunningCore) -> None:
    registrar = _user(core, "desk", "registrar")
    technician = _user(core, "tech", "technician")
    clinician = _user(core, "doc", "clinician")
    order = {
        "patient": {"patient_id": "H001", "name": "欧阳娜娜", "id_card_number": CARD},
        "placer_order_number": "HIS-1",
        "placer_application": "HIS",
        "emergency": True,
        "procedures": [{"procedure_code": "CT-HEAD"}, {"procedure_code": "US-ABD"}],
    }
    placed = registrar.post("/api/ris/orders", json=order)
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["patient_id"] == "H001"
    ct, us = body["exams"]
    assert (ct["status"], ct["patient_name_pinyin"], ct["emergency"]) == (
        "scheduled",
        "OUYANG^NANA",
        True,
    )
    # The same placer number again: 409, nothing added.
    assert registrar.post("/api/ris/orders", json=order).status_code == 409
    # Status by placer number and by accession number (what a HIS polls).
    status = clinician.get(
        "/api/ris/orders", params={"placer_order_number": "HIS-1", "placer_application": "HIS"}
    )
    assert [e["status"] for e in status.json()["exams"]] == ["scheduled", "scheduled"]
    found = clinician.get(f"/api/ris/exams/by-accession/{ct['accession_number']}").json()
    assert found["id"] == ct["id"]
    # Technician: check in, start, finish; an illegal step is 409 with the reason.
    assert technician.post(f"/api/ris/exams/{ct['id']}/check-in").json()["status"] == "arrived"
    answer = technician.post(
        f"/api/ris/exams/{ct['id']}/status", json={"status": "completed"}, headers=ENGLISH
    )
    assert answer.status_code == 409
    assert "arrived to completed" in answer.json()["detail"]["message"]
    for step in ("in_progress", "completed"):
        answer = technician.post(f"/api/ris/exams/{ct['id']}/status", json={"status": step})
        assert answer.json()["status"] == step
    # Reporting steps belong to doctors.
    answer = technician.post(f"/api/ris/exams/{ct['id']}/status", json={"status": "reported"})
    assert answer.status_code == 403
    detail = clinician.get(f"/api/ris/exams/{ct['id']}").json()
    assert [h["new_status"] for h in detail["history"]] == [
        "scheduled",
        "arrived",
        "in_progress",
        "completed",
    ]
    listed = technician.get("/api/ris/exams", params={"status": ["scheduled", "completed"]})
    assert {e["id"] for e in listed.json()} == {ct["id"], us["id"]}
    # Cancelling the order is refused while an exam was performed.
    cancel = registrar.post(
        "/api/ris/orders/cancel", json={"filler_order_number": body["filler_order_number"]}
    )
    assert cancel.status_code == 409


def test_registration_validation_roles_and_labels(core: RunningCore) -> None:
    registrar = _user(core, "desk", "registrar")
    clinician = _user(core, "doc", "clinician")
    technician = _user(core, "tech", "technician")
    patient = {"patient_id": "P9", "name": "张三", "id_card_number": CARD[:-1] + "1"}
    bad = registrar.post("/api/ris/patients", json=patient, headers=ENGLISH)
    assert bad.status_code == 400 and "check digit" in bad.json()["detail"]["message"]
    bad = registrar.post(
        "/api/ris/patients", json={**patient, "id_card_number": "", "phone": "12"}, headers=ENGLISH
    )
    assert bad.status_code == 400 and "phone" in bad.json()["detail"]["message"]
    assert (
        clinician.post("/api/ris/patients", json={**patient, "id_card_number": ""}).status_code
        == 403
    )
    assert httpx.post(core.base_url + "/api/ris/patients", json=patient).status_code == 401
    made = registrar.post("/api/ris/patients", json={**patient, "id_card_number": CARD})
    assert made.status_code == 201
    assert made.json()["dicom_name"] == "ZHANG^SAN=张^三"
    assert [
        p["patient_id"] for p in clinician.get("/api/ris/patients", params={"text": "zs"}).json()
    ] == ["P9"]
    order = registrar.post(
        "/api/ris/orders",
        json={
            "patient_id": "P9",
            "placer_order_number": "O1",
            "procedures": [{"procedure_code": "DR-CHEST-PA"}],
        },
    ).json()
    exam = order["exams"][0]
    svg = clinician.get(f"/api/ris/exams/{exam['id']}/barcode.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content and exam["accession_number"].encode() in svg.content
    png = clinician.get(f"/api/ris/exams/{exam['id']}/barcode.png")
    assert png.content.startswith(b"\x89PNG")
    assert clinician.get(f"/api/ris/exams/{exam['id']}/barcode.gif").status_code == 400
    # Requisition scan: upload, read back; a non-image refused.
    scan = b"\xff\xd8\xff\xe0" + b"\x00" * 1000
    uploaded = technician.post(
        f"/api/ris/exams/{exam['id']}/requisitions",
        files={"file": ("申请单.jpg", scan, "image/jpeg")},
    )
    assert uploaded.status_code == 201, uploaded.text
    back = clinician.get(f"/api/ris/requisitions/{uploaded.json()['id']}")
    assert back.content == scan and back.headers["content-type"] == "image/jpeg"
    refused = technician.post(
        f"/api/ris/exams/{exam['id']}/requisitions",
        files={"file": ("x.txt", b"hello", "text/plain")},
    )
    assert refused.status_code == 400
    # Appointments: slots of a room, booking into one.
    day = exam["scheduled_at"][:10]
    slots = registrar.get("/api/ris/rooms/DR1/slots", params={"day": day}).json()
    start = slots[-1]["start"]
    booked = registrar.post(
        f"/api/ris/exams/{exam['id']}/booking", json={"room": "DR1", "start": start}
    )
    assert booked.status_code == 200, booked.text
    assert registrar.get("/api/ris/rooms/DR1/slots", params={"day": day}).json()[-1]["free"] == 0
    # End of day: nothing scheduled before today; only the desk may mark no-shows.
    assert registrar.post("/api/ris/exams/no-shows", json={"before": day}).json() == []
    assert clinician.post("/api/ris/exams/no-shows", json={"before": day}).status_code == 403
    # Catalogue: everyone reads it, only administrators change it.
    items = clinician.get("/api/ris/procedures", params={"modality": "ES"}).json()
    assert {"ES-GASTRO", "ES-COLON"} <= {i["code"] for i in items}
    item = {
        "name_zh": "头颅CT平扫（急诊）",
        "name_en": "CT head ER",
        "modality": "CT",
        "body_part": "HEAD",
        "department": "RAD",
    }
    assert registrar.put("/api/ris/procedures/CT-HEAD-ER", json=item).status_code == 403
    with core.api() as admin:
        assert admin.put("/api/ris/procedures/CT-HEAD-ER", json=item).status_code == 200
        room = {"name": "CT二室", "modality": "CT", "department": "RAD", "station_ae": "CT02"}
        assert admin.put("/api/ris/rooms/CT2", json=room).status_code == 200
        late = {**room, "opens": "18:00", "closes": "08:00"}
        assert admin.put("/api/ris/rooms/CT2", json=late).status_code == 400
        assert admin.put("/api/ris/rooms/CT2", json={**room, "opens": "8am"}).status_code == 422
    assert "CT2" in {r["code"] for r in clinician.get("/api/ris/rooms").json()}
    # Reconciliation is for technicians and administrators.
    assert clinician.get("/api/ris/reconciliation").status_code == 403
    assert technician.get("/api/ris/reconciliation").json() == []
    spec = httpx.get(core.base_url + "/api/openapi.json").json()
    assert "/api/ris/orders" in spec["paths"]


def test_names_times_duplicates_and_check_in_on_another_day(core: RunningCore) -> None:
    """An HL7-shaped name answers with its display forms and is shown so on the label (with
    the room's name); every time has the hospital's offset and a time sent without one is
    hospital time; a likely duplicate and a check-in on another day are refused with a code
    the page acts on, then done when confirmed (the check-in audited)."""
    from datetime import timedelta

    from core_server import clock

    registrar = _user(core, "desk", "registrar")
    technician = _user(core, "tech", "technician")
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    order = {
        "patient": {"patient_id": "H9", "name": "王^建国", "birth_date": "1970-01-02"},
        "placer_order_number": "HIS-9",
        "procedures": [
            {"procedure_code": "US-ABD", "room": "US1", "scheduled_at": f"{tomorrow}T08:30:00"}
        ],
    }
    placed = registrar.post("/api/ris/orders", json=order)
    assert placed.status_code == 201, placed.text
    exam = placed.json()["exams"][0]
    assert exam["scheduled_at"] == f"{tomorrow}T08:30:00+08:00"
    assert (exam["patient_name"], exam["patient_display_name"]) == ("王^建国", "王建国")
    assert exam["patient_dicom_name"] == "WANG^JIANGUO=王^建国"
    assert exam["room_name"] == "超声一室"
    patient = registrar.get("/api/ris/patients/H9").json()
    assert (patient["display_name"], patient["pinyin_display"]) == ("王建国", "WANG JIANGUO")
    assert patient["created_at"].endswith("+08:00")
    # The label reads as a person reads it: no ^, the room's name, hospital time.
    auth.create_user(core.core.engine, "tech2", PASSWORD, "technician")  # signs in at once
    with httpx.Client(base_url=core.base_url, headers={"Origin": core.base_url}) as browser:
        signed_in = {"username": "tech2", "password": PASSWORD, "next": "/"}
        assert browser.post("/login", data=signed_in).status_code == 303
        label = browser.get(f"/ris/exams/{exam['id']}/label")
    assert label.status_code == 200
    assert "王建国" in label.text and "王^建国" not in label.text and "WANG JIANGUO" in label.text
    assert "超声一室" in label.text and f"{tomorrow} 08:30" in label.text
    # The pinyin the page shows for a typed name, and the one a registrar corrects.
    forms = registrar.get("/api/ris/names/pinyin", params={"name": "单雪梅"}).json()
    assert (forms["name_pinyin"], forms["pinyin_display"]) == ("SHAN^XUEMEI", "SHAN XUEMEI")
    dotted = {"name": "买买提·艾力", "pinyin": "maimaiti aili"}
    assert (
        registrar.get("/api/ris/names/pinyin", params=dotted).json()["display_name"]
        == "买买提·艾力"
    )
    # A likely duplicate: 409 with the candidates, then registered when confirmed.
    twin = {"patient_id": "H10", "name": "王建国", "birth_date": "1970-01-02"}
    refused = registrar.post("/api/ris/patients", json=twin, headers=ENGLISH)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["code"] == "ris.patient.likely_duplicate" and "registered" in detail["message"]
    assert [c["patient_id"] for c in detail["candidates"]] == ["H9"]
    confirmed = registrar.post("/api/ris/patients", json={**twin, "confirm_duplicate": True})
    assert confirmed.status_code == 201
    # Check-in tomorrow's exam today: 409 with the code and the booked time, then confirmed.
    path = f"/api/ris/exams/{exam['id']}/check-in"
    refused = technician.post(path)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["code"] == "ris.exam.check_in_other_day"
    assert detail["scheduled_at"] == f"{tomorrow}T08:30:00+08:00"
    assert "今天" in detail["message"]  # the caller's language: Chinese by default
    again = technician.post(path, json={"confirm_other_day": True})
    assert again.status_code == 200 and again.json()["status"] == "arrived"
    with core.api() as admin:
        events = admin.get("/api/audit", params={"action": "ris.exam.check_in_other_day"}).json()
    assert [(e["username"], e["target"]) for e in events["events"]] == [
        ("tech", exam["accession_number"])
    ]
    # The technician page's status step to arrived follows the same rule.
    second = registrar.post(
        "/api/ris/orders",
        json={**order, "patient": None, "patient_id": "H9", "placer_order_number": "HIS-10"},
    ).json()["exams"][0]
    step = f"/api/ris/exams/{second['id']}/status"
    assert technician.post(step, json={"status": "arrived"}).status_code == 409
    answer = technician.post(step, json={"status": "arrived", "confirm_other_day": True})
    assert answer.json()["status"] == "arrived"
