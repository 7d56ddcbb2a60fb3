"""A running core with a nurse (technician), a doctor, a capture station and one exam."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from core_server import auth
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore

PASSWORD = "Nurse-password-2026"


@dataclass
class Unit:
    core: RunningCore
    admin: httpx.Client
    nurse: httpx.Client
    clinician: httpx.Client

    def device(self, name: str, kind: str = "capture") -> httpx.Client:
        answer = self.admin.post("/api/queueing/devices", json={"name": name, "kind": kind})
        assert answer.status_code == 201, answer.text
        key = answer.json()["key"]
        return httpx.Client(base_url=self.core.base_url, headers={"Authorization": f"Bearer {key}"})

    def exam(self, patient_id: str, name: str = "王^建国") -> int:
        ris = self.core.core.ris
        ris.register_patient(PatientIn(patient_id, name), username="reg")
        order = OrderIn(f"O-{patient_id}", (ProcedureRequest("CT-CHEST"),))
        return int(ris.place_order(patient_id, "", order, username="reg").exams[0].id)


@pytest.fixture
def unit(core_on: RunningCore) -> Iterator[Unit]:
    engine = core_on.core.engine
    auth.create_user(engine, "zhou.nurse", PASSWORD, "technician", "周护士")
    auth.create_user(engine, "he.clinician", PASSWORD, "clinician", "何医生")
    found = Unit(
        core_on,
        core_on.api(),
        core_on.api("zhou.nurse", PASSWORD),
        core_on.api("he.clinician", PASSWORD),
    )
    try:
        yield found
    finally:
        for client in (found.admin, found.nurse, found.clinician):
            client.close()
