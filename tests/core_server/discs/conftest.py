"""A running core with disc kiosks enrolled (device keys) and a registrar, on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core_server import auth
from core_server.ris import PatientIn
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import CHIEF, DOCTOR_PASSWORD, Patient

PASSWORD = "Registrar-password-1"


@dataclass
class Desk:
    core: RunningCore
    admin: httpx.Client
    registrar: httpx.Client

    def kiosk(self, name: str, kind: str = "kiosk") -> httpx.Client:
        answer = self.admin.post("/api/queueing/devices", json={"name": name, "kind": kind})
        assert answer.status_code == 201, answer.text
        key = answer.json()["key"]
        return httpx.Client(base_url=self.core.base_url, headers={"Authorization": f"Bearer {key}"})

    def exam(self, patient_id: str, name: str = "王^建国") -> int:
        """An exam of a new patient that may be burned: completed, one image, report signed."""
        engine = self.core.core.engine
        if auth.get_user(engine, CHIEF.username) is None:
            auth.create_user(engine, CHIEF.username, DOCTOR_PASSWORD, "reviewing_doctor", "陈主任")
        self.core.core.ris.register_patient(PatientIn(patient_id, name), username="reg")
        return Patient(self.core, patient_id, "").exam(
            "disc", status="completed", images=1, signed=True
        )


def desk_on(core: RunningCore) -> Desk:
    engine = core.core.engine
    if auth.get_user(engine, "li.registrar") is None:
        auth.create_user(engine, "li.registrar", PASSWORD, "registrar", "李登记")
    return Desk(core, core.api(), core.api("li.registrar", PASSWORD))


@pytest.fixture
def desk(core_on: RunningCore) -> Iterator[Desk]:
    found = desk_on(core_on)
    try:
        yield found
    finally:
        found.admin.close()
        found.registrar.close()


@pytest.fixture
def fee_core(tmp_path: Path, database_url: str) -> Iterator[RunningCore]:
    """A core that charges 5.5 元 a disc."""
    running = RunningCore(tmp_path / "data", database_url, disc_fee_yuan=5.5).start()
    try:
        yield running
    finally:
        running.stop()
