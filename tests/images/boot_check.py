"""Boot an appliance image in QEMU until its program's unit is active, then screenshot it.

Run by ``make images-test`` and by ``IMAGES_TEST=1 pytest tests/images``::

    python tests/images/boot_check.py IMAGE.raw --unit queue-display.service --shot OUT.png

The image is never written: QEMU boots a copy-on-write overlay (qcow2 over the raw file) made
bigger than the image, so the first boot's systemd-repart has room for the data partition. When
the image has its kernel beside it (``IMAGE.vmlinuz``, ``.initrd``, ``.cmdline``: the rootfs
route of ``images/build-image.sh``, a disk without ESP) QEMU boots that kernel directly
(``-kernel/-initrd/-append``); otherwise the firmware is OVMF (UEFI) and systemd-boot on the
image's ESP starts it. KVM when /dev/kvm opens, TCG otherwise. Progress is read from the
serial console (systemd's "Started <unit>" line: for a Type=notify unit that is its READY=1),
the screen through QEMU's monitor (``screendump``).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
# -cpu host without IA32_ARCH_CAPABILITIES: QEMU 7.2 aborts setting that MSR on some nested hosts.
KVM_CPU = "host,-arch-capabilities"
# A provisioning credential so the display is enrolled with a core that does not exist: it
# then shows its "no core" screen (images/enrolment-seed.service.in reads it).
NO_CORE = "http://imaging-core.invalid:8080 image-test-key-0123456789abcdef0123456789"


TREE = Path(__file__).resolve().parents[2]


def built(role: str) -> Path | None:
    """The image to boot for ``role``: the one ``IMAGES_<ROLE>`` names, else the newest disk
    ``make images`` left in ``IMAGES_OUT`` (default images/out) ``/<role>/``, else None."""
    given = os.environ.get(f"IMAGES_{role.upper()}")
    if given:
        return Path(given)
    out = Path(os.environ.get("IMAGES_OUT") or TREE / "images" / "out") / role
    disks = [p for p in out.glob(f"imaging-{role}_*.raw") if not p.name.endswith(".root.raw")]
    return max(disks, key=lambda p: p.stat().st_mtime) if disks else None


class BootFailed(Exception):
    """The unit did not come up: the message says what the console showed."""


@dataclass
class Booted:
    console: str
    screenshot: Path
    accelerator: str
    seconds_to_active: float
    answered: int | None = None  # the HTTP status the guest's program answered (http_port)


def kvm_usable() -> bool:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


def kvm_boots(kernel: Path, wait: float = 20) -> bool:
    """Whether a KVM guest really runs here: /dev/kvm can open and guests still hang (nested
    virtualisation on this build machine stops right after the kernel's real-mode setup, and
    ``-cpu host`` aborts on an MSR). Boots the kernel alone to its "no root" panic: seconds
    under working KVM."""
    with tempfile.TemporaryDirectory(prefix="kvm-probe-") as tmp:
        serial = Path(tmp) / "serial.log"
        command = [
            "qemu-system-x86_64", "-machine", "q35", "-accel", "kvm", "-cpu", KVM_CPU,
            "-m", "256", "-display", "none", "-no-reboot", "-kernel", str(kernel),
            "-append", "console=ttyS0 panic=-1", "-serial", f"file:{serial}",
        ]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if serial.exists() and "Kernel panic" in serial.read_text(errors="replace"):
                    return True
                time.sleep(0.5)
            return serial.exists() and "Kernel panic" in serial.read_text(errors="replace")
        finally:
            proc.kill()
            proc.wait()


def accelerator(image: Path) -> bool:
    """KVM or TCG: IMAGES_ACCEL=kvm|tcg says; otherwise KVM when a guest boots under it."""
    chosen = os.environ.get("IMAGES_ACCEL", "auto")
    if chosen != "auto":
        return chosen == "kvm"
    if not kvm_usable():
        return False
    # A disk-route image boots through its ESP, but its kernel is beside it too: probe with it
    # (without a probe, a KVM that hangs guests, as on this build machine, hangs the test).
    kernel = image.parent / f"{image.name.removesuffix('.raw')}.vmlinuz"
    return kvm_boots(kernel) if kernel.exists() else True


def direct_kernel(image: Path) -> tuple[Path, Path, str] | None:
    """The kernel, initrd and command line beside a rootfs-route image, if it has them (a
    disk-route image has them too, and its UKI ``.efi``: that one boots through the ESP)."""
    # Not with_suffix: the version in the name has dots (imaging-display_20250101.123.raw).
    base = image.name.removesuffix(".raw")
    if (image.parent / f"{base}.efi").exists():
        return None
    kernel, initrd, cmdline = (
        image.parent / f"{base}.{x}" for x in ("vmlinuz", "initrd", "cmdline")
    )
    if kernel.exists() and initrd.exists() and cmdline.exists():
        return kernel, initrd, cmdline.read_text().strip()
    return None


def _firmware(image: Path, vars_file: Path) -> list[str]:
    direct = direct_kernel(image)
    if direct:
        # No boot loader: SeaBIOS hands over to the kernel QEMU loaded.
        kernel, initrd, cmdline = direct
        # The journal on the console too: the saved console log then says why a unit failed.
        cmdline += " systemd.journald.forward_to_console=1"
        return ["-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline]
    shutil.copyfile(OVMF_VARS, vars_file)
    return [
        "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
        "-drive", f"if=pflash,format=raw,file={vars_file}",
    ]  # fmt: skip


def _qemu_command(
    overlay: Path,
    firmware: list[str],
    serial: Path,
    monitor: Path,
    kvm: bool,
    credentials: dict[str, str | bytes] | None = None,
    reboot: bool = False,
    forwards: dict[int, int] | None = None,
) -> list[str]:
    """QEMU for one boot (``-no-reboot``), or, with ``reboot``, for a guest that reboots itself
    (an update). ``credentials`` are systemd credentials (SMBIOS type 11) besides the
    enrolment's (bytes: passed base64, ``io.systemd.credential.binary``); a ``.raw`` overlay is
    used as it is (the update test's writable copy)."""
    accel = ["-accel", "kvm", "-cpu", KVM_CPU] if kvm else ["-accel", "tcg", "-cpu", "max"]
    smbios = []
    for name, value in {"imaging.enrolment": NO_CORE, **(credentials or {})}.items():
        if isinstance(value, bytes):
            text = base64.b64encode(value).decode()
            smbios += ["-smbios", f"type=11,value=io.systemd.credential.binary:{name}={text}"]
        else:
            smbios += ["-smbios", f"type=11,value=io.systemd.credential:{name}={value}"]
    disk_format = "raw" if overlay.suffix == ".raw" else "qcow2"
    nic = "user,model=virtio-net-pci" + "".join(
        f",hostfwd=tcp:127.0.0.1:{host}-:{guest}" for host, guest in (forwards or {}).items()
    )
    return [
        "qemu-system-x86_64",
        "-machine", "q35", *accel, "-m", "1536", "-smp", "2",
        *firmware,
        "-drive", f"if=virtio,format={disk_format},file={overlay}",
        "-vga", "std", "-display", "none",
        "-nic", nic,
        *smbios,
        "-serial", f"file:{serial}",
        "-monitor", f"unix:{monitor},server,nowait",
        *([] if reboot else ["-no-reboot"]),
    ]  # fmt: skip


def _monitor(path: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.settimeout(10)
        sock.recv(4096)  # the banner
        sock.sendall(command.encode() + b"\n")
        time.sleep(1)
        return sock.recv(65536).decode(errors="replace")


# systemd colours its status lines: "Started \x1b[0;1;39mqueue-display.service\x1b[0m".
_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def console_text(serial: Path) -> str:
    """The serial console without terminal escapes."""
    return _ESCAPES.sub("", serial.read_text(errors="replace")) if serial.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str) -> int | None:
    """The status a web server answers (redirects not followed), None while none answers."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _wait_for_unit(
    proc: subprocess.Popen[bytes],
    serial: Path,
    unit: str,
    timeout: float,
    ready: Callable[[], bool] | None = None,
) -> str:
    """The console once systemd says the unit started, or ``ready`` says the program answers:
    systemd stops printing status lines while a getty holds the console (serial-getty on
    ttyS0 starts before a slow unit is ready), so the Started line may never come."""
    started = f"Started {unit}"
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = console_text(serial)
        if started in text or (ready is not None and ready()):
            return text
        if f"Failed to start {unit}" in text or "Kernel panic" in text:
            raise BootFailed(f"{unit} failed; console:\n{text[-4000:]}")
        if proc.poll() is not None:
            raise BootFailed(f"QEMU exited ({proc.returncode}); console:\n{text[-4000:]}")
        time.sleep(1)
    raise BootFailed(f"{unit} not active after {timeout:.0f} s; console:\n{text[-4000:]}")


def drawn(picture: Image.Image) -> bool:
    """Not one flat colour, nor the text console (black and grey): something drew."""
    colours = picture.convert("RGB").getcolors(maxcolors=1 << 16)
    return colours is None or len(colours) > 4


def _wait_for_picture(
    monitor: Path, shot: Path, settle: float, shown: Callable[[Image.Image], bool]
) -> None:
    """The unit is READY once its window is up; give the first frames time, then screendump
    until ``shown`` says the screen is the program's (the console's black before it draws).
    The dump is QEMU's default PPM, saved as PNG here: QEMU 7.2's monitor takes no ``-f png``
    ("invalid char '/' in expression")."""
    from PIL import Image

    time.sleep(settle)
    dump = shot.with_suffix(".ppm")
    for _ in range(30):
        dump.unlink(missing_ok=True)
        reply = _monitor(monitor, f"screendump {dump}")
        if dump.exists() and dump.stat().st_size > 0:
            with Image.open(dump) as picture:
                picture.save(shot)
                done = shown(picture)
            dump.unlink()
            if done:
                return
        elif "rror" in reply or "invalid" in reply:
            raise BootFailed(f"screendump refused: {reply[-300:]}")
        time.sleep(2)
    raise BootFailed(f"the screen stayed blank ({shot})")


def boot(
    image: Path,
    unit: str,
    shot: Path,
    timeout: float = 600,
    settle: float = 5,
    shown: Callable[[Image.Image], bool] | None = drawn,
    http_port: int | None = None,
) -> Booted:
    """Boot until ``unit`` is active, then (``shown`` not None: a screen role) until the screen
    is the program's. A headless role (the core) passes ``shown=None``: no screenshot.
    ``http_port``: the guest's web port, forwarded to this host; an HTTP answer there also
    counts as active (``Booted.answered``)."""
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            raise BootFailed(f"{tool} missing: apt-get install qemu-system-x86 qemu-utils ovmf")
    kvm = accelerator(image)
    shot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="image-boot-") as tmp:
        work = Path(tmp)
        overlay, vars_file = work / "disk.qcow2", work / "vars.fd"
        serial, monitor = work / "serial.log", work / "monitor.sock"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image.resolve()),
             str(overlay), "4G"],
            check=True,
        )  # fmt: skip
        firmware = _firmware(image, vars_file)
        host = free_port() if http_port else None
        url = f"http://127.0.0.1:{host}/"
        forwards = {host: http_port} if host and http_port else None
        ready = (lambda: http_status(url) is not None) if forwards else None
        start = time.monotonic()
        command = _qemu_command(overlay, firmware, serial, monitor, kvm, forwards=forwards)
        proc = subprocess.Popen(command)
        answered = None
        try:
            console = _wait_for_unit(proc, serial, unit, timeout, ready)
            active_after = time.monotonic() - start
            answered = http_status(url) if forwards else None
            if shown is not None:
                _wait_for_picture(monitor, shot, settle, shown)
            console = console_text(serial)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if serial.exists():
                shutil.copyfile(serial, shot.with_suffix(".console.log"))
    return Booted(console, shot, "kvm" if kvm else "tcg", active_after, answered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--unit", default="queue-display.service")
    parser.add_argument("--shot", type=Path, default=Path("test-artifacts/images/display.png"))
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    try:
        booted = boot(args.image, args.unit, args.shot, args.timeout)
    except BootFailed as error:
        print(f"boot check failed: {error}", file=sys.stderr)
        return 1
    print(
        f"{args.unit} active after {booted.seconds_to_active:.0f} s ({booted.accelerator});"
        f" screenshot {booted.screenshot}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
