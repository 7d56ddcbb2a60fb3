"""The real capture station as a subprocess (lavfi testsrc as the grabber, pedal presses into
an ``events:`` FIFO, SDL's dummy screen) against a running core: kill -9 while stills are being
taken and sent, restart; every still recorded as taken reaches the archive exactly once, in the
exam's study, and the pedal's "end" completes the exam through MPPS."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore

EV_KEY, EV_SYN = 1, 0
KEYS = {"KEY_ENTER": 28, "KEY_B": 48, "KEY_E": 18}
ROOT = Path(__file__).resolve().parents[2]


def wait_for(what: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Station:
    def __init__(self, core: RunningCore, state: Path) -> None:
        self.state = state
        self.fifo = state / "pedal"
        os.mkfifo(self.fifo)
        # Read-write: never blocks, and keeps the pipe open while the station restarts.
        self.pedal = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        self.env = {
            **os.environ,
            "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy",
            "CAPTURE_STATION_CORE_PORT": str(core.dicom_port),
            "CAPTURE_STATION_CORE_AE_TITLE": core.ae_title,
            "CAPTURE_STATION_STATION_AE_TITLE": "WEIJING1",
            "CAPTURE_STATION_STATION_NAME": "WEIJING1",
            "CAPTURE_STATION_PEDAL_KEYS": json.dumps(
                {"KEY_B": "still", "KEY_ENTER": "pick", "KEY_E": "end"}
            ),
            "CAPTURE_STATION_PEDAL_LONG": "{}",
            # The scope check before capture has its own test (tests/capture_station/
            # test_program.py); here the pedal takes stills at once.
            "CAPTURE_STATION_SCOPE_CHECK": "false",
            "CAPTURE_STATION_SEND_MIN_DELAY": "0.2",
            "CAPTURE_STATION_SEND_MAX_DELAY": "1",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "capture_station", "--state-dir", str(self.state), *args]

    def start(self) -> None:
        # The child keeps its own copy of the log's descriptor.
        with open(self.state / "station.log", "ab") as log:
            self.process = subprocess.Popen(
                self.command("run", "--video-source", "testsrc:320x240@25", "--pedal",
                             f"events:{self.fifo}", "--window-size", "800x480"),
                env=self.env, cwd=ROOT, stdout=log, stderr=log,
            )  # fmt: skip

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        os.close(self.pedal)

    def press(self, key: str) -> None:
        code = KEYS[key]
        records = b"".join(
            struct.pack("llHHi", 0, 0, type_, c, value)
            for type_, c, value in ((EV_KEY, code, 1), (EV_SYN, 0, 0), (EV_KEY, code, 0),
                                    (EV_SYN, 0, 0))
        )  # fmt: skip
        os.write(self.pedal, records)

    def records(self) -> list[dict[str, object]]:
        folder = self.state / "captures"
        return [
            json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.json"))
            if p.name != "session.json"
        ]

    def log(self) -> str:
        return (self.state / "station.log").read_text(errors="replace")


def test_kill_mid_capture_and_mid_send_loses_nothing(core: RunningCore, tmp_path: Path) -> None:
    core.register("WEIJING1", port=11112)
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "王^建国"), username="reg")
    exam = ris.place_order(
        "P1", "", OrderIn("O1", (ProcedureRequest("ES-GASTRO", station_ae="WEIJING1"),)),
        username="reg",
    ).exams[0]  # fmt: skip
    ris.check_in(exam.id, username="desk")
    with core.api() as admin:
        key = admin.post("/api/queueing/devices", json={"name": "cap", "kind": "capture"})
        assert key.status_code == 201, key.text
    state = tmp_path / "station"
    state.mkdir()
    station = Station(core, state)
    enrolled = subprocess.run(
        station.command("enrol", "--core-url", core.base_url, "--key", key.json()["key"]),
        env=station.env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    try:
        station.start()

        # Pick the exam once the worklist has come (the session file says it is picked).
        def picked() -> bool:
            station.press("KEY_ENTER")
            return bool(wait_for_quiet(lambda: (state / "captures" / "session.json").exists()))

        wait_for(picked, 60)
        for _ in range(3):
            station.press("KEY_B")
        wait_for(lambda: len(station.records()) >= 2)
        station.kill()  # mid-capture (the third press may still be unread) and mid-send
        first_round = len(station.records())

        station.start()
        for wanted in (1, 2):
            # Pressed again until taken: a press before the grabber's first frame is refused
            # ("no signal" on screen), as it should be.
            def take_one(wanted: int = wanted) -> bool:
                station.press("KEY_B")
                return bool(
                    wait_for_quiet(lambda: len(station.records()) >= first_round + wanted, 1.0)
                )

            wait_for(take_one, 60)
        station.kill()  # right after the record is written: likely before or during its send

        station.start()
        wait_for(lambda: all(r["state"] == "sent" for r in station.records()), 60)
        taken = {str(r["sop_instance_uid"]) for r in station.records()}
        assert len(taken) == len(station.records()) >= 4
        station.press("KEY_E")
        wait_for(lambda: ris.exam(exam.id).status == "completed", 60)
    finally:
        station.stop()
    found = core.core.archive.locate({"StudyInstanceUID": exam.study_instance_uid})
    stored = [i.sop_instance_uid for i in found]
    assert sorted(stored) == sorted(taken), station.log()[-3000:]
    assert ris.exam(exam.id).images == len(taken)


def wait_for_quiet(what: Callable[[], object], timeout: float = 2.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return False
