"""The administrator's command line: users, modalities, database maintenance, import."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core_server import auth, db
from core_server.auth import signin
from core_server.cli import main
from tests.dicom_data import make_ct, testdata, write


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_users(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = f"--data-dir={tmp_path}"
    assert (
        run(capsys, "users", "add", "li.hua", "registrar", "--password=pass-word-1", data)[0] == 0
    )
    code, out = run(capsys, "users", "list", data)
    assert code == 0 and "li.hua\tregistrar\tactive" in out
    code, out = run(capsys, "users", "add", "li.hua", "registrar", "--password=pass-word-1", data)
    assert code == 2 and "exists already" in out
    assert run(capsys, "users", "passwd", "li.hua", "--password=short", data)[0] == 2
    assert run(capsys, "users", "passwd", "li.hua", "--password=long-enough-2", data)[0] == 0


def test_modalities(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = f"--data-dir={tmp_path}"
    assert (
        run(capsys, "modality", "add", "US01", "192.0.2.7", "104", "--no-allow-query", data)[0] == 0
    )
    code, out = run(capsys, "modality", "list", data)
    assert code == 0
    assert '"ae_title": "US01"' in out and '"allow_query": false' in out
    assert run(capsys, "modality", "add", "US01", "192.0.2.7", "104", data)[0] == 2
    assert run(capsys, "modality", "add", "BAD\\AE", "h", "104", data)[0] == 2
    assert (
        run(capsys, "modality", "update", "US01", "--peer-port=11112", "--allow-query", data)[0]
        == 0
    )
    _code, out = run(capsys, "modality", "list", data)
    assert '"port": 11112' in out and '"allow_query": true' in out
    assert run(capsys, "modality", "remove", "US01", data)[0] == 0
    assert run(capsys, "modality", "remove", "US01", data)[0] == 2


def test_import_folder_dicomdir_and_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = f"--data-dir={tmp_path / 'data'}"
    media = tmp_path / "cd"
    shutil.copytree(testdata("DICOMDIR").parent, media / "dicomdirtests")
    write(make_ct(patient_id="IMP1"), media / "loose")
    (media / "loose" / "readme.txt").write_text("not DICOM")
    code, out = run(
        capsys, "import", str(media / "dicomdirtests" / "DICOMDIR"), str(media / "loose"), data
    )
    assert code == 1  # the text file is reported as failed, the rest is stored
    assert "readme.txt" in out and "failed 1" in out
    stored = int(out.split("stored ")[1].split(",")[0])
    assert stored >= 30  # the DICOMDIR's referenced images and the loose CT
    code, out = run(capsys, "import", str(media / "loose"), data)
    assert "stored 0, already present 1" in out


def test_db_check_finds_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = f"--data-dir={tmp_path}"
    folder = tmp_path / "in"
    for number in (1, 2):
        write(make_ct(instance_number=number), folder)
    assert run(capsys, "import", str(folder), data)[0] == 0
    code, out = run(capsys, "db", "check", data)
    assert code == 0 and "missing: 0" in out and "orphans: 0" in out
    victim = next((tmp_path / "storage").rglob("*.dcm"))
    victim.unlink()
    code, out = run(capsys, "db", "check", data)
    assert code == 1 and "missing: 1" in out


def test_backup_on_each_backend(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = (f"--data-dir={tmp_path}", f"--database-url={database_url}")
    assert run(capsys, "modality", "add", "CT01", "192.0.2.1", "104", *options)[0] == 0
    target = tmp_path / "backup.out"
    code, _out = run(capsys, "db", "backup", str(target), *options)
    assert code == 0 and target.stat().st_size > 0
    if database_url.startswith("sqlite"):
        copy = sqlite3.connect(target)
        assert copy.execute("select ae_title from modalities").fetchall() == [("CT01",)]
    else:
        listing = subprocess.run(
            ["pg_restore", "--list", str(target)], capture_output=True, text=True
        )
        assert "TABLE public modalities" in listing.stdout


def _fail_sign_ins(engine: Engine, username: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(auth.WrongPassword):
            auth.sign_in(engine, username, "wrong-guess-1", 1, address="10.0.0.9", via="test")


def test_the_console_lifts_a_sign_in_backoff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever hammers the last administrator's account, the console lets them back in:
    ``users unlock`` lifts the wait, and so does ``users passwd`` (as docs/web.md says)."""
    data = f"--data-dir={tmp_path}"
    assert run(capsys, "users", "add", "boss", "admin", "--password=boss-pass-1", data)[0] == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    _fail_sign_ins(engine, "boss", signin.ACCOUNT_FREE_FAILURES)
    assert signin.account_wait(engine, "boss") > 0
    with pytest.raises(auth.SignInThrottled):
        auth.sign_in(engine, "boss", "boss-pass-1", 1, via="test")
    code, out = run(capsys, "users", "unlock", "boss", data)
    assert code == 0 and "lifted" in out
    assert signin.account_wait(engine, "boss") == 0
    auth.sign_in(engine, "boss", "boss-pass-1", 1, via="test")

    _fail_sign_ins(engine, "boss", signin.ACCOUNT_FREE_FAILURES)
    assert run(capsys, "users", "passwd", "boss", "--password=boss-pass-2", data)[0] == 0
    assert signin.account_wait(engine, "boss") == 0
    auth.sign_in(engine, "boss", "boss-pass-2", 1, via="test")
    _total, events = auth.query_audit(engine, action="user.unlock")
    assert [e.address for e in events] == ["console", "console"]
    assert run(capsys, "users", "unlock", "nobody", data)[0] == 2


def test_the_console_keeps_the_password_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = f"--data-dir={tmp_path}"
    for weak in ("password", "12345678", "        ", "Password1"):
        code, out = run(capsys, "users", "add", "li", "registrar", f"--password={weak}", data)
        assert code == 2 and "error:" in out, weak
    code, out = run(capsys, "users", "add", "li", "registrar", "--password=li", data)
    assert code == 2 and "at least 8 characters" in out
    strict = "--password-min-length=14"
    code, out = run(
        capsys, "users", "add", "li", "registrar", "--password=pass-word-1", data, strict
    )
    assert code == 2 and "at least 14 characters" in out
    assert run(capsys, "users", "add", "li", "registrar", "--password=pass-word-1", data)[0] == 0
    code, out = run(capsys, "users", "passwd", "li", "--password=li123", data)
    assert code == 2


def test_every_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Every option's help comes from its setting's description; one with a % in it made
    ``core-server serve --help`` crash (argparse formats help texts)."""
    for argv in (["--help"], ["serve", "--help"], ["users", "add", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
    shown = capsys.readouterr().out
    assert "--alert-disk-percent" in shown and "(%)" in shown and "CORE_METRICS_TOKEN" in shown
