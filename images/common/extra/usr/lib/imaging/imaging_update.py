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
``http://imaging-core:8080/updates/<role>/``. Every run appends the running version to
``/var/lib/imaging-update/history`` (the data partition) and prints that history.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
EMPTY = "_empty"
TRIES = 3
CHUNK = 1 << 20
WAIT = 600  # seconds to wait for the update source at boot


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


def source_url(role: str) -> str:
    for folder in (os.environ.get("CREDENTIALS_DIRECTORY"), "/run/credentials/@system"):
        if folder and (Path(folder) / "imaging.update-source").is_file():
            url = (Path(folder) / "imaging.update-source").read_text().strip()
            return url if url.endswith("/") else url + "/"
    return f"http://imaging-core:8080/updates/{role}/"


def remember(current: str, state: Path) -> str:
    state.mkdir(parents=True, exist_ok=True)
    history = state / "history"
    with history.open("a") as log:
        log.write(f"booted {current}\n")
    return history.read_text()


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


def main(argv: list[str]) -> int:
    release = os_release()
    image_id, current = release["IMAGE_ID"], release["IMAGE_VERSION"]
    role = image_id.removeprefix("imaging-")
    history = remember(current, Path("/var/lib/imaging-update"))
    print(f"imaging-update: running {image_id} {current}; history:\n{history}", flush=True)
    url = source_url(role)
    sums = fetch_sums(url)
    if sums is None:
        return 0
    offered = available(sums, image_id)
    esp = Path("/efi/EFI/Linux")
    bad = failed(sorted(p.name for p in esp.glob("*.efi")), image_id)
    for skipped in sorted(bad & set(offered)):
        print(f"imaging-update: {skipped} did not boot here (no tries left): skipped", flush=True)
    version = newest(list(offered), current, bad)
    if version is None:
        print(f"imaging-update: {current} is the newest at {url}", flush=True)
        return 0
    slot = install(version, offered[version], url, image_id, current, esp)
    print(f"imaging-update: installed {version} into {slot.node}", flush=True)
    if "--reboot" in argv:
        subprocess.run(["systemctl", "reboot"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
