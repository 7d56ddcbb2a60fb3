"""Backup of the whole archive into a folder, and its restore on a new machine
(docs/storage-importing.md, "Backup and restore").

``DIR`` holds, after each ``backup``:

- ``database/core-<time>.db|.pgdump`` (``.age`` when encrypted): a consistent copy of the
  database taken first (SQLite online backup API, ``pg_dump``), one per run;
- ``files/<folder>/<path>`` (``.age`` when encrypted): the storage area's files and the
  RIS's and report layouts' folders, copied only when not yet in ``DIR`` with that size
  (incremental), each written to a temporary name, fsynced, renamed;
- ``manifest.sqlite``: every file's size and SHA-256 (of its plain content) and every run.

Each file's row records the first and last run that saw it, so that ``restore`` brings back
the files that were there at the run restored (not those removed since: an emptied recycle
bin stays empty), with the newest run's database (or one named), checking every file
against the manifest as it copies it into the new data dir.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pyrage
from pyrage import x25519
from sqlalchemy import Engine

from core_server import backup, clock, db
from core_server.archive import Archive

FOLDERS = ("storage", "ris", "report_layouts")  # the data dir's folders of files to keep
CHUNK = 1 << 20
COMMIT_EVERY = 200  # copied files per manifest commit (one sync each)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    encrypted INTEGER NOT NULL, backed_up_at TEXT NOT NULL,
    first_run INTEGER NOT NULL, last_run INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, database TEXT NOT NULL, kind TEXT NOT NULL,
    database_sha256 TEXT NOT NULL, encrypted INTEGER NOT NULL,
    copied INTEGER NOT NULL, unchanged INTEGER NOT NULL, bytes INTEGER NOT NULL);
"""


@dataclass
class BackupReport:
    database: Path
    copied: int = 0
    unchanged: int = 0
    bytes: int = 0


@dataclass
class RestoreReport:
    database: Path
    files: int = 0
    bad: list[str] = field(default_factory=list)  # missing in DIR or not their checksum
    unindexed: int = 0  # storage files the restored database does not name
    missing: list[str] = field(default_factory=list)  # named by the database, not restored


def back_up(
    data_dir: Path, database_url: str, target: Path, recipients: list[x25519.Recipient]
) -> BackupReport:
    """Back the archive up into ``target`` (see the module's docstring)."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = clock.local().strftime("%Y%m%d-%H%M%S")
    suffix = ".db" if database_url.startswith("sqlite") else ".pgdump"
    copy = target / "database" / f"core-{stamp}{suffix}"
    kind = backup.database_copy(database_url, copy)
    digest = _sha256(copy)
    if recipients:
        copy = backup.encrypt(copy, recipients, kind)
    report = BackupReport(copy)
    encrypted = int(bool(recipients))
    with closing(_manifest(target)) as manifest:
        run_id = manifest.execute(
            "INSERT INTO runs (at, database, kind, database_sha256, encrypted, copied, unchanged,"
            " bytes) VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
            (clock.iso(clock.now()), str(copy.relative_to(target)), kind, digest, encrypted),
        ).lastrowid
        manifest.commit()  # a run cut short is seen as such: its counts stay 0
        for relative, source in _files(data_dir):
            size = source.stat().st_size
            known = manifest.execute(
                "SELECT size, encrypted FROM files WHERE path = ?", (relative,)
            ).fetchone()
            stored = target / "files" / (relative + (".age" if recipients else ""))
            if known == (size, encrypted) and stored.is_file():
                manifest.execute("UPDATE files SET last_run = ? WHERE path = ?", (run_id, relative))
                report.unchanged += 1
                continue
            sha = _copy(source, stored, recipients)
            manifest.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                (relative, size, sha, encrypted, clock.iso(clock.now()), run_id, run_id),
            )
            report.copied += 1
            report.bytes += size
            if report.copied % COMMIT_EVERY == 0:
                manifest.commit()  # a rerun after a crash skips what was committed
        manifest.execute(
            "UPDATE runs SET copied = ?, unchanged = ?, bytes = ? WHERE id = ?",
            (report.copied, report.unchanged, report.bytes, run_id),
        )
        manifest.commit()
    return report


def restore(
    source: Path,
    data_dir: Path,
    database_url: str,
    *,
    identity: Path | None = None,
    database: str | None = None,
    files_only: bool = False,
) -> RestoreReport:
    """Bring the archive in ``source`` back into ``data_dir`` and the database of
    ``database_url`` (no core running on them; an empty one, or it is replaced): the run's
    database and the files that were there at that run."""
    if not (source / "manifest.sqlite").is_file():
        raise backup.BackupError(f"{source}: no manifest.sqlite, not an archive backup")
    identities = backup.identities_of(identity) if identity else []
    with closing(sqlite3.connect(source / "manifest.sqlite")) as manifest:
        run = manifest.execute(
            "SELECT id, database, kind, database_sha256, encrypted FROM runs"
            + (" WHERE database = ?" if database else "")
            + " ORDER BY id DESC LIMIT 1",
            (database,) if database else (),
        ).fetchone()
        if run is None:
            raise backup.BackupError(f"{source}: no backup run {database or ''}")
        rows = manifest.execute(
            "SELECT path, sha256, encrypted FROM files WHERE first_run <= ? AND last_run >= ?",
            (run[0], run[0]),
        ).fetchall()
    stored_db = source / run[1]
    report = RestoreReport(stored_db)
    if not files_only:  # files only: the database came back another way (PITR)
        _put_database(stored_db, run, identities, data_dir, database_url)
    for relative, sha, encrypted in rows:
        stored = source / "files" / (relative + (".age" if encrypted else ""))
        try:
            got = _put_back(stored, data_dir / relative, identities if encrypted else None)
        except (OSError, pyrage.DecryptError):
            got = ""
        if got != sha:
            report.bad.append(relative)
            (data_dir / relative).unlink(missing_ok=True)
        else:
            report.files += 1
    _settle(data_dir, database_url, report)
    return report


def _put_database(
    stored_db: Path,
    run: tuple[object, ...],
    identities: list[x25519.Identity],
    data_dir: Path,
    database_url: str,
) -> None:
    plain = _database_plain(stored_db, str(run[3]), bool(run[4]), identities, data_dir)
    try:
        backup.database_restore(str(run[2]), plain, database_url)
    finally:
        if plain != stored_db:
            plain.unlink(missing_ok=True)


def _settle(data_dir: Path, database_url: str, report: RestoreReport) -> None:
    """Migrate the restored database to this version's schema and check it against the
    files: any it names that did not come back are reported; files it does not name (stored
    while the backup copied files, or in the recycle bin) are counted and left in place."""
    engine: Engine = db.make_engine(database_url)
    try:
        db.migrate(engine)
        found = Archive(engine, data_dir / "storage").verify()
    finally:
        engine.dispose()
    report.missing = found["missing"]
    report.unindexed = len(found["orphans"])


def _database_plain(
    stored: Path, sha: str, encrypted: bool, identities: list[x25519.Identity], data_dir: Path
) -> Path:
    if not encrypted:
        if _sha256(stored) != sha:
            raise backup.BackupError(f"{stored}: not its checksum in the manifest")
        return stored
    if not identities:
        raise backup.BackupError(f"{stored} is encrypted: give --identity KEYFILE")
    data_dir.mkdir(parents=True, exist_ok=True)
    plain = data_dir / (stored.name.removesuffix(".age") + ".restoring")
    with stored.open("rb") as source, plain.open("wb") as sink:
        pyrage.decrypt_io(source, sink, identities)
    if _sha256(plain) != sha:
        plain.unlink()
        raise backup.BackupError(f"{stored}: decrypted copy is not its checksum")
    return plain


def _files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """The data dir's files to keep, relative to it: the storage area without its incoming
    and hidden folders, the RIS's scans, the site's report layouts."""
    for folder in FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            inner = path.relative_to(root).parts
            if not path.is_file() or inner[0].startswith(".") or inner[0] == "incoming":
                continue
            if path.name.endswith((".part", ".tmp")):
                continue
            yield str(path.relative_to(data_dir)), path


def _copy(source: Path, stored: Path, recipients: list[x25519.Recipient]) -> str:
    """``source`` to ``stored`` (encrypted to ``recipients`` when given), durable when it
    returns; the plain content's SHA-256."""
    stored.parent.mkdir(parents=True, exist_ok=True)
    partial = stored.with_name(stored.name + ".part")
    with source.open("rb") as reader, partial.open("wb") as out:
        hashing = backup._Hashing(reader)
        if recipients:
            pyrage.encrypt_io(hashing, out, recipients)
        else:
            shutil.copyfileobj(hashing, out, CHUNK)  # type: ignore[misc]
        out.flush()
        os.fsync(out.fileno())
    partial.replace(stored)
    other = stored.with_name(stored.name.removesuffix(".age")) if recipients else None
    (other or stored.with_name(stored.name + ".age")).unlink(missing_ok=True)  # the old form
    return hashing.digest.hexdigest()


def _put_back(stored: Path, target: Path, identities: list[x25519.Identity] | None) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    digest = hashlib.sha256()
    with stored.open("rb") as source, partial.open("wb") as out:
        if identities is not None:
            pyrage.decrypt_io(source, out, identities)
        else:
            shutil.copyfileobj(source, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())
    with partial.open("rb") as check:
        while chunk := check.read(CHUNK):
            digest.update(chunk)
    partial.replace(target)
    return digest.hexdigest()


def _manifest(target: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(target / "manifest.sqlite")
    conn.executescript(_SCHEMA)
    return conn


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
