"""The audit trail on both databases: recorded, filtered, paged, and append-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core_server import auth, db
from core_server.auth import audit


def _engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = db.make_engine(database_url)
    db.migrate(engine)
    return engine


def test_record_and_query_with_filters(database_url: str) -> None:
    engine = _engine(database_url)
    before = datetime.now(UTC) - timedelta(seconds=1)
    auth.record_audit(engine, username="admin", action="login.ok", address="10.0.0.5")
    auth.record_audit(engine, username=None, action="login.failed", target="nobody")
    auth.record_audit(
        engine,
        username="doc1",
        action="study.view",
        target="1.2.3",
        detail={"patient": "张三", "series": 2},
    )
    total, events = auth.query_audit(engine)
    assert total == 3
    assert [e.action for e in events] == ["study.view", "login.failed", "login.ok"]
    viewed = events[0]
    assert viewed.detail == {"patient": "张三", "series": 2}
    assert viewed.target == "1.2.3" and viewed.username == "doc1"
    assert viewed.at >= before and viewed.at.tzinfo is not None
    assert events[2].address == "10.0.0.5"
    assert auth.query_audit(engine, username="doc1")[0] == 1
    assert auth.query_audit(engine, action="login.")[0] == 2
    assert auth.query_audit(engine, action="login")[0] == 0
    assert auth.query_audit(engine, target="nobody")[1][0].username is None
    assert auth.query_audit(engine, since=datetime.now(UTC) + timedelta(minutes=1))[0] == 0
    assert auth.query_audit(engine, until=before)[0] == 0
    total, page = auth.query_audit(engine, limit=2, offset=2)
    assert total == 3 and [e.action for e in page] == ["login.ok"]


def test_record_joins_the_callers_transaction(database_url: str) -> None:
    engine = _engine(database_url)
    try:
        with db.write(engine) as conn:
            auth.record_audit(conn, username="admin", action="user.create", target="reg1")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert auth.query_audit(engine)[0] == 0  # rolled back with the change it described
    with db.write(engine) as conn:
        auth.record_audit(conn, username="admin", action="user.create", target="reg1")
    assert auth.query_audit(engine)[0] == 1


def test_the_module_offers_no_way_to_change_an_event() -> None:
    public = {name for name in dir(audit) if not name.startswith("_")}
    assert not {n for n in public if n.startswith(("update", "delete", "remove", "edit"))}
    assert {"record_audit", "query_audit"} <= public
    source = Path(audit.__file__).read_text(encoding="utf-8")
    assert "update(" not in source and "delete(" not in source
