"""What the HL7 interface acknowledged survives a kill -9 of the core: the message, its effect
and its ACK (a resend after the restart gets the same ACK and is not applied twice), and the
outbound queue (a status message waiting for a HIS that was down goes out after the
restart); a message the core was applying when it was killed (no ACK went out) is applied
when the HIS resends it to the restarted core, not refused as "being processed"."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg

from tests.conftest import ADMIN_PASSWORD, free_port
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send, wait_for
from tests.core_server.hl7.test_inbound import msh, pid, segment
from tests.postgres import Cluster


class CoreProcess:
    """``core-server serve`` in its own process, killed without warning by :meth:`kill`."""

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.http_port, self.dicom_port, self.hl7_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> CoreProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "core_server",
                "serve",
                f"--data-dir={self.data_dir}",
                "--host=127.0.0.1",
                f"--http-port={self.http_port}",
                f"--dicom-port={self.dicom_port}",
                f"--hl7-port={self.hl7_port}",
                *([f"--database-url={self.database_url}"] if self.database_url else []),
            ],
            env={**os.environ, "CORE_ADMIN_PASSWORD": ADMIN_PASSWORD},
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir.parent / "core.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, "core exited during start-up"
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("core did not come up")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(30)

    def api(self) -> httpx.Client:
        token = httpx.post(
            self.url + "/api/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"})


def test_acknowledged_messages_and_queued_jobs_survive_kill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    his_port = free_port()
    core = CoreProcess(data_dir).start()
    try:
        with core.api() as admin:
            destination = {
                "name": "HIS",
                "host": "127.0.0.1",
                "port": his_port,
                "retry_base_seconds": 1,
            }
            assert admin.post("/api/hl7/destinations", json=destination).status_code == 201
        order = message(
            msh("ORM^O01", "K1", version="2.3.1"),
            pid("K001", "韩^梅梅"),
            segment("ORC", {1: "NW", 2: "KILL1^HIS"}),
            segment("OBR", {1: "1", 2: "KILL1^HIS", 4: "US-ABD", 18: "ACCK1"}),
        )
        (first,) = send(core.hl7_port, order)
        assert ack_fields(first)["code"] == "AA"
        with core.api() as admin:  # the HIS is down: the status message waits
            wait_for(
                lambda: (
                    [
                        (j["status"], j["attempts"] > 0)
                        for j in admin.get("/api/hl7/outbound").json()
                    ]
                    == [("pending", True)]
                )
            )
    finally:
        core.kill()

    with HisListener(his_port) as his:
        core = CoreProcess(data_dir)
        core.start()
        try:
            (again,) = send(core.hl7_port, order)
            assert again == first  # the recorded ACK, byte for byte
            with core.api() as admin:
                exams = admin.get("/api/ris/exams", params={"patient_id": "K001"}).json()
                assert [e["accession_number"] for e in exams] == ["ACCK1"]  # applied once
                (logged,) = admin.get("/api/hl7/messages").json()
                assert logged["duplicates"] == 1
            wait_for(lambda: len(his.messages) == 1)
            assert b"KILL1" in his.messages[0] and b"ORC|SC" in his.messages[0]
        finally:
            core.kill()


def test_a_message_cut_short_by_a_kill_is_applied_when_resent(
    tmp_path: Path, postgres: Cluster
) -> None:
    """The core is killed while applying an A04 (held up by a lock on the patients table, as a
    long A08 would be): the restarted core releases its predecessor's claim at start, so the
    HIS's resend gets AA, not AE 206 for the 5 minutes of the claim's lease."""
    url = postgres.new_database()
    plain = url.replace("+psycopg", "")
    raw = message(msh("ADT^A04^ADT_A01", "CUT1"), pid("CUT001", "秦^始皇"))
    core = CoreProcess(tmp_path / "data", database_url=url).start()
    outcome: list[object] = []
    try:
        with psycopg.connect(plain) as lock, psycopg.connect(plain, autocommit=True) as look:
            lock.execute("LOCK TABLE ris_patients IN ACCESS EXCLUSIVE MODE")

            def hl7_sender() -> None:
                try:
                    outcome.extend(send(core.hl7_port, raw))
                except Exception as exc:  # the core dies under it
                    outcome.append(exc)

            sending = threading.Thread(target=hl7_sender)
            sending.start()
            query = "SELECT status FROM hl7_inbound_messages WHERE control_id = 'CUT1'"
            wait_for(lambda: look.execute(query).fetchall() == [("processing",)])
            core.kill()  # mid-message: stored, being applied, no ACK sent
            sending.join(60)
            lock.rollback()
    finally:
        core.kill()
    assert outcome and not isinstance(outcome[0], bytes)  # no ACK went out

    core = CoreProcess(tmp_path / "data", database_url=url).start()
    try:
        (answer,) = send(core.hl7_port, raw)  # the HIS's resend
        assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
        with core.api() as admin:
            (logged,) = admin.get("/api/hl7/messages").json()
            assert logged["status"] == "accepted" and logged["duplicates"] == 1
            patients = admin.get("/api/ris/patients", params={"q": "CUT001"})
            assert patients.status_code == 200 and "CUT001" in patients.text
    finally:
        core.kill()
