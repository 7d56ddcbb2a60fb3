"""imaging-update: the A/B update of an appliance image, run on the box (as root).

What ``/usr/lib/sysupdate.d/10-root.conf`` and ``20-uki.conf`` describe, done by hand: Debian
12's systemd (252) is built without systemd-sysupdate. From the update source (a folder served
over HTTP with ``SHA256SUMS``, ``imaging-<role>_<v>.root.raw`` and ``imaging-<role>_<v>.efi``)
the newest version newer than the running one is written into the other root slot (an
``_empty`` one, else the older version; never the running one), checked against SHA256SUMS,
and its UKI put on the ESP with boot counting (``+3``): systemd-boot boots the newest entry,
systemd-bless-boot marks it good once the boot completes, and after three failed tries
systemd-boot boots the old version again. The data partition is never touched.

Source: the credential ``imaging.update-source`` (a URL), else
``http://imaging-core:8080/updates/<role>/`` (the core serves it, docs/updates.md). Every run
appends the running version to ``/var/lib/imaging-update/history`` (the data partition) and
prints that history.

``SHA256SUMS`` must carry a good detached signature ``SHA256SUMS.gpg`` (what systemd-sysupdate
checks) by a key the box trusts: ``/etc/systemd/import-pubring.gpg`` (put into the read-only
root when the image is built, where a later sysupdate looks too) or the credential
``imaging.update-key``. Unsigned, badly signed or signed by another key: refused, the box
keeps its version; only ``imaging.update-verify=no`` takes an unsigned source.

Run at boot and by ``imaging-update.timer``; a new version is installed into the other slot at
once (the running system is untouched) but the box reboots into it only inside the maintenance
window (``IMAGING_UPDATE_WINDOW``, default ``02:00-05:00`` in ``IMAGING_UPDATE_TIMEZONE``,
default Asia/Shanghai; credential ``imaging.update-window``; ``always`` reboots at once):
outside it a transient timer reboots the box at the window's start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
EMPTY = "_empty"
TRIES = 3
CHUNK = 1 << 20
WAIT = 600  # seconds to wait for the update source at boot
KEYRING = Path("/etc/systemd/import-pubring.gpg")  # systemd-importd's own (sysupdate's) place
WINDOW = "02:00-05:00"
ZONE = "Asia/Shanghai"
SPREAD = 1800  # seconds: the boxes of a hospital do not all reboot in the same minute
REBOOT_UNIT = "imaging-update-reboot"


@dataclass(frozen=True)
class Slot:
    node: str
    number: int
    label: str
    size: int


def os_release(path: Path = Path("/usr/lib/os-release")) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Numbers compare as numbers (20261207.99 < 20261207.100), then text."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def available(sums: str, image_id: str) -> dict[str, dict[str, str]]:
    """Versions with both artefacts listed in SHA256SUMS: version -> {"root"|"efi": sha256}."""
    found: dict[str, dict[str, str]] = {}
    pattern = re.compile(rf"^{re.escape(image_id)}_(.+)\.(root\.raw|efi)$")
    for line in sums.splitlines():
        fields = line.split()
        if len(fields) != 2:
            continue
        match = pattern.match(fields[1].lstrip("*"))
        if match:
            kind = "root" if match.group(2) == "root.raw" else "efi"
            found.setdefault(match.group(1), {})[kind] = fields[0].lower()
    return {v: files for v, files in found.items() if len(files) == 2}


def failed(kernels: list[str], image_id: str) -> set[str]:
    """Versions whose kernel on the ESP has no tries left (``<id>_<v>+0-<n>.efi``): they never
    completed a boot here, systemd-boot went back to the old one; not installed again."""
    pattern = re.compile(rf"^{re.escape(image_id)}_(.+)\+0-\d+\.efi$")
    return {m.group(1) for m in map(pattern.match, kernels) if m}


def newest(
    versions: list[str], current: str, skip: frozenset[str] | set[str] = frozenset()
) -> str | None:
    newer = [v for v in versions if version_key(v) > version_key(current) and v not in skip]
    return max(newer, key=version_key) if newer else None


def choose_slot(slots: list[Slot], image_id: str, current: str) -> Slot:
    """An empty slot, else the oldest other version; never the running one."""
    running = f"{image_id}_{current}"
    others = [s for s in slots if s.label != running]
    empty = [s for s in others if s.label == EMPTY]
    if empty:
        return empty[0]
    ours = [s for s in others if s.label.startswith(f"{image_id}_")]
    if not ours:
        raise SystemExit(f"no root slot for the update beside {running}")
    return min(ours, key=lambda s: version_key(s.label.removeprefix(f"{image_id}_")))


def root_slots(disk: str) -> list[Slot]:
    table = json.loads(
        subprocess.run(
            ["sfdisk", "--json", disk], check=True, capture_output=True, text=True
        ).stdout
    )["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    slots = []
    for part in table["partitions"]:
        if part["type"].upper() == ROOT_TYPE:
            number = int(re.findall(r"\d+$", part["node"])[0])
            slots.append(Slot(part["node"], number, part.get("name", ""), part["size"] * sector))
    return slots


def root_disk() -> str:
    source = subprocess.run(
        ["findmnt", "-no", "SOURCE", "/"], check=True, capture_output=True, text=True
    ).stdout.strip()
    parent = subprocess.run(
        ["lsblk", "-no", "PKNAME", source], check=True, capture_output=True, text=True
    ).stdout.strip()
    return f"/dev/{parent}"


def relabel(disk: str, slot: Slot, label: str) -> None:
    # The running disk: the kernel keeps its table (only a name changes, read at next boot).
    subprocess.run(
        [
            "sfdisk",
            "--no-reread",
            "--no-tell-kernel",
            "-q",
            "--part-label",
            disk,
            str(slot.number),
            label,
        ],
        check=True,
    )


def download(url: str, target: Path, expected: str, limit: int | None = None) -> None:
    """Stream url into target (a file or the slot's block device), then check its SHA256."""
    digest, written = hashlib.sha256(), 0
    with (
        urllib.request.urlopen(url, timeout=60) as answer,
        open(target, "r+b" if target.is_block_device() else "wb") as out,
    ):
        while chunk := answer.read(CHUNK):
            written += len(chunk)
            if limit is not None and written > limit:
                raise SystemExit(f"{url} is bigger than the slot ({limit} bytes)")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != expected:
        raise SystemExit(f"{url}: SHA256 {digest.hexdigest()} is not {expected}")


def credential(name: str) -> str | None:
    """A systemd credential's text (the service's own, else the system's), or None."""
    for folder in (os.environ.get("CREDENTIALS_DIRECTORY"), "/run/credentials/@system"):
        if folder and (Path(folder) / name).is_file():
            return (Path(folder) / name).read_text().strip()
    return None


def source_url(role: str) -> str:
    url = credential("imaging.update-source")
    if url:
        return url if url.endswith("/") else url + "/"
    return f"http://imaging-core:8080/updates/{role}/"


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def remember(current: str, state: Path, boot: str | None = None) -> str:
    """Append ``booted <version>`` once per boot (the timer runs the updater every 6 h; the
    history counts boots, not runs) and return the whole history."""
    state.mkdir(parents=True, exist_ok=True)
    history, last = state / "history", state / "last-boot"
    mark = f"{boot_id() if boot is None else boot} {current}"
    if not last.is_file() or last.read_text() != mark:
        with history.open("a") as log:
            log.write(f"booted {current}\n")
        last.write_text(mark)
    return history.read_text()


def withdraw(version: str, image_id: str, esp: Path) -> None:
    """A staged version the source no longer offers (an admin removed it): its kernel goes
    from the ESP, so no reboot, planned or not, starts it."""
    for kernel in [
        *esp.glob(f"{image_id}_{version}.efi"),
        *esp.glob(f"{image_id}_{version}+*.efi"),
    ]:
        kernel.unlink()


def install(
    version: str, sums: dict[str, str], url: str, image_id: str, current: str, esp: Path
) -> Slot:
    disk = root_disk()
    slot = choose_slot(root_slots(disk), image_id, current)
    old = slot.label.removeprefix(f"{image_id}_")
    # The slot is not bootable while it is written: no label, no kernel pointing at it.
    relabel(disk, slot, EMPTY)
    if slot.label != EMPTY:
        for stale in esp.glob(f"{image_id}_{old}.efi"):
            stale.unlink()
        for stale in esp.glob(f"{image_id}_{old}+*.efi"):
            stale.unlink()
    name = f"{image_id}_{version}"
    download(f"{url}{name}.root.raw", Path(slot.node), sums["root"], limit=slot.size)
    part = esp / f"{name}.efi.part"
    download(f"{url}{name}.efi", part, sums["efi"])
    part.rename(esp / f"{name}+{TRIES}.efi")
    relabel(disk, slot, name)
    return slot


def fetch_sums(url: str, wait: float = WAIT, pause: float = 15) -> str | None:
    """The source's SHA256SUMS; retried while the network comes up (a box booting with its
    switch, a slow first boot), None when the source stays away: nothing to do this time."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(f"{url}SHA256SUMS", timeout=60) as answer:
                return str(answer.read().decode())
        except OSError as error:
            if time.monotonic() + pause > deadline:
                print(f"imaging-update: no update source at {url}: {error}", flush=True)
                return None
        time.sleep(pause)


def dearmor(key: bytes) -> bytes:
    """A public key as gpgv takes it: binary (an ASCII-armoured block is decoded; gpgv 2.2
    reads no armour in a keyring)."""
    text = key.decode("ascii", "replace")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        return key
    body = text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)[1]
    body = body.split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0]
    lines = [ln.strip() for ln in body.strip().splitlines()]
    if "" in lines:  # armour headers end at the first empty line
        lines = lines[lines.index("") + 1 :]
    return base64.b64decode("".join(ln for ln in lines if ln and not ln.startswith("=")))


def trusted_keys(keyring: Path = KEYRING) -> list[bytes]:
    """The keys this box takes updates from: the image's keyring and the credential's key."""
    keys = [keyring.read_bytes()] if keyring.is_file() else []
    for folder in (os.environ.get("CREDENTIALS_DIRECTORY"), "/run/credentials/@system"):
        path = Path(folder) / "imaging.update-key" if folder else None
        if path and path.is_file():
            keys.append(dearmor(path.read_bytes()))
            break
    return keys


def check_signature(sums: bytes, signature: bytes | None, keys: list[bytes]) -> str | None:
    """None when gpgv finds a good signature of ``sums`` by one of ``keys``; else why not."""
    if signature is None:
        return "SHA256SUMS is not signed (no SHA256SUMS.gpg)"
    if not keys:
        return "this box has no update key to check SHA256SUMS.gpg with"
    with tempfile.TemporaryDirectory(prefix="imaging-update.") as tmp:
        folder = Path(tmp)
        (folder / "SHA256SUMS").write_bytes(sums)
        (folder / "SHA256SUMS.gpg").write_bytes(signature)
        command = ["gpgv", "--homedir", tmp, "--status-fd", "1"]
        for number, key in enumerate(keys):
            (folder / f"key{number}.gpg").write_bytes(key)
            command += ["--keyring", str(folder / f"key{number}.gpg")]
        command += [str(folder / "SHA256SUMS.gpg"), str(folder / "SHA256SUMS")]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            return "gpgv is missing on this box"
    status = done.stdout
    if done.returncode == 0 and "[GNUPG:] VALIDSIG " in status:
        return None
    if "[GNUPG:] BADSIG " in status:
        return "SHA256SUMS.gpg is a bad signature (SHA256SUMS altered)"
    if "[GNUPG:] NO_PUBKEY " in status or "[GNUPG:] ERRSIG " in status:
        return "SHA256SUMS.gpg is signed by a key this box does not trust"
    return f"SHA256SUMS.gpg is not a valid signature ({done.stderr.strip()[-200:]})"


def fetch_signature(url: str) -> bytes | None:
    """The source's SHA256SUMS.gpg, None when it has none (404) or it cannot be read."""
    try:
        with urllib.request.urlopen(f"{url}SHA256SUMS.gpg", timeout=60) as answer:
            return bytes(answer.read())
    except (urllib.error.HTTPError, OSError):
        return None


@dataclass(frozen=True)
class Window:
    """The daily maintenance window in the hospital's zone (``end`` < ``start``: over
    midnight); ``always``: no window, reboot at once."""

    start: timedelta
    end: timedelta
    zone: tzinfo
    always: bool = False


def zone_of(name: str) -> tzinfo:
    """The hospital's zone; a fixed +08:00 when the image has no tz database for it (China has
    no summer time), UTC for an unknown name (said on the console)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (ImportError, ValueError, OSError):
        if name in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"):
            return timezone(timedelta(hours=8))
        print(f"imaging-update: unknown time zone {name!r}: UTC", flush=True)
        return UTC


def parse_window(text: str, zone: tzinfo) -> Window:
    if text.strip().lower() in ("always", "any", "now"):
        return Window(timedelta(0), timedelta(hours=24), zone, always=True)
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise SystemExit(f"imaging-update: maintenance window {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise SystemExit(f"imaging-update: maintenance window {text!r} is not HH:MM-HH:MM")
    return Window(timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2), zone)


def window_of() -> Window:
    zone = zone_of(os.environ.get("IMAGING_UPDATE_TIMEZONE") or ZONE)
    text = credential("imaging.update-window") or os.environ.get("IMAGING_UPDATE_WINDOW")
    return parse_window(text or WINDOW, zone)


def in_window(now: datetime, window: Window) -> bool:
    if window.always:
        return True
    local = now.astimezone(window.zone)
    into = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
    if window.start <= window.end:
        return window.start <= into < window.end
    return into >= window.start or into < window.end


def next_window(now: datetime, window: Window) -> datetime:
    """When the window next opens (aware, UTC), ``now`` itself when it is open."""
    if in_window(now, window):
        return now.astimezone(UTC)
    local = now.astimezone(window.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(2):
        # Wall-clock arithmetic in the zone, then back to UTC (no summer time in China, but
        # the sum must not jump an hour elsewhere either).
        naive = (midnight + timedelta(days=day)).replace(tzinfo=None) + window.start
        opens = naive.replace(tzinfo=window.zone)
        if opens > local:
            return opens.astimezone(UTC)
    raise AssertionError("a daily window opens within two days")


def staged(slots: list[Slot], kernels: list[str], image_id: str, current: str) -> str | None:
    """A newer version already written into the other slot whose kernel still has tries: it
    waits for a reboot; not downloaded again."""
    bad = failed(kernels, image_id)
    ready = set()
    for slot in slots:
        version = slot.label.removeprefix(f"{image_id}_")
        ours = slot.label.startswith(f"{image_id}_") and version not in (current, *bad)
        booting = f"{slot.label}.efi" in kernels or any(
            k.startswith(f"{slot.label}+") for k in kernels
        )
        if ours and booting:
            ready.add(version)
    return newest(sorted(ready), current)


def plan_reboot(version: str, window: Window, now: datetime | None = None) -> None:
    """Reboot now inside the window; outside it, a transient timer at the window's start."""
    now = now or datetime.now(UTC)
    if in_window(now, window):
        print(f"imaging-update: rebooting into {version} (maintenance window)", flush=True)
        subprocess.run(["systemctl", "reboot"], check=True)
        return
    planned = subprocess.run(
        ["systemctl", "is-active", "--quiet", f"{REBOOT_UNIT}.timer"], check=False
    )
    at = next_window(now, window) + timedelta(seconds=random.uniform(0, SPREAD))
    shown = at.astimezone(window.zone).strftime("%Y-%m-%d %H:%M %Z")
    if planned.returncode == 0:
        print(f"imaging-update: {version} is installed; the reboot is already planned", flush=True)
        return
    calendar = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    timer = [
        f"--unit={REBOOT_UNIT}",
        f"--on-calendar={calendar}",
        "--timer-property=AccuracySec=1s",
    ]
    subprocess.run(["systemd-run", *timer, "/usr/bin/systemctl", "reboot"], check=True)
    print(f"imaging-update: {version} is installed; reboot planned at {shown}", flush=True)


def offered_sums(url: str, image_id: str) -> dict[str, dict[str, str]] | None:
    """The versions SHA256SUMS offers, once its signature is good (or the source is set
    unsigned); None when there is nothing to take this time (said on the console)."""
    sums = fetch_sums(url)
    if sums is None:
        return None
    if (credential("imaging.update-verify") or "yes").lower() in ("no", "false", "0"):
        print(f"imaging-update: {url} is set as unsigned: no signature check", flush=True)
    else:
        reason = check_signature(sums.encode(), fetch_signature(url), trusted_keys())
        if reason is not None:
            print(f"imaging-update: REFUSED {url}: {reason}; keeping this version", flush=True)
            return None
    return available(sums, image_id)


def main(argv: list[str]) -> int:
    release = os_release()
    image_id, current = release["IMAGE_ID"], release["IMAGE_VERSION"]
    role = image_id.removeprefix("imaging-")
    history = remember(current, Path("/var/lib/imaging-update"))
    print(f"imaging-update: running {image_id} {current}; history:\n{history}", flush=True)
    window = window_of()
    url = source_url(role)
    offered = offered_sums(url, image_id)
    if offered is None:
        return 0
    esp = Path("/efi/EFI/Linux")
    kernels = sorted(p.name for p in esp.glob("*.efi"))
    bad = failed(kernels, image_id)
    for skipped in sorted(bad & set(offered)):
        print(f"imaging-update: {skipped} did not boot here (no tries left): skipped", flush=True)
    version = newest(list(offered), current, bad)
    waiting = staged(root_slots(root_disk()), kernels, image_id, current)
    if waiting is not None and waiting not in offered:
        withdraw(waiting, image_id, esp)
        print(f"imaging-update: {waiting} is no longer offered: not booted", flush=True)
        waiting = None
    if version is None and waiting is None:
        print(f"imaging-update: {current} is the newest at {url}", flush=True)
        return 0
    if version is not None and version != waiting:
        slot = install(version, offered[version], url, image_id, current, esp)
        print(f"imaging-update: installed {version} into {slot.node}", flush=True)
        waiting = version
    if "--reboot" in argv and waiting is not None:
        plan_reboot(waiting, window)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
