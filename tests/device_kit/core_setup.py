"""Setting up a real core's queues for the device tests, the way an administrator does:
REST for queues, rooms, screens and devices; the RIS for the exams patients check in for."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from device_kit import enrolment
from tests.conftest import RunningCore

CT_SETUP = (
    (
        "/api/queueing/queues",
        {"code": "CT", "name": "CT检查", "department": "放射科", "modality": "CT", "prefix": "CT"},
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
)


def setup_ct(core: RunningCore) -> httpx.Client:
    """Queue CT, rooms CT1 and CT2, screen 1F. Returns the administrator's client: one
    sign-in for the whole test (each costs an Argon2 hash)."""
    admin = core.api()
    for path, body in CT_SETUP:
        answer = admin.post(path, json=body)
        assert answer.status_code == 201, answer.text
    answer = admin.put("/api/queueing/settings", json={"hospital_name": "某某市人民医院"})
    assert answer.status_code == 200, answer.text
    return admin


def enrol(
    admin: httpx.Client, state_dir: Path, name: str, kind: str, **binding: Any
) -> enrolment.Enrolment:
    """Create the device in the core and store its key as ``<program> enrol`` does."""
    answer = admin.post("/api/queueing/devices", json={"name": name, "kind": kind, **binding})
    assert answer.status_code == 201, answer.text
    record = enrolment.Enrolment(str(admin.base_url).rstrip("/"), answer.json()["key"], name)
    enrolment.save(state_dir / "enrolment.json", record)
    return record


def order_exam(core: RunningCore, patient_id: str, name: str) -> Any:
    ris = core.core.ris
    ris.register_patient(
        PatientIn(patient_id=patient_id, name=name, id_card_number=""), username="test"
    )
    order = ris.place_order(
        patient_id,
        "",
        OrderIn(
            placer_order_number=f"HIS-{patient_id}",
            procedures=(ProcedureRequest(procedure_code="CT-CHEST"),),
        ),
        username="test",
    )
    return order.exams[0]


def check_in(admin: httpx.Client, barcode: str) -> dict[str, Any]:
    answer = admin.post("/api/queueing/check-in", json={"barcode": barcode})
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json()["tickets"][0])


def run_until(
    step: Callable[[], Any], done: Callable[[], bool], what: str, timeout: float = 20
) -> None:
    """Turn a program's main loop until ``done()``; the deadline only turns a hang into a
    failure, nothing here waits for time to pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step()
        if done():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")
