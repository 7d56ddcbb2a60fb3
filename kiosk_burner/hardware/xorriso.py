"""A local CD/DVD drive through xorriso: check the medium, burn the ISO as it is (cdrecord
emulation, disc-at-once), read it back and compare SHA-256 with the image's, eject.
``stdio:FILE`` as the device is xorriso's pseudo-drive: the tests burn into a file.

The burn runs in a thread; ``progress`` reports it. A kiosk restart forgets the thread: an
unknown key is reported failed (never done), so the job is retried on a new disc."""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from device_kit.drivers import Availability, Needs
from kiosk_burner.contract import DiscImage, Label, RobotState, WriterProgress

SECTOR = 2048


class BurnError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class _Burn:
    state: str = "queued"
    reason: str = ""
    detail: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)


class XorrisoDrive:
    def __init__(self, device: str, program: str = "xorriso", eject: bool = True) -> None:
        self.device = device
        self.program = program
        self.eject = eject and not device.startswith("stdio:")
        self.name = f"drive {device}"
        self._burns: dict[str, _Burn] = {}
        self._lock = threading.Lock()

    def is_available(self) -> Availability:
        needs = Needs("xorriso drive").program(self.program, "xorriso")
        if not self.device.startswith("stdio:"):
            needs.device(self.device)
        return needs.result()

    def _run(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.program, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def medium(self) -> tuple[str, int]:
        """(xorriso's media status line, free sectors); BurnError when no disc is in."""
        result = self._run("-outdev", self.device, "-tell_media_space", timeout=120)
        output = result.stdout + result.stderr
        status = re.search(r"Media status\s*:\s*(.*)", output)
        space = re.search(r"Media space\s*:\s*(\d+)s", output)
        if result.returncode != 0 or status is None or space is None:
            raise BurnError("no_blank_disc", output.strip()[-500:] or "no medium")
        return status.group(1).strip(), int(space.group(1))

    def robot_state(self) -> RobotState:
        if not self.is_available().ok:
            return RobotState(ok=False, problems=("robot_error",))
        return RobotState(ok=True)

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        with self._lock:
            if key in self._burns:
                return
            burn = self._burns[key] = _Burn()
        threading.Thread(
            target=self._burn_all, args=(disc, copies, burn), name=f"burn-{key}", daemon=True
        ).start()

    def _burn_all(self, disc: DiscImage, copies: int, burn: _Burn) -> None:
        try:
            for _ in range(copies):  # one drive: one disc after the other (the kiosk asks
                self._burn_one(disc, burn)  # for a new blank between copies by retrying)
                if burn.cancelled.is_set():
                    return
            burn.state = "done"
        except BurnError as error:
            burn.state, burn.reason, burn.detail = "failed", error.reason, str(error)
        except (OSError, subprocess.SubprocessError) as error:
            burn.state, burn.reason, burn.detail = "failed", "burn_failed", str(error)

    def _burn_one(self, disc: DiscImage, burn: _Burn) -> None:
        status, free = self.medium()
        blank = "is blank" in status or self.device.startswith("stdio:")
        if not blank:
            raise BurnError("no_blank_disc", f"medium {status}")
        if free * SECTOR < disc.size_bytes:
            raise BurnError(
                "disc_too_small", f"{free * SECTOR} bytes free, {disc.size_bytes} needed"
            )
        if burn.cancelled.is_set():
            return
        burn.state = "burning"
        result = self._run(
            "-as", "cdrecord", "-v", f"dev={self.device}", "-dao", str(disc.iso_path)
        )
        if result.returncode != 0:
            raise BurnError("burn_failed", (result.stdout + result.stderr).strip()[-500:])
        burn.state = "verifying"
        read_back = self.read_back_sha256(disc.size_bytes)
        if read_back != disc.sha256:
            raise BurnError("verify_failed", f"read back {read_back}, image {disc.sha256}")
        if self.eject:
            self._run("-outdev", self.device, "-eject", "all", timeout=120)

    def read_back_sha256(self, size: int) -> str:
        """SHA-256 of the first ``size`` bytes of the burned medium (a drive pads the track)."""
        path = Path(self.device.removeprefix("stdio:"))
        digest = hashlib.sha256()
        left = size
        with open(path, "rb") as medium:
            while left > 0:
                chunk = medium.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
        return digest.hexdigest()

    def progress(self, key: str) -> WriterProgress:
        burn = self._burns.get(key)
        if burn is None:
            return WriterProgress("failed", "burn_failed", f"no burn {key} (kiosk restarted?)")
        if burn.cancelled.is_set() and burn.state != "failed":
            return WriterProgress("cancelled")
        return WriterProgress(burn.state, burn.reason, burn.detail)  # type: ignore[arg-type]

    def cancel(self, key: str) -> None:
        burn = self._burns.get(key)
        if burn is not None:
            burn.cancelled.set()  # a burn under way finishes (stopping it spoils the disc)
        if self.eject:
            self._run("-outdev", self.device, "-eject", "all", timeout=120)
