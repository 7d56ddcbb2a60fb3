"""Backups encrypted at rest: the database copy (``core-server db backup``) encrypted to age
public keys with pyrage (the age format, X25519 recipients), beside a manifest.

Public keys only on the appliance: the box can write a backup nobody who takes it (or the
disk it lands on) can read; the private key (``AGE-SECRET-KEY-1...``) stays with the
hospital's IT, who decrypts with ``core-server db decrypt`` or the ``age`` tool itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, BinaryIO

import pyrage
from pyrage import x25519

from core_server import clock

CHUNK = 1 << 20


class BackupError(ValueError):
    """A key that is not one, or a backup that does not decrypt to its manifest."""


def recipients_of(text: str) -> list[x25519.Recipient]:
    """``age1...`` keys, comma- or space-separated; a malformed one raises ValueError."""
    keys = [k for k in text.replace(",", " ").split() if k]
    try:
        return [x25519.Recipient.from_str(k) for k in keys]
    except Exception as exc:
        raise BackupError(f"not an age public key in {text!r}: {exc}") from exc


class _Hashing:
    """A reader that hashes what passes through it (the plaintext's checksum, one pass)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.digest, self.size = source, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def encrypt(plain: Path, recipients: list[x25519.Recipient], kind: str) -> Path:
    """``plain`` -> ``plain.age`` (fsynced) + ``plain.age.manifest.json``; the plaintext copy
    is removed. Returns the encrypted file."""
    target = plain.with_name(plain.name + ".age")
    partial = target.with_name(target.name + ".part")
    with plain.open("rb") as source, partial.open("wb") as out:
        reader = _Hashing(source)
        pyrage.encrypt_io(reader, out, recipients)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(target)
    manifest = {
        "file": target.name,
        "kind": kind,
        "created": clock.iso(clock.now()),
        "encryption": "age (X25519), pyrage " + getattr(pyrage, "__version__", ""),
        "recipients": [str(r) for r in recipients],
        "plain_size": reader.size,
        "plain_sha256": reader.digest.hexdigest(),
        "sha256": _sha256(target),
    }
    manifest_path = target.with_name(target.name + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    plain.unlink()
    return target


def identities_of(identity_file: Path) -> list[x25519.Identity]:
    """The private keys (``AGE-SECRET-KEY-1...`` lines) of an age identity file."""
    identities = [
        x25519.Identity.from_str(line.strip())
        for line in identity_file.read_text().splitlines()
        if line.strip().startswith("AGE-SECRET-KEY-")
    ]
    if not identities:
        raise BackupError(f"no AGE-SECRET-KEY in {identity_file}")
    return identities


def decrypt(encrypted: Path, identity_file: Path, out: Path | None = None) -> Path:
    """The plain backup back, checked against its manifest when there is one."""
    identities = identities_of(identity_file)
    target = out or encrypted.with_name(encrypted.name.removesuffix(".age"))
    try:
        with encrypted.open("rb") as source, target.open("wb") as sink:
            pyrage.decrypt_io(source, sink, identities)
    except pyrage.DecryptError as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"{encrypted}: not for this key, or damaged: {exc}") from exc
    manifest = encrypted.with_name(encrypted.name + ".manifest.json")
    if manifest.is_file():
        expected = json.loads(manifest.read_text())["plain_sha256"]
        if _sha256(target) != expected:
            target.unlink()
            raise BackupError(f"{encrypted}: decrypted copy does not match its manifest")
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def database_copy(database_url: str, target: Path) -> str:
    """A consistent copy of the database at ``target``: SQLite by its online backup API
    (while the core runs), PostgreSQL by ``pg_dump --format=custom``. Returns the kind
    (``sqlite`` or ``pg_dump``) as the manifest names it."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        import sqlite3

        source = sqlite3.connect(url.database or "")
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            source.close()
            copy.close()
        _fsync(target)
        return "sqlite"
    if shutil.which("pg_dump") is None:
        raise FileNotFoundError("pg_dump is needed to back up PostgreSQL (apt: postgresql-client)")
    plain = url.set(drivername="postgresql").render_as_string(False)
    subprocess.run(["pg_dump", "--format=custom", f"--file={target}", plain], check=True)
    _fsync(target)
    return "pg_dump"


def database_restore(kind: str, copy: Path, database_url: str) -> None:
    """Put a :func:`database_copy` back: the SQLite file in place of the database file (no
    core may be running on it), or ``pg_restore --clean`` into the database of the URL
    (existing objects of the same names dropped first)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if (url.get_backend_name() == "sqlite") != (kind == "sqlite"):
        raise BackupError(f"a {kind} backup cannot be restored into {url.get_backend_name()}")
    if kind == "sqlite":
        target = Path(url.database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        partial = target.with_name(target.name + ".restoring")
        shutil.copyfile(copy, partial)
        _fsync(partial)
        partial.replace(target)
        return
    if shutil.which("pg_restore") is None:
        raise FileNotFoundError("pg_restore is needed (apt: postgresql-client)")
    plain = url.set(drivername="postgresql").render_as_string(False)
    subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={plain}",
            str(copy),
        ],
        check=True,
    )


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())
