"""The forwarding migration creates exactly the tables the forwarding part declares, on SQLite
and PostgreSQL; the queue claims one study's tasks as a batch and dead-letters after N tries."""

from __future__ import annotations

from datetime import timedelta

from core_server import db
from core_server.jobs import Retry
from core_server.storage.forwarding import config, queue, tables
from tests.migrations import schema_differences


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    names = {
        t.name
        for t in (
            tables.forwarding_destinations,
            tables.forwarding_rules,
            tables.forwarding_tasks,
            tables.forwarding_reports,
        )
    }
    assert schema_differences(database_url, names) == []


def test_batch_claim_and_dead_letter(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        d = config.save_destination(
            engine, config.Destination("pacs", "dicom", "PACS", "127.0.0.1", 11112)
        )
        items = [queue.Item(d.id, f"1.2.{n}", "1.2.840.10008.5.1.4.1.1.2", "9.9") for n in range(3)]
        items.append(queue.Item(d.id, "1.3.1", "1.2.840.10008.5.1.4.1.1.2", "9.8"))
        assert queue.enqueue(engine, items) == 4
        assert queue.enqueue(engine, items[:1]) == 0  # already waiting
        batch = queue.claim_batch(engine, "w1", timedelta(seconds=60), 10)
        assert sorted(t.sop_instance_uid for t in batch) == ["1.2.0", "1.2.1", "1.2.2"]
        retry = Retry(0.0, 0.0, max_attempts=1)
        assert queue.record(engine, batch[0], "w1", retry, status="failed", error="down") == "dead"
        assert queue.record(engine, batch[1], "w1", retry, status=queue.SENT) == queue.SENT
        assert queue.requeue(engine, batch[0].id)
        counts = {(s["status"]): s["count"] for s in queue.sizes(engine)}
        assert counts == {"pending": 2, "running": 1, "sent": 1}
    finally:
        engine.dispose()
