"""Apply an A/B update to a disk-route image in QEMU, then roll it back.

    python tests/images/update_check.py IMAGE.raw UPDATE_DIR --unit queue-display.service

UPDATE_DIR is an update folder (``images/make-update.sh``: a newer version's ``.root.raw``,
``.efi`` and ``SHA256SUMS``), served over HTTP from this host; the guest reaches it at QEMU's
user-net host address 10.0.2.2, named by the credential ``imaging.update-source``. One QEMU run:
the image boots version A, ``imaging-update.service`` writes B into the empty root slot and the
guest reboots into B, whose console shows the update history kept on the data partition; the
guest is powered off. Then the host marks B's kernel on the ESP as out of tries (what three
failed boots leave, ``+0-3``: written with mtools into the disk file) and boots again: systemd-boot
starts A, and imaging-update does not install B again. The disk is a sparse raw copy (never the
image itself), grown to 4 GB for the data partition.
"""

from __future__ import annotations

import argparse
import http.server
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.images import boot_check
from tests.images.boot_check import BootFailed

GUEST_HOST = "10.0.2.2"
ESP_OFFSET = "1M"  # assemble-disk.sh: the ESP is the first partition, at 1 MiB


@dataclass
class Updated:
    console: list[str] = field(default_factory=list)  # one text per QEMU run
    seconds: dict[str, float] = field(default_factory=dict)
    kernels: list[str] = field(default_factory=list)  # the ESP's EFI/Linux after the update
    blessing: str | None = None  # systemd's line about systemd-bless-boot in B


def _version(name: str) -> str:
    return name.removesuffix(".raw").partition("_")[2]


def _serve(folder: Path) -> http.server.ThreadingHTTPServer:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_for(serial: Path, proc: subprocess.Popen[bytes], marks: list[str], timeout: float) -> str:
    """The console once every mark is in it, in order (each after the one before)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = boot_check.console_text(serial)
        at = 0
        for mark in marks:
            at = text.find(mark, at)
            if at < 0:
                break
        else:
            return text
        if "Kernel panic" in text or "imaging-update.service: Failed" in text:
            raise BootFailed(f"console:\n{text[-4000:]}")
        if proc.poll() is not None:
            raise BootFailed(f"QEMU exited waiting for {marks}; console:\n{text[-4000:]}")
        time.sleep(2)
    raise BootFailed(f"no {marks} after {timeout:.0f} s; console:\n{text[-4000:]}")


def power_off(proc: subprocess.Popen[bytes], monitor: Path, timeout: float = 300) -> None:
    """ACPI power button: systemd shuts down cleanly (the data partition's ext4 is synced)."""
    try:
        boot_check._monitor(monitor, "system_powerdown")
        proc.wait(timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


def esp_kernels(disk: Path) -> list[str]:
    listing = subprocess.run(
        ["mdir", "-b", "-i", f"{disk}@@{ESP_OFFSET}", "::EFI/Linux"],
        check=True, capture_output=True, text=True, env={"MTOOLS_SKIP_CHECK": "1"},
    ).stdout  # fmt: skip
    return sorted(Path(line).name for line in listing.split() if line.endswith(".efi"))


def mark_failed(disk: Path, kernel: str) -> str:
    """Rename a kernel on the ESP as systemd-boot leaves it after its last failed try."""
    base = re.sub(r"(\+\d+(-\d+)?)?\.efi$", "", kernel)
    failed = f"{base}+0-3.efi"
    subprocess.run(
        ["mren", "-i", f"{disk}@@{ESP_OFFSET}", f"::EFI/Linux/{kernel}", f"::EFI/Linux/{failed}"],
        check=True, env={"MTOOLS_SKIP_CHECK": "1"},
    )  # fmt: skip
    return failed


def sign(updates: Path) -> bytes:
    """Sign the folder's SHA256SUMS with a throwaway key, a detached signature
    ``SHA256SUMS.gpg`` (what the core's ``updates publish`` writes); returns the key's public
    part (binary), given to the box as its credential ``imaging.update-key``."""
    with tempfile.TemporaryDirectory(prefix="update-key-") as home:
        gpg = ["gpg", "--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback",
               "--passphrase", ""]  # fmt: skip
        try:
            subprocess.run(
                [*gpg, "--quick-gen-key", "imaging update test <updates@imaging.invalid>",
                 "ed25519", "sign", "never"],
                check=True,
            )  # fmt: skip
            subprocess.run(
                [*gpg, "--yes", "--detach-sign", "--output", str(updates / "SHA256SUMS.gpg"),
                 str(updates / "SHA256SUMS")],
                check=True,
            )  # fmt: skip
            return subprocess.run([*gpg, "--export"], check=True, capture_output=True).stdout
        finally:
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False)


# systemd's own lines about bless-boot: its status line, or the journal's (B's kernel has the
# journal on the console: the test's make-update.sh adds systemd.journald.forward_to_console=1).
BLESSED = re.compile(
    r"Finished systemd-bless-boot\.service|Failed to start systemd-bless-boot\.service"
    r"|systemd-bless-boot\.service: (Main process exited|Failed)"
)


def wait_for_blessing(
    serial: Path, proc: subprocess.Popen[bytes], after: str, timeout: float
) -> str | None:
    """systemd-bless-boot's outcome in the boot after ``after`` (a mark the boot before it
    printed): its line, or None if it never said (the ESP's file names tell the rest)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        text = boot_check.console_text(serial)
        at = text.find(after)
        found = BLESSED.search(text, at) if at >= 0 else None
        if found:
            return found.group(0)
        time.sleep(2)
    return None


def _screen(monitor: Path, shot: Path, screen: bool) -> None:
    """The role's program is up: its picture on the screen. (systemd's "Started <unit>" line
    cannot tell: after an update's reboot the display's came after the boot's status output
    had stopped, while the program was already drawing.) Headless roles: nothing to look at."""
    if screen:
        shot.parent.mkdir(parents=True, exist_ok=True)
        boot_check._wait_for_picture(monitor, shot, 5, boot_check.drawn)


def _run(command: list[str], serial: Path) -> subprocess.Popen[bytes]:
    serial.unlink(missing_ok=True)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def update_and_roll_back(
    image: Path, updates: Path, unit: str, logs: Path, timeout: float = 1800, screen: bool = True
) -> Updated:
    old = _version(image.name)
    image_id = image.name.partition("_")[0]
    new = _version(next(updates.glob("*.root.raw")).name.removesuffix(".root.raw"))
    kvm = boot_check.accelerator(image)
    result = Updated()
    key = sign(updates)
    server = _serve(updates)
    url = f"http://{GUEST_HOST}:{server.server_address[1]}/"
    with tempfile.TemporaryDirectory(prefix="image-update-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        disk, vars_file = work / "disk.raw", work / "vars.fd"
        serial, monitor = work / "serial.log", work / "monitor.sock"
        subprocess.run(["cp", "--sparse=always", str(image), str(disk)], check=True)
        subprocess.run(["truncate", "-s", "4G", str(disk)], check=True)
        firmware = boot_check._firmware(image, vars_file)
        command = boot_check._qemu_command(
            disk, firmware, serial, monitor, kvm,
            credentials={"imaging.update-source": url, "imaging.update-key": key,
                         "imaging.update-window": "always"},
            reboot=True,
        )  # fmt: skip
        try:
            start = time.monotonic()
            proc = _run(command, serial)
            try:
                wait_for(serial, proc, [f"imaging-update: installed {new}"], timeout)
                result.seconds["installed"] = time.monotonic() - start
                wait_for(serial, proc, [f"imaging-update: installed {new}",
                                        f"imaging-update: running {image_id} {new}"],
                         timeout)  # fmt: skip
                result.seconds["rebooted into B"] = time.monotonic() - start
                _screen(monitor, logs / "update-b.png", screen)
                # B reached boot-complete.target: bless-boot renames its kernel (no +N-M).
                installed = f"imaging-update: installed {new}"
                result.blessing = wait_for_blessing(serial, proc, installed, 600)
            finally:
                power_off(proc, monitor)
                result.console.append(boot_check.console_text(serial))
            result.kernels = esp_kernels(disk)
            ours = [k for k in result.kernels if k.startswith(f"{image_id}_{new}")]
            if not ours:
                raise BootFailed(f"no kernel of {new} on the ESP: {result.kernels}")
            mark_failed(disk, ours[0])
            start = time.monotonic()
            proc = _run(command, serial)
            try:
                wait_for(serial, proc, [f"imaging-update: running {image_id} {old}",
                                        "is the newest at"], timeout)  # fmt: skip
                result.seconds["rolled back to A"] = time.monotonic() - start
                _screen(monitor, logs / "update-rollback-a.png", screen)
            finally:
                power_off(proc, monitor)
                result.console.append(boot_check.console_text(serial))
        finally:
            server.shutdown()
            server.server_close()
            logs.mkdir(parents=True, exist_ok=True)
            for n, text in enumerate(result.console, 1):
                (logs / f"update-run{n}.console.log").write_text(text)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("updates", type=Path)
    parser.add_argument("--unit", default="queue-display.service")
    parser.add_argument("--logs", type=Path, default=Path("test-artifacts/images"))
    args = parser.parse_args(argv)
    try:
        done = update_and_roll_back(args.image, args.updates, args.unit, args.logs)
    except BootFailed as error:
        print(f"update check failed: {error}", file=sys.stderr)
        return 1
    print(f"updated and rolled back: {done.seconds}; ESP: {done.kernels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
