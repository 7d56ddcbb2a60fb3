"""Encrypted backups: `core-server db backup --encrypt-to` writes only age ciphertext and a
manifest (no plaintext copy left), `db decrypt` with the private key gives back a database
that holds what was backed up; the wrong key and a bad public key are refused (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519

from core_server import auth, cli, db


def _keys(tmp_path: Path) -> tuple[str, Path]:
    identity = x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# created for the test\n{identity}\n")
    return str(identity.to_public()), key_file


def test_encrypted_backup_round_trip(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    options = ["--data-dir", str(data), "--database-url", database_url]
    engine = db.make_engine(database_url)
    db.migrate(engine)
    auth.record_audit(engine, username="before-backup", action="login.ok")
    engine.dispose()
    public, key_file = _keys(tmp_path)
    target = tmp_path / "out" / "core.bak"
    assert cli.main(["db", "backup", str(target), "--encrypt-to", public, *options]) == 0
    encrypted = target.with_name("core.bak.age")
    assert not target.exists()  # no plaintext copy left behind
    assert encrypted.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert b"before-backup" not in encrypted.read_bytes()
    manifest = json.loads(encrypted.with_name("core.bak.age.manifest.json").read_text())
    assert manifest["recipients"] == [public]
    assert manifest["kind"] == ("sqlite" if database_url.startswith("sqlite") else "pg_dump")

    plain = tmp_path / "restored"
    code = cli.main(["db", "decrypt", str(encrypted), "--identity", str(key_file),
                     "--out", str(plain), *options])  # fmt: skip
    assert code == 0
    if database_url.startswith("sqlite"):
        with sqlite3.connect(plain) as conn:
            names = [r[0] for r in conn.execute("select username from audit_events")]
    else:  # a pg_dump custom archive: its data section lists the rows
        names = subprocess.run(
            ["pg_restore", "--data-only", "--table=audit_events", "-f", "-", str(plain)],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
    assert "before-backup" in names


def test_wrong_key_and_bad_public_key_are_refused(tmp_path: Path) -> None:
    options = ["--data-dir", str(tmp_path / "data")]
    public, _mine = _keys(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = _keys(other)
    target = tmp_path / "core.bak"
    assert cli.main(["db", "backup", str(target), "--encrypt-to", public, *options]) == 0
    encrypted = tmp_path / "core.bak.age"
    assert cli.main(["db", "decrypt", str(encrypted), "--identity", str(wrong_key), *options]) == 2
    assert not target.exists()
    assert cli.main(["db", "backup", str(target), "--encrypt-to", "age1nonsense", *options]) == 2


@pytest.mark.parametrize("setting", ["CORE_BACKUP_RECIPIENTS"])
def test_the_setting_encrypts_without_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    public, _key_file = _keys(tmp_path)
    monkeypatch.setenv(setting, public)
    target = tmp_path / "core.bak"
    assert cli.main(["db", "backup", str(target), "--data-dir", str(tmp_path / "data")]) == 0
    assert (tmp_path / "core.bak.age").is_file() and not target.exists()
