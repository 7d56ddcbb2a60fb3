"""Once in the cluster: a cluster-once ticker's round runs on one of two nodes; a lock by name
holds across connections; on SQLite every round simply runs."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, select

from core_server import db
from core_server.cluster import ClusterOnce, held
from core_server.cluster.tables import cluster_tickers
from core_server.periodic import Periodic


def test_a_scheduled_round_runs_on_one_of_two_nodes(pg_url: str) -> None:
    engines = [db.make_engine(pg_url) for _ in range(2)]  # two nodes: two pools
    ran: list[str] = []
    a, b = (
        Periodic("test-erase", 60.0, lambda n=n: ran.append(n), cluster=e)  # type: ignore[misc]
        for n, e in zip("ab", engines, strict=True)
    )
    for _ in range(3):  # three rounds fall due on both nodes at once
        a.run_once(scheduled=True)
        b.run_once(scheduled=True)
    assert ran == ["a"]  # once per interval in the cluster, not once per node
    b.run_once()  # a round asked for (a wake, by hand) runs when no other node holds it
    assert ran == ["a", "b"]
    with db.read(engines[0]) as conn:
        row = conn.execute(select(cluster_tickers)).one()
    assert row.name == "test-erase" and row.finished_at >= row.started_at
    for engine in engines:
        engine.dispose()


def test_a_node_skips_the_round_another_node_is_running(pg_url: str) -> None:
    engines = [db.make_engine(pg_url) for _ in range(2)]
    inside, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def long_round() -> None:
        ran.append("a")
        inside.set()
        release.wait(30)

    first = threading.Thread(target=ClusterOnce(engines[0], "test-check").run, args=(long_round,))
    first.start()
    assert inside.wait(30)
    assert ClusterOnce(engines[1], "test-check").run(lambda: ran.append("b")) is False
    release.set()
    first.join(30)
    assert ClusterOnce(engines[1], "test-check").run(lambda: ran.append("b")) is True
    assert ran == ["a", "b"]
    for engine in engines:
        engine.dispose()


def test_a_named_lock_waits_for_its_holder(pg_engine: Engine) -> None:
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with held(pg_engine, "archive-object:1.2.3"):
            order.append("first in")
            holding.set()
            release.wait(30)
            order.append("first out")

    def waiter() -> None:
        with held(pg_engine, "archive-object:1.2.3"):
            order.append("second in")

    one = threading.Thread(target=holder)
    one.start()
    assert holding.wait(30)
    two = threading.Thread(target=waiter)
    two.start()
    with held(pg_engine, "archive-object:4.5.6"):  # another name is free meanwhile
        order.append("other")
    release.set()
    one.join(30)
    two.join(30)
    assert order == ["first in", "other", "first out", "second in"]


def test_on_sqlite_every_round_runs(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    ran: list[int] = []
    ticker = Periodic("test-erase", 60.0, lambda: ran.append(1), cluster=engine)
    ticker.run_once(scheduled=True)
    ticker.run_once(scheduled=True)
    with held(engine, "anything"):
        ran.append(2)
    assert ran == [1, 1, 2]
    engine.dispose()
