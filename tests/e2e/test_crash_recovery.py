"""SIGKILL the core in the middle of a C-STORE load: every object that got a success status
is retrievable after the restart, and the index matches the storage area."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelGet

from tests.conftest import ADMIN_PASSWORD, free_port
from tests.dicom_data import make_ct


def start_core(data_dir: Path, http_port: int, dicom_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CORE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core_server",
            "serve",
            f"--data-dir={data_dir}",
            "--host=127.0.0.1",
            f"--http-port={http_port}",
            f"--dicom-port={dicom_port}",
            f"--hl7-port={free_port()}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir.parent / "core.log", "ab"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, "core exited during start-up"
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("core did not come up")


def store_until_stopped(port: int, study: str, acknowledged: list[str], stop: threading.Event):
    ae = AE(ae_title="LOADER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="PACS")
    number = 0
    try:
        while assoc.is_established and not stop.is_set() and number < 5000:
            number += 1
            ds = make_ct(study_uid=study, instance_number=number, size=128, patient_id="CRASH")
            status = assoc.send_c_store(ds)
            if status and status.Status == 0x0000:
                acknowledged.append(str(ds.SOPInstanceUID))
    except Exception:
        pass  # the server died under us: exactly what this test does
    finally:
        if assoc.is_established:
            assoc.abort()


def retrieve_all(port: int, study: str) -> set[str]:
    received: set[str] = set()

    def on_store(event: evt.Event) -> int:
        received.add(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    ae = AE(ae_title="LOADER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ae_title="PACS",
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study
    statuses = [
        s.Status
        for s, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)
        if s
    ]
    assoc.release()
    assert statuses[-1] == 0x0000
    return received


def test_sigkill_mid_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    http_port, dicom_port = free_port(), free_port()
    core = start_core(data_dir, http_port, dicom_port)
    try:
        token = httpx.post(
            f"http://127.0.0.1:{http_port}/api/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        httpx.post(
            f"http://127.0.0.1:{http_port}/api/modalities",
            json={"ae_title": "LOADER", "host": "127.0.0.1", "port": 104},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()

        study = generate_uid()
        acknowledged: list[str] = []
        stop = threading.Event()
        loaders = [
            threading.Thread(
                target=store_until_stopped, args=(dicom_port, study, acknowledged, stop)
            )
            for _ in range(3)
        ]
        for loader in loaders:
            loader.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        core.send_signal(signal.SIGKILL)  # in the middle of the load
        core.wait(timeout=30)
        stop.set()
        for loader in loaders:
            loader.join(timeout=30)
        assert len(acknowledged) >= 60

        core = start_core(data_dir, http_port, dicom_port)
        retrieved = retrieve_all(dicom_port, study)
        missing = set(acknowledged) - retrieved
        assert not missing, f"{len(missing)} acknowledged objects lost"
    finally:
        core.kill()
        core.wait(timeout=30)

    check = subprocess.run(
        [sys.executable, "-m", "core_server", "db", "check", f"--data-dir={data_dir}"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "missing: 0" in check.stdout and "orphans: 0" in check.stdout
