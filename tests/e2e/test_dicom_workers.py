"""Several processes serving one DICOM port (--dicom-workers): all associations served, and
the workers never outlive the main process."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, free_port
from tests.dicom_data import make_ct, write
from tests.e2e.test_crash_recovery import start_core


def children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]


def test_workers_share_the_port_and_die_with_the_main_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_DICOM_WORKERS", "2")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    http_port, dicom_port = free_port(), free_port()
    core = start_core(data_dir, http_port, dicom_port)
    try:
        workers = children(core.pid)
        assert len(workers) == 1
        folders = []
        for sender in range(6):
            folder = tmp_path / f"send{sender}"
            for number in range(1, 6):
                write(make_ct(patient_id=f"W{sender}", instance_number=number), folder)
            folders.append(folder)
        results: list[int] = []

        def send(folder: Path) -> None:
            done = subprocess.run(
                ["storescu", "+sd", "-aec", "PACS", "127.0.0.1", str(dicom_port), str(folder)],
                capture_output=True,
                env={**os.environ, "TCP_NODELAY": "1"},
                timeout=60,
            )
            results.append(done.returncode)

        senders = [threading.Thread(target=send, args=(f,)) for f in folders]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        assert results == [0] * 6
        token = httpx.post(
            f"http://127.0.0.1:{http_port}/api/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        statistics = httpx.get(
            f"http://127.0.0.1:{http_port}/api/archive/statistics",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert statistics["instances"] == 30

        core.send_signal(signal.SIGKILL)
        core.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.1)
        assert not any(Path(f"/proc/{w}").exists() for w in workers), "a worker outlived main"
    finally:
        if core.poll() is None:
            core.kill()
            core.wait(timeout=10)
