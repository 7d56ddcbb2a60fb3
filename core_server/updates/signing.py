"""The update signing key and the detached signature of an update folder's ``SHA256SUMS``.

OpenPGP, made and checked by Debian's GnuPG (``gpg`` on the core, ``gpgv`` on the boxes):
``SHA256SUMS.gpg`` beside ``SHA256SUMS`` is what systemd-sysupdate verifies, so a later
Debian's sysupdate takes the same artefacts. The key is an Ed25519 signing key without a
passphrase (the core signs unattended; the file is 0600 beside the TLS key, like the appliance
CA's). Every gpg run gets a throwaway home under the system's temporary folder (short: gpg's
agent socket lives there) and its agent is stopped afterwards, so no keyring state is kept
anywhere but in the two files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core_server.refusals import Conflict, Refusal

SECRET_FILE = "update-signing.key"  # armoured secret key, 0600
PUBLIC_FILE = "update-signing.gpg"  # binary public keyring: what gpgv and the image take
SIGNATURE = "SHA256SUMS.gpg"
TIMEOUT = 120  # seconds; a loaded machine, never a hung CLI

Verdict = Literal["good", "bad", "missing", "no_key"]


@dataclass(frozen=True)
class SigningKey:
    """The key's two files, in the folder where ``core-server tls init`` keeps its own."""

    secret: Path
    public: Path

    @classmethod
    def beside(cls, folder: Path) -> SigningKey:
        return cls(folder / SECRET_FILE, folder / PUBLIC_FILE)

    def present(self) -> bool:
        return self.secret.is_file() and self.public.is_file()

    def fingerprint(self) -> str | None:
        if not self.public.is_file():
            return None
        with _home() as home:
            listing = _gpg(home, "--with-colons", "--show-keys", str(self.public)).stdout
        return next(
            (ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:")), None
        )


@contextmanager
def _home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="gpg"))
    try:
        yield home
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["gpg", "--homedir", str(home), "--batch", "--quiet", "--no-tty"]
    command += ["--pinentry-mode", "loopback", "--passphrase", "", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except FileNotFoundError as missing:
        raise Refusal("updates.gpg_missing", 503) from missing
    if done.returncode != 0:
        raise Refusal("updates.gpg_failed", 503, error=done.stderr.strip()[-300:])
    return done


def _write_private(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    part.replace(path)


def init_key(key: SigningKey, hospital: str, *, force: bool = False) -> str:
    """Make the signing key; refused when one exists (boxes trust it) unless ``force``.
    Returns its fingerprint."""
    if key.present() and not force:
        raise Conflict("updates.key_exists", path=str(key.secret))
    uid = f"{hospital or 'Imaging appliance'} image updates"
    with _home() as home:
        _gpg(home, "--quick-gen-key", uid, "ed25519", "sign", "never")
        secret = _gpg(home, "--armor", "--export-secret-keys").stdout.encode()
        public = subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--export"],
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        ).stdout
    _write_private(key.secret, secret, 0o600)
    _write_private(key.public, public, 0o644)
    found = key.fingerprint()
    assert found, "gpg made a key without a fingerprint"
    return found


def sign(key: SigningKey, sums: Path) -> Path:
    """Write ``SHA256SUMS.gpg`` beside ``sums`` (a temporary name, then renamed)."""
    if not key.present():
        raise Refusal("updates.no_key", 409)
    target = sums.with_name(SIGNATURE)
    part = sums.with_name(SIGNATURE + ".part")
    part.unlink(missing_ok=True)
    with _home() as home:
        _gpg(home, "--import", str(key.secret))
        _gpg(home, "--detach-sign", "--output", str(part), str(sums))
    part.replace(target)
    return target


def verify(keyring: Path, sums: Path) -> Verdict:
    """What a box's gpgv says of ``sums`` and its signature with ``keyring`` as the only key:
    good, bad (altered, or made by another key), missing (no signature), no_key."""
    signature = sums.with_name(SIGNATURE)
    if not keyring.is_file():
        return "no_key"
    if not signature.is_file():
        return "missing"
    with _home() as home:
        done = subprocess.run(
            [
                "gpgv",
                "--homedir",
                str(home),
                "--keyring",
                str(keyring),
                "--status-fd",
                "1",
                str(signature),
                str(sums),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    return "good" if done.returncode == 0 and "[GNUPG:] VALIDSIG " in done.stdout else "bad"
