"""Device enrolment: an administrator creates the device and its key in the core; the device
program stores the core's address, the key and the core's CA in one file readable by its user
only (0600). Without a hand-copied key the device enrols by code (``device_kit.enrol_code``)."""

from __future__ import annotations

import json
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from device_kit.state import write_atomically


class NotEnrolled(RuntimeError):
    pass


@dataclass(frozen=True)
class Enrolment:
    core_url: str  # http(s)://host:port of the core server
    device_key: str  # the secret the administrator got when creating the device
    device_name: str = ""
    ca_pem: str = ""  # the core's CA (PEM), pinned at enrolment; "" while the core has none

    def __post_init__(self) -> None:
        if not self.core_url.startswith(("http://", "https://")):
            raise ValueError(f"core URL must start with http:// or https://, not {self.core_url!r}")
        if not self.device_key.strip():
            raise ValueError("the device key is empty")

    @property
    def websocket_url(self) -> str:
        return "ws" + self.core_url.removeprefix("http").rstrip("/")


def save(path: Path, enrolment: Enrolment) -> None:
    """Write atomically with mode 0600 from the start (never briefly world-readable)."""
    write_atomically(path, json.dumps(asdict(enrolment)).encode(), 0o600)


def load(path: Path, program: str) -> Enrolment:
    if not path.is_file():
        raise NotEnrolled(
            f"this device is not enrolled ({path} missing): run `{program} enrol --core-url URL` "
            "and confirm the code it shows on the core's queue admin page (or create the device "
            f"there and run `{program} enrol --core-url URL --key KEY`), or set the option "
            "core_url: the program then shows the code on its screen by itself"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise NotEnrolled(
            f"{path} is readable by others (mode {mode:o}): run `chmod 600 {path}` "
            "and consider creating a new device key"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    return Enrolment(**data)
