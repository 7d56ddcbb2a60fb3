"""``core-server storage copy|check|recall`` on an archive in a data dir (SQLite and
PostgreSQL): a study copied to a second folder with its online files dropped, the check
finding and repairing a corrupt one, the study recalled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core_server import cli, db
from core_server.archive import Archive, copies
from core_server.archive.areas import AreaSpec
from core_server.settings import Settings
from tests.core_server.storage.tiers.conftest import store_study


def test_copy_check_and_recall_commands(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    options = ["--data-dir", str(data), "--database-url", database_url]
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, Settings(data_dir=data).storage_dir)
    study, objects = store_study(archive, 3)
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas")))

    assert cli.main(["storage", "copy", study, "nas", "--drop-online", *options]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "copied_verified": 3,
        "online_dropped": 3,
    }
    assert copies.not_online(engine, objects) == set(objects)

    assert cli.main(["storage", "recall", study, *options]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"recalled": 3}
    uid = next(iter(objects))
    (answer,) = archive.find("IMAGE", {"SOPInstanceUID": uid})
    online = archive.storage.absolute(answer["_path"])
    online.write_bytes(b"\0" * online.stat().st_size)

    assert cli.main(["storage", "check", "--full", *options]) == 1  # found, not repaired
    report = json.loads(capsys.readouterr().out)
    assert [(p["sop_instance_uid"], p["kind"]) for p in report["problems"]] == [
        (uid, "online_corrupt")
    ]
    assert cli.main(["storage", "check", "--full", "--repair", *options]) == 0
    capsys.readouterr()
    assert online.read_bytes() == objects[uid]
    engine.dispose()
