"""The automatic code flow end to end: ``queue-display`` started with only the core's address
(``QUEUE_DISPLAY_CORE_URL``, no enrolment file) shows a code and its QR on its screen (SDL's
dummy driver, screenshot); the administrator confirms the code the QR carries; the same
process stores its key (0600) and goes on to draw the core's queue without a restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from device_kit.enrol_screen import SCREENSHOT
from tests.conftest import RunningCore
from tests.device_kit.core_setup import setup_ct
from tests.device_kit.test_enrol_screen import ARTIFACTS, read_qr
from tests.queue_display.test_program import panel_pixels

PATH = "/api/queueing/enrolment-codes"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    core = RunningCore(tmp_path_factory.mktemp("core")).start()
    yield core
    core.stop()


def wait_for(condition: object, what: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_display_without_key_enrols_by_code_and_runs(running: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(running)
    frames = tmp_path / "frames"
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "QUEUE_DISPLAY_STATE_DIR": str(tmp_path / "state"),
        "QUEUE_DISPLAY_CORE_URL": running.base_url,
        "QUEUE_DISPLAY_WINDOW_SIZE": "1280x720",
        "QUEUE_DISPLAY_FULLSCREEN": "false",
    }
    command = Path(sys.executable).parent / "queue-display"
    process = subprocess.Popen(
        [str(command), "run", "--screenshot-dir", str(frames)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code_png = frames / SCREENSHOT
        wait_for(code_png.is_file, "the code screen", process)
        link = read_qr(code_png)
        assert link.startswith(running.base_url + "/queueing/admin?enrol=")
        code = parse_qs(urlsplit(link).query)["enrol"][0]
        [waiting] = admin.get(PATH).json()
        assert (waiting["code"], waiting["kind"]) == (code, "screen")

        answer = admin.post(PATH + "/confirm", json={"code": code, "name": "hall", "screen": "1F"})
        assert answer.status_code == 201, answer.text
        key_file = tmp_path / "state" / "enrolment.json"
        wait_for(key_file.is_file, "the stored key", process)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert json.loads(key_file.read_text())["device_name"] == "hall"

        def queue_drawn() -> bool:
            shots = sorted(frames.glob("frame-*.png"))[-2:]
            return any(panel_pixels(f) > 200_000 for f in shots)

        wait_for(queue_drawn, "a frame with the queue", process)  # same process: no restart
        [device] = [d for d in admin.get("/api/queueing/devices").json() if d["name"] == "hall"]
        assert device["last_seen_at"]  # the stored key works
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"enrolment code {code}" in err  # in the journal too
    assert admin.get(PATH).json() == []  # the code is spent
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(code_png, ARTIFACTS / "queue-display-code.png")
