"""The queue system as it is installed: the core and the three device programs, each its own
process started from its console script, their hardware replaced by what a test can drive
(serial button box and reader on ptys, the printer on a file, SDL's dummy video driver, a
"player" that keeps each WAV it is given). Used by tests/e2e/test_queue_system.py and
bench/queue_bench.py."""

from __future__ import annotations

import os
import pty
import shlex
import signal
import subprocess
import sys
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import httpx
import pygame

from device_kit.i18n import Messages
from device_kit.screen import offscreen
from queue_display import ui
from queue_display.app import Bound, Connection, DisplayApp, StateFetched
from tests.conftest import ADMIN_PASSWORD, free_port
from tests.device_kit.screens import assert_drawn

BIN = Path(sys.executable).parent
SCREEN_SIZE = (1280, 720)
SETUP = (
    (
        "/api/queueing/queues",
        {"code": "CT", "name": "CT检查", "department": "放射科", "modality": "CT", "prefix": "CT"},
    ),
    (
        "/api/queueing/rooms",
        {"code": "CT1", "name": "CT一室", "queues": ["CT"], "min_call_interval_seconds": 0},
    ),
    ("/api/queueing/screens", {"code": "1F", "name": "一楼候诊区", "queues": ["CT"]}),
)
DEVICES = {
    "queue-display": {"name": "hall-screen", "kind": "screen", "screen": "1F"},
    "caller-terminal": {"name": "ct1-caller", "kind": "caller", "room": "CT1"},
    "ticket-printer": {"name": "kiosk-1", "kind": "printer"},
}


def wait_for(done: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll until ``done()`` is truthy; the deadline only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := done():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Core:
    """``core-server serve`` on fixed ports and one data folder, killed and restarted at will."""

    folder: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    hl7_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(BIN / "core-server"),
                "serve",
                f"--data-dir={self.folder / 'data'}",
                "--host=127.0.0.1",
                f"--http-port={self.http_port}",
                f"--dicom-port={self.dicom_port}",
                f"--hl7-port={self.hl7_port}",
            ],
            env={**os.environ, "CORE_ADMIN_PASSWORD": ADMIN_PASSWORD},
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "core.log", "ab"),  # noqa: SIM115
        )

        def healthy() -> bool:
            assert self.process is not None and self.process.poll() is None, "core exited"
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "the core to start", timeout=60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def admin(self) -> httpx.Client:
        token = httpx.post(
            f"{self.url}/api/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


def set_up_core(admin: httpx.Client) -> dict[str, str]:
    """Queue CT, room CT1, screen 1F, the hospital's name, and the three devices; their keys."""
    for path, body in SETUP:
        answer = admin.post(path, json=body)
        assert answer.status_code == 201, answer.text
    answer = admin.put("/api/queueing/settings", json={"hospital_name": "某某市人民医院"})
    assert answer.status_code == 200, answer.text
    keys = {}
    for program, device in DEVICES.items():
        answer = admin.post("/api/queueing/devices", json=device)
        assert answer.status_code == 201, answer.text
        keys[program] = answer.json()["key"]
    return keys


def order_ct(admin: httpx.Client, patient_id: str, name: str) -> str:
    """A HIS's registration and order through the RIS REST API; the exam's accession number."""
    answer = admin.post(
        "/api/ris/orders",
        json={
            "patient": {"patient_id": patient_id, "name": name, "id_card_number": ""},
            "placer_order_number": f"HIS-{patient_id}",
            "placer_application": "HIS",
            "procedures": [{"procedure_code": "CT-CHEST"}],
        },
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["exams"][0]["accession_number"])


class Pty:
    """A serial line whose device end a program opens by path; the test writes the other end."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # bytes as they are: no echo, no line editing
        self.path = os.ttyname(self.slave)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@dataclass
class Devices:
    """The three device programs as processes, and where their output lands."""

    folder: Path
    button_box: Pty = field(default_factory=Pty)
    reader: Pty = field(default_factory=Pty)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def frames(self) -> Path:
        return self.folder / "frames"

    @property
    def played(self) -> Path:
        return self.folder / "played"

    @property
    def paper(self) -> Path:
        return self.folder / "paper.bin"

    def log(self, program: str) -> str:
        return (self.folder / f"{program}.log").read_text(errors="replace")

    def start(self, core_url: str, keys: dict[str, str]) -> None:
        self.played.mkdir(parents=True, exist_ok=True)
        self.paper.touch()
        # The "player" keeps each WAV under the time (ns) it was started: the voice's start.
        script = 'cp "$0" ' + shlex.quote(str(self.played)) + '/"$(date +%s%N)".wav'
        player = "sh -c " + shlex.quote(script)
        options = {
            "queue-display": {
                "QUEUE_DISPLAY_AUDIO_PLAYER": player,
                "QUEUE_DISPLAY_ORIENTATION": "landscape",
            },
            "caller-terminal": {
                "CALLER_TERMINAL_INPUTS": '["serial"]',
                "CALLER_TERMINAL_SERIAL_PORT": self.button_box.path,
            },
            "ticket-printer": {
                "TICKET_PRINTER_PRINTER": f"file:{self.paper}",
                "TICKET_PRINTER_PRINTER_STATUS": "false",
                "TICKET_PRINTER_SCANNER": "serial",
                "TICKET_PRINTER_SCANNER_DEVICE": self.reader.path,
            },
        }
        for program, extra in options.items():
            state = self.folder / program
            enrol = subprocess.run(
                [str(BIN / program), f"--state-dir={state}", "enrol", "--core-url", core_url,
                 "--key", keys[program]],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert enrol.returncode == 0, enrol.stderr
            prefix = program.upper().replace("-", "_") + "_"
            env = {
                **os.environ,
                **extra,
                "SDL_VIDEODRIVER": "dummy",
                "SDL_AUDIODRIVER": "dummy",
                prefix + "STATE_DIR": str(state),
                prefix + "FULLSCREEN": "false",
                prefix + "WINDOW_SIZE": "x".join(map(str, SCREEN_SIZE)),
                prefix + "RECONNECT_MIN_DELAY": "0.05",
                prefix + "RECONNECT_MAX_DELAY": "0.5",
            }
            command = [str(BIN / program), "run"]
            if program == "queue-display":
                command.append(f"--screenshot-dir={self.frames}")
            self.processes[program] = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(self.folder / f"{program}.log", "ab"),  # noqa: SIM115
            )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.button_box.close()
        self.reader.close()

    def alive(self) -> None:
        for program, process in self.processes.items():
            assert process.poll() is None, f"{program} exited:\n{self.log(program)[-3000:]}"


def frame_showing(frames: Path, state: dict[str, Any], text: str, after: str = "") -> Path | None:
    """The first screenshot (named after ``after``) in which ``text`` is drawn where the
    display's layout for ``state`` places it: the layout is drawn here the same way, and the
    text's pixels are looked for in the program's PNG (the clock and blinking differ, the
    text's own pixels do not)."""
    app = DisplayApp(orientation="landscape")
    app.handle(Connection(True))
    app.handle(Bound("1F"))
    app.handle(StateFetched(state))
    canvas = offscreen(SCREEN_SIZE)
    ui.draw(canvas, app.view(), Messages("queue_display", "zh"))
    for frame in sorted(frames.glob("frame-*.png")):
        if frame.name <= after:
            continue
        canvas.surface.blit(pygame.image.load(str(frame)), (0, 0))
        try:
            assert_drawn(canvas, text)
        except AssertionError:
            continue
        return frame
    return None
