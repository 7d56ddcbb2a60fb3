"""The bus across two nodes on one PostgreSQL: crossing topics reach the other node's fan-out
subscribers only, once, in order; a killed LISTEN session loses nothing; old rows pruned."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text

from core_server import clock, db
from core_server.cluster import Relay
from core_server.cluster.tables import cluster_events
from core_server.events import EventBus

TOPIC = "test.shown"


class Heard:
    """What a subscriber heard, and a wait for it."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def __call__(self, _topic: str, payload: dict[str, Any]) -> None:
        with self._changed:
            self.payloads.append(payload)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.payloads) >= count, timeout)
        return list(self.payloads)


class Node:
    def __init__(self, url: str, name: str) -> None:
        self.engine = db.make_engine(url)
        self.bus = EventBus()
        self.relay = Relay(self.engine, self.bus, node=name)
        self.shown, self.domain = Heard(), Heard()
        self.bus.subscribe(TOPIC, self.shown, remote=True)
        self.bus.subscribe(TOPIC, self.domain)  # forwarding, audit...: this node's only

    def close(self) -> None:
        self.relay.stop()
        self.engine.dispose()


@pytest.fixture
def nodes(pg_url: str) -> Iterator[tuple[Node, Node]]:
    a, b = Node(pg_url, "node-a"), Node(pg_url, "node-b")
    a.relay.start()
    b.relay.start()
    yield a, b
    a.close()
    b.close()


def test_an_event_reaches_the_fan_out_subscribers_of_the_other_node_only(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    a.bus.publish(TOPIC, {"n": 1, "name": "张三", "at": clock.now()})
    assert [p["n"] for p in b.shown.wait_for(1)] == [1]
    assert b.shown.payloads[0]["name"] == "张三"  # JSON on the way, Chinese kept
    # A's own subscribers heard it once, from the bus (not again from the relay).
    b.bus.publish(TOPIC, {"n": 2})
    a.shown.wait_for(2)
    assert [p["n"] for p in a.shown.payloads] == [1, 2]
    assert [p["n"] for p in a.domain.payloads] == [1]  # B's event ran no domain work on A
    assert [p["n"] for p in b.domain.payloads] == [2]
    # A topic with no remote subscriber stays on its node.
    a.bus.publish("test.local", {"n": 3})
    with db.read(a.engine) as conn:
        topics = conn.execute(select(cluster_events.c.topic)).scalars().all()
    assert sorted(topics) == [TOPIC, TOPIC]


def test_events_published_while_the_listen_session_is_gone_all_arrive(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    a.bus.publish(TOPIC, {"n": 0})
    b.shown.wait_for(1)
    pid = b.relay.listener_pid
    with a.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        conn.commit()
    for n in range(1, 21):
        a.bus.publish(TOPIC, {"n": n})
    heard = b.shown.wait_for(21)
    assert [p["n"] for p in heard] == list(range(21))  # each once, in order
    assert b.relay.reconnects >= 1 and b.relay.listener_pid != pid


def test_rows_older_than_an_hour_are_pruned(pg_engine: Engine) -> None:
    relay = Relay(pg_engine, EventBus(), node="pruner")
    old = clock.now() - timedelta(hours=2)
    with db.write(pg_engine) as conn:
        for at in (old, clock.now()):
            conn.execute(
                insert(cluster_events).values(node="x", topic=TOPIC, payload="{}", created_at=at)
            )
    assert relay.prune() == 1
    with db.read(pg_engine) as conn:
        assert conn.execute(select(func.count()).select_from(cluster_events)).scalar() == 1


def test_on_sqlite_nothing_is_relayed(tmp_path: Any) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    bus = EventBus()
    heard = Heard()
    bus.subscribe(TOPIC, heard, remote=True)
    relay = Relay(engine, bus)
    relay.start()
    bus.publish(TOPIC, {"n": 1})
    assert heard.payloads == [{"n": 1}] and bus.outward is None
    with db.read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(cluster_events)).scalar() == 0
    relay.stop()
    engine.dispose()
