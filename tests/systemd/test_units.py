"""The appliance's units: `systemd-analyze verify` clean, `systemd-analyze security --offline`
at most 2.0 ("OK") for each, the hardening every unit shares, and each device program's
device allow-list (only what its hardware needs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS_DIR = Path(__file__).resolve().parents[2] / "systemd"
DEVICES = ("queue-display", "caller-terminal", "ticket-printer", "kiosk-burner", "capture-station")
PROGRAMS = ("core-server", *DEVICES)
DRM, INPUT = "char-drm rw", "char-input r"
SERIAL = ("char-ttyS rw", "char-ttyUSB rw", "char-ttyACM rw")
USB_PRINTER = ("char-usb rw", "char-usb_device rw")
ALLOWED = {
    "queue-display": {DRM, INPUT, "char-alsa rw"},
    "caller-terminal": {DRM, INPUT, *SERIAL},
    "ticket-printer": {DRM, INPUT, *SERIAL, *USB_PRINTER},
    "kiosk-burner": {DRM, INPUT, *SERIAL, *USB_PRINTER, "block-sr rw", "char-sg rw"},
    "capture-station": {DRM, INPUT, "char-video4linux rw"},
}
GROUPS = {
    "queue-display": {"video", "render", "input", "audio"},
    "caller-terminal": {"video", "render", "input", "dialout"},
    "ticket-printer": {"video", "render", "input", "dialout", "lp", "plugdev"},
    "kiosk-burner": {"video", "render", "input", "dialout", "cdrom", "lp", "plugdev"},
    "capture-station": {"video", "render", "input"},
}
SHARED = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "RestrictNamespaces": "yes",
    "SystemCallArchitectures": "native",
    "DevicePolicy": "closed",
    "Type": "notify",
    "Restart": "on-failure",
}
pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def settings(path: Path) -> dict[str, list[str]]:
    """Every key of a unit file (or drop-in) with all its values (keys repeat in units)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filesystem root with the units installed, stand-in programs at their paths and
    systemd's own units (sysinit.target...), so `verify --root` checks ours alone."""
    root = tmp_path_factory.mktemp("root")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(UNITS_DIR, root / "etc/systemd/system", ignore=shutil.ignore_patterns("*.md"))
    bin_dir = root / "opt/imaging/.venv/bin"
    bin_dir.mkdir(parents=True)
    for program in PROGRAMS:
        (bin_dir / program).write_text("#!/bin/sh\n")
        (bin_dir / program).chmod(0o755)
    return root


def exposure(*args: str) -> float:
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", run.stdout)
    assert match, run.stdout + run.stderr
    assert match.group(2) == "OK", run.stdout
    return float(match.group(1))


def test_every_program_has_its_unit() -> None:
    assert sorted(p.stem for p in UNITS_DIR.glob("*.service")) == sorted(PROGRAMS)


@pytest.mark.parametrize("program", PROGRAMS)
def test_verify_is_clean(root: Path, program: str) -> None:
    unit = root / f"etc/systemd/system/{program}.service"
    run = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", str(unit)],
        capture_output=True,
        text=True,
    )
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


@pytest.mark.parametrize("program", PROGRAMS)
def test_exposure_is_ok(program: str) -> None:
    assert exposure(str(UNITS_DIR / f"{program}.service")) <= 2.0


def test_port_104_drop_in_keeps_the_core_ok(root: Path) -> None:
    # By name under the root: the unit with its drop-in, as systemd would load it.
    assert exposure(f"--root={root}", "core-server.service") <= 2.0
    drop_in = settings(UNITS_DIR / "core-server.service.d/port-104.conf")
    assert drop_in == {
        "CapabilityBoundingSet": ["CAP_NET_BIND_SERVICE"],
        "AmbientCapabilities": ["CAP_NET_BIND_SERVICE"],
    }


@pytest.mark.parametrize("program", PROGRAMS)
def test_shared_hardening(program: str) -> None:
    unit = settings(UNITS_DIR / f"{program}.service")
    for key, value in SHARED.items():
        assert unit.get(key) == [value], key
    assert unit["CapabilityBoundingSet"] == [""] and unit["AmbientCapabilities"] == [""]
    assert unit["SystemCallFilter"][0] == "@system-service"
    assert "WatchdogSec" in unit and unit["NotifyAccess"] == ["main"]
    assert "StartLimitBurst" in unit and "StartLimitIntervalSec" in unit
    families = set(unit["RestrictAddressFamilies"][0].split())
    assert families <= {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}


def test_core_keeps_its_user_and_writes_its_data_only() -> None:
    unit = settings(UNITS_DIR / "core-server.service")
    assert unit["User"] == ["imaging"] and "DynamicUser" not in unit
    assert unit["ReadWritePaths"] == ["/var/lib/imaging"]
    assert unit["StateDirectory"] == ["imaging"]
    assert unit["PrivateDevices"] == ["yes"] and "DeviceAllow" not in unit
    assert "SupplementaryGroups" not in unit


@pytest.mark.parametrize("program", DEVICES)
def test_device_allow_list(program: str) -> None:
    unit = settings(UNITS_DIR / f"{program}.service")
    assert unit["DynamicUser"] == ["yes"] and "User" not in unit
    assert unit["StateDirectory"] == [program]
    assert set(unit["DeviceAllow"]) == ALLOWED[program]
    assert set(unit["SupplementaryGroups"][0].split()) == GROUPS[program]
    # Writes go to its state folder only (and the disc robot's hot folder, when local).
    assert unit.get("ReadWritePaths", []) == (
        ["-/srv/disc-robot"] if program == "kiosk-burner" else []
    )
