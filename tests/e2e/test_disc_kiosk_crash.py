"""Kill -9 during a disc job, every part a real process: the kiosk (``python -m kiosk_burner
run``, ISO-only writer, SDL's dummy video driver) killed while the core has its job
``burning``, left dead until its lease runs out (queued again, never done), then restarted
(it resumes and finishes); and the core (``core-server serve``) killed mid-job for longer than
the lease and restarted on the same data folder and ports (the kiosk burns the job again and
finishes). The job ends done only with a whole disc (every ISO under its final name opens,
its DICOM files are the archive's byte for byte); never done with a bad disc."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pycdlib
import pytest

from tests.conftest import RunningCore
from tests.core_server.discs.conftest import desk_on
from tests.core_server.reporting.output_data import signed_report
from tests.e2e.queue_system import Core, wait_for

LEASE = 10  # the core's shortest lease (seconds)


@dataclass
class Kiosk:
    """``kiosk-burner run`` as its own process, killed and restarted at will."""

    folder: Path
    core_url: str
    key: str
    poll: float = 3.0  # the burn is watched every 3 s: the job stays "burning" that long
    drive: str = ""  # the xorriso writer into this stdio: file; empty: the ISO-only writer
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def isos(self) -> Path:
        return self.folder / "iso"

    def enrol(self) -> None:
        self.isos.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy",
            "KIOSK_BURNER_STATE_DIR": str(self.folder / "state"),
            "KIOSK_BURNER_WRITER": "xorriso" if self.drive else "iso",
            "KIOSK_BURNER_DRIVE_DEVICE": f"stdio:{self.drive}",
            "KIOSK_BURNER_ISO_FOLDER": str(self.isos),
            "KIOSK_BURNER_FULLSCREEN": "false",
            "KIOSK_BURNER_WINDOW_SIZE": "540x960",
            "KIOSK_BURNER_CLAIM_SECONDS": "0.2",
            "KIOSK_BURNER_POLL_SECONDS": str(self.poll),
            "KIOSK_BURNER_HEARTBEAT_SECONDS": "2",
            "KIOSK_BURNER_RECONNECT_MIN_DELAY": "0.05",
            "KIOSK_BURNER_RECONNECT_MAX_DELAY": "0.5",
            "KIOSK_BURNER_REQUEST_TIMEOUT": "5",
        }
        enrol = subprocess.run(
            [sys.executable, "-m", "kiosk_burner", "enrol", "--core-url", self.core_url,
             "--key", self.key],
            env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert enrol.returncode == 0, enrol.stderr

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kiosk_burner", "run"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "kiosk.log", "ab"),  # noqa: SIM115
        )

    def kill(self) -> None:
        assert self.process is not None and self.process.poll() is None, self.log()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        path = self.folder / "kiosk.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _job(client: httpx.Client, job_id: int) -> dict[str, Any]:
    try:
        answer = client.get(f"/api/discs/{job_id}")
    except httpx.TransportError:
        return {}
    return dict(answer.json()) if answer.status_code == 200 else {}


def _state(client: httpx.Client, job_id: int, *states: str) -> dict[str, Any] | None:
    job = _job(client, job_id)
    return job if job.get("state") in states else None


def _dicom_files(iso: Path) -> dict[str, bytes]:
    disc = pycdlib.PyCdlib()
    disc.open(str(iso))
    found = {}
    for root, _dirs, files in disc.walk(iso_path="/DICOM"):
        for name in files:
            data = io.BytesIO()
            disc.get_file_from_iso_fp(data, iso_path=f"{root}/{name}")
            found[f"{root}/{name}"] = data.getvalue()
    disc.close()
    return found


def _assert_whole_discs(kiosk: Kiosk, images: set[bytes]) -> None:
    """Every ISO under its final name is a whole disc: it opens, holds every image as archived
    byte for byte, and only whole Part 10 files."""
    isos = sorted(kiosk.isos.glob("*.iso"))
    assert isos, kiosk.log()
    for iso in isos:
        files = set(_dicom_files(iso).values())
        assert images <= files, iso
        assert all(f[128:132] == b"DICM" for f in files), iso


def _seed(core: RunningCore, patient_id: str) -> tuple[int, set[bytes]]:
    signed = signed_report(core, patient_id, name="王^建国", images=3)
    study = signed.exam.study_instance_uid
    files = {
        core.core.archive.locate({"StudyInstanceUID": study, "SOPInstanceUID": uid})[
            0
        ].path.read_bytes()
        for uid in signed.image_uids
    }
    assert len(files) == 3
    return signed.exam.id, files


def _kiosk_key(admin: httpx.Client, name: str) -> str:
    answer = admin.post("/api/queueing/devices", json={"name": name, "kind": "kiosk"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


@pytest.fixture
def lease_core(tmp_path: Path) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path / "core" / "data", disc_lease_seconds=LEASE).start()
    try:
        yield running
    finally:
        running.stop()


def test_kiosk_killed_mid_burn_never_done_until_it_resumes(
    lease_core: RunningCore, tmp_path: Path
) -> None:
    desk = desk_on(lease_core)
    exam_id, archived = _seed(lease_core, "P-CRASH-1")
    key = _kiosk_key(desk.admin, "kiosk-k")
    # The local drive (xorriso) burning into a file: disc 1 is in the drive when it is killed.
    kiosk = Kiosk(tmp_path / "kiosk", lease_core.base_url, key, drive=str(tmp_path / "disc-1"))
    kiosk.enrol()
    kiosk.start()
    try:
        made = desk.registrar.post("/api/discs", json={"exam_ids": [exam_id], "device": "kiosk-k"})
        assert made.status_code == 201, made.text
        job_id = made.json()["id"]
        wait_for(lambda: _state(desk.registrar, job_id, "burning"), "burning", timeout=60)
        kiosk.kill()
        # Dead: its lease runs out and the job is queued again with a step saying so.
        queued = wait_for(
            lambda: _state(desk.registrar, job_id, "queued", "done", "failed"),
            "the lease to run out",
            timeout=LEASE + 15,
        )
        assert queued["state"] == "queued", queued
        assert queued["steps"][-1]["reason"] == "lease_expired"
        # Restarted with a new blank disc in the drive: the drive forgot the killed burn, so
        # the kiosk burns again on the new disc.
        kiosk.poll, kiosk.drive = 0.2, str(tmp_path / "disc-2")
        kiosk.enrol()
        kiosk.start()
        ended = wait_for(
            lambda: _state(desk.registrar, job_id, "done", "failed"), "the job to end", timeout=90
        )
    finally:
        kiosk.stop()
    states = [s["state"] for s in ended["steps"]]
    print("kiosk killed:", [(s["state"], s["reason"]) for s in ended["steps"]])
    assert ended["state"] == "done", (ended, kiosk.log())
    assert states.count("done") == 1 and states[-1] == "done"
    assert "queued" in states[1:]  # the interruption is in its history
    assert ended["discs_done"] == 1
    # The disc it reported done is whole (xorriso verified it by reading it back too).
    files = set(_dicom_files(tmp_path / "disc-2").values())
    assert archived <= files and all(f[128:132] == b"DICM" for f in files)


def test_core_killed_mid_job_resumes_or_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The core's data made in-process, then served by `core-server serve` (so it can be killed).
    seeding = RunningCore(tmp_path / "core" / "data").start()
    try:
        exam_id, archived = _seed(seeding, "P-CRASH-2")
    finally:
        seeding.stop()
    monkeypatch.setenv("CORE_DISC_LEASE_SECONDS", str(LEASE))
    core = Core(tmp_path / "core")
    core.start()
    kiosk: Kiosk | None = None
    try:
        desk = admin = core.admin()  # the admin queues and watches (disc-job staff)
        kiosk = Kiosk(tmp_path / "kiosk", core.url, _kiosk_key(admin, "kiosk-c"))
        kiosk.enrol()
        kiosk.start()
        made = desk.post("/api/discs", json={"exam_ids": [exam_id], "device": "kiosk-c"})
        assert made.status_code == 201, made.text
        job_id = made.json()["id"]
        wait_for(lambda: _state(desk, job_id, "burning"), "burning", timeout=60)
        core.kill()
        # Down for longer than the lease: the restarted core's start-up sweep ends the lease.
        time.sleep(LEASE + 2)
        assert kiosk.process is not None and kiosk.process.poll() is None, kiosk.log()
        core.start()
        admin = core.admin()
        ended = wait_for(lambda: _state(admin, job_id, "done", "failed"), "the end", timeout=120)
    finally:
        if kiosk is not None:
            kiosk.stop()
        core.kill()
    states = [s["state"] for s in ended["steps"]]
    print("core killed:", [(s["state"], s["reason"]) for s in ended["steps"]])
    assert states.count("done") + states.count("failed") == 1, states
    # The core took the job back (lease_expired at its start); the kiosk, told not_holder,
    # let the writer's key go, claimed the job again and burned it on a new disc (a key
    # cancelled at the writer is never taken for a good disc): done once, a whole disc.
    assert ("queued", "lease_expired") in [(s["state"], s["reason"]) for s in ended["steps"]]
    assert ended["state"] == "done", (states, kiosk.log())
    assert ended["discs_done"] == 1
    _assert_whole_discs(kiosk, archived)
