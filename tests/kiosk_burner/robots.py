"""Fake disc robots for the writers' tests: each runs in its own thread and, like the real
vendor software on the robot PC, knows the kiosk only through the shared folder. It takes job
files, moves them through their states with a short pause per step, and writes the status and
result files in the formats the writers read (see kiosk_burner/hardware/epson.py, primera.py).

``scenario`` per job key: "ok" (default), "error:<text>" (the job fails with that text),
"ink_out" (the ink runs out mid-job: the job fails and the robot's status shows ink 0),
"hold" (stays in its first running state until cancelled or released)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kiosk_burner.hardware.files import decode, write_atomically


def parse_job(data: bytes, encoding: str) -> list[tuple[str, str]]:
    text = data.decode(encoding)
    return [
        (k.strip(), v.strip())
        for k, _, v in (line.partition("=") for line in text.splitlines() if "=" in line)
    ]


class FakeRobot(threading.Thread):
    job_suffix = ".JOB"

    def __init__(self, hot_folder: Path, encoding: str = "gb18030", step: float = 0.05) -> None:
        super().__init__(daemon=True, name=type(self).__name__)
        self.hot_folder = hot_folder
        self.encoding = encoding
        self.step = step
        self.scenario: dict[str, str] = {}
        self.jobs: dict[str, list[tuple[str, str]]] = {}  # what it took, decoded
        self.ink = 80
        self.discs = 50
        self.error = ""
        self.released: set[str] = set()
        self._halt = threading.Event()
        hot_folder.mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def run(self) -> None:
        self.write_status({})
        while not self._halt.is_set():
            for job in sorted(self.hot_folder.glob(f"*{self.job_suffix}")):
                key = job.stem
                self.jobs[key] = parse_job(job.read_bytes(), self.encoding)
                self.take(job)
                self.work(key)
            self.write_status({})
            time.sleep(self.step)

    def cancelled(self, key: str) -> bool:
        raise NotImplementedError

    def work(self, key: str) -> None:
        scenario = self.scenario.get(key, "ok")
        for state in self.states:
            self.write_status({key: state})
            deadline = time.monotonic() + 10
            while scenario == "hold" and key not in self.released and time.monotonic() < deadline:
                if self.cancelled(key):
                    return self.finish(key, False, "JOB CANCELLED by request")
                time.sleep(self.step)
            if self.cancelled(key):
                return self.finish(key, False, "JOB CANCELLED by request")
            if scenario == "ink_out" and state == self.states[-1]:
                self.ink = 0
                self.write_status({})
                return self.finish(key, False, "INK END: replace the ink cartridge")
            if scenario.startswith("error:"):
                return self.finish(key, False, scenario.removeprefix("error:"))
            time.sleep(self.step)
        self.discs -= 1
        self.finish(key, True, "")

    states: tuple[str, ...] = ()

    def take(self, job: Path) -> None:
        raise NotImplementedError

    def finish(self, key: str, ok: bool, error: str) -> None:
        raise NotImplementedError

    def write_status(self, running: dict[str, str]) -> None:
        raise NotImplementedError


class FakeTdBridge(FakeRobot):
    """Epson TD Bridge: takes ``*.JDF`` (removing it), TDBStatus.txt with the publisher and the
    running job, ``<JOB_ID>.DON`` / ``.ERR`` results, ``<JOB_ID>.CNL`` cancel requests."""

    job_suffix = ".JDF"
    states = ("RECORDING", "VERIFYING", "PRINTING")

    def take(self, job: Path) -> None:
        job.unlink()

    def cancelled(self, key: str) -> bool:
        return (self.hot_folder / f"{key}.CNL").exists()

    def finish(self, key: str, ok: bool, error: str) -> None:
        if ok:
            write_atomically(self.hot_folder / f"{key}.DON", f"JOB_ID={key}\r\n".encode())
        else:
            body = f"JOB_ID={key}\r\nERROR_CODE=1\r\nERROR_MESSAGE={error}\r\n"
            write_atomically(self.hot_folder / f"{key}.ERR", body.encode(self.encoding))

    def write_status(self, running: dict[str, str]) -> None:
        lines = [
            "[BRIDGE_INFO]",
            "BRIDGE_STATUS=RUNNING",
            "[PUBLISHER1]",
            "NAME=PP-100 #1",
            f"ERROR_CODE={'1' if self.error or self.ink <= 0 else '0'}",
            f"ERROR_MESSAGE={self.error or ('INK END' if self.ink <= 0 else '')}",
            *(
                f"INK_{c}={self.ink}"
                for c in ("CYAN", "MAGENTA", "YELLOW", "BLACK", "LIGHT_CYAN", "LIGHT_MAGENTA")
            ),
            f"STACKER1_REMAIN={self.discs}",
            "STACKER2_REMAIN=0",
        ]
        for n, (key, state) in enumerate(running.items(), start=1):
            lines += [f"[JOB{n}]", f"JOB_ID={key}", f"JOB_STATUS={state}"]
        write_atomically(
            self.hot_folder / "TDBStatus.txt", "\r\n".join(lines).encode(self.encoding)
        )


class FakePtBurn(FakeRobot):
    """Primera PTBurn: renames ``*.JRQ`` to ``.INP`` -> ``.DON`` / ``.ERR``, writes
    Status/SystemStatus.txt and Status/<JobID>.txt, aborts on ``<JobID>.PTM`` Message=ABORT."""

    job_suffix = ".JRQ"
    states = ("Burning disc", "Verifying disc", "Printing label")

    @property
    def status(self) -> Path:
        return self.hot_folder / "Status"

    def take(self, job: Path) -> None:
        job.rename(job.with_suffix(".INP"))

    def cancelled(self, key: str) -> bool:
        message = self.hot_folder / f"{key}.PTM"
        return message.exists() and "ABORT" in decode(message.read_bytes()).upper()

    def finish(self, key: str, ok: bool, error: str) -> None:
        self._job_status(key, "Completed" if ok else "Failed", error)
        running = self.hot_folder / f"{key}.INP"
        running.rename(running.with_suffix(".DON" if ok else ".ERR"))

    def _job_status(self, key: str, state: str, error: str = "") -> None:
        body = (
            f"[JobStatus]\r\nJobID={key}\r\nCurrentStatus={state}\r\n"
            f"ErrorNumber={1 if error else 0}\r\nErrorString={error}\r\n"
        )
        write_atomically(self.status / f"{key}.txt", body.encode(self.encoding))

    def write_status(self, running: dict[str, str]) -> None:
        for key, state in running.items():
            self._job_status(key, state)
        error = self.error or ("Ink cartridge empty" if self.ink <= 0 else "")
        lines = [
            "[System]",
            f"SystemError={1 if error else 0}",
            f"SystemErrorString={error}",
            "[Robot]",
            f"InkLevelCyan={self.ink}",
            f"InkLevelMagenta={self.ink}",
            f"InkLevelYellow={self.ink}",
            f"InkLevelBlack={self.ink}",
            f"DiscsInBin={self.discs}",
        ]
        write_atomically(self.status / "SystemStatus.txt", "\r\n".join(lines).encode(self.encoding))
