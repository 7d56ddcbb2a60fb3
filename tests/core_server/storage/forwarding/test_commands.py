"""``core-server storage forwarding {list,requeue,apply}`` on a data dir (SQLite and
PostgreSQL): apply queues a rule's stored objects once, list shows the destinations (no
secret), rules, queue sizes and a dead task's last error, requeue brings one task or every
dead one back; wrong use says what is wrong."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydicom.uid import generate_uid
from sqlalchemy import Engine

from core_server import cli, db
from core_server.archive import Archive, Origin
from core_server.jobs import Retry
from core_server.settings import Settings
from core_server.storage.forwarding import config, queue
from tests.dicom_data import encode, make_ct


def _dead(engine: Engine, destination_id: int, error: str) -> int:
    """The destination's next task, its last try failed for good."""
    lease = timedelta(minutes=5)
    (task,) = queue.claim_batch(engine, "test", lease, 1, destinations=[destination_id])
    final = Retry(first=1, longest=1, max_attempts=1)
    queue.record(engine, task, "test", final, status="failed", error=error)
    return task.id


def test_forwarding_commands(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    options = ["--data-dir", str(data), "--database-url", database_url]
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, Settings(data_dir=data).storage_dir)
    study = generate_uid()
    for n, modality in enumerate(["CT", "CT", "MR"], start=1):
        ds = make_ct(study_uid=study, instance_number=n, modality=modality)
        archive.store_instance(encode(ds), Origin("dimse", "CT01"))
    peer = config.save_destination(
        engine,
        config.Destination("云平台", "stow", url="https://cloud.example/studies", auth="bearer",
                           token="s3cret-token"),
    )  # fmt: skip
    rule = config.save_rule(engine, config.Rule("CT 上云", peer.id, modality="CT"))

    def run(*words: str) -> object:
        assert cli.main(["storage", "forwarding", *words, *options]) == 0
        return json.loads(capsys.readouterr().out)

    assert run("apply", str(rule.id)) == {"rule": rule.id, "queued": 2}
    assert run("apply", str(rule.id)) == {"rule": rule.id, "queued": 0}  # already waiting
    dead = _dead(engine, peer.id, "HTTP 503 from https://cloud.example/studies")
    listing = run("list", "--tasks", "dead")
    assert isinstance(listing, dict)
    assert listing["destinations"][0]["name"] == "云平台"
    assert "s3cret-token" not in json.dumps(listing)
    assert listing["rules"][0]["modality"] == "CT"
    counts = {s["status"]: s["count"] for s in listing["queue"]}
    assert counts == {"pending": 1, "dead": 1}
    assert [(t["id"], t["last_error"]) for t in listing["tasks"]] == [
        (dead, "HTTP 503 from https://cloud.example/studies")
    ]
    assert run("requeue", str(dead)) == {"requeued": 1}
    _dead(engine, peer.id, "refused")
    _dead(engine, peer.id, "refused")
    assert run("requeue", "--dead", "--destination", str(peer.id)) == {"requeued": 2}
    assert len(run("list", "--tasks", "all")["tasks"]) == 2  # type: ignore[index]

    for wrong, said in [
        (["requeue"], "give a TASK_ID or --dead"),
        (["requeue", "999"], "no dead or waiting task 999"),
        (["apply"], "give the RULE_ID"),
        (["apply", "999"], "Forwarding rule 999 does not exist"),
        (["list", "--tasks", "lost"], "--tasks: one of"),
    ]:
        with pytest.raises(SystemExit, match=said):
            cli.main(["storage", "forwarding", *wrong, *options])
    engine.dispose()
