"""``core-server storage rules [--dry-run | --run]`` on a data dir (SQLite and PostgreSQL):
the dry run counts and changes nothing, --run copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core_server import cli, db
from core_server.archive import Archive, copies
from core_server.archive.areas import AreaSpec
from core_server.settings import Settings
from core_server.storage.tiers import rules
from tests.core_server.storage.tiers.conftest import store_study


def test_rules_dry_run_and_run_commands(
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
    body = {"name": "all to nas", "action": "copy", "area": "nas"}
    rules.create(engine, rules.rule_from(body, archive.areas), "admin")

    assert cli.main(["storage", "rules", "--dry-run", *options]) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    assert answer["dry_run"]["instances"] == 3
    assert answer["dry_run"]["first"][0]["study_instance_uid"] == study
    assert copies.copies_of_many(engine, objects) == {}

    assert cli.main(["storage", "rules", "--run", *options]) == 0
    assert json.loads(capsys.readouterr().out) == {"made": 3, "done": 3}
    assert all(c[0].verified for c in copies.copies_of_many(engine, objects).values())
    engine.dispose()
