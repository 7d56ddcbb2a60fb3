"""Three cores behind HAProxy on one PostgreSQL and one shared storage folder; one is killed
-9 in the middle of a load of C-STORE, HL7 orders and queue calls, and restarted.

What must hold (issue 16, "Failure"): every object and message that was acknowledged is there
exactly once; every queue event reaches the screens (one on HAProxy, one on a node that is not
killed); every HL7 status message (a durable job) reaches the HIS exactly once; HAProxy marks
the dead node down in every backend and sends it nothing until it is back. The senders retry
as real ones do (tests/cluster/load.py): an association or MLLP connection that was on the
killed node fails, and is sent again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hl7
import psycopg
import pytest

from tests.cluster.harness import Cluster, wait_for
from tests.cluster.load import Caller, Display, His, Modality
from tests.core_server.hl7.mllp import HisListener
from tests.postgres import Cluster as Postgres

QUEUE_SETUP = (
    ("/api/queueing/queues", {"code": "US", "name": "超声", "department": "超声科",
                              "modality": "US", "prefix": "US"}),
    ("/api/queueing/rooms", {"code": "US1", "name": "超声一室", "queues": ["US"],
                             "min_call_interval_seconds": 0}),
    ("/api/queueing/screens", {"code": "HALL", "name": "候诊大厅", "queues": ["US"]}),
)  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path, postgres: Postgres) -> Iterator[Cluster]:
    running = Cluster(tmp_path, postgres.new_database())
    try:
        yield running.start()
    finally:
        running.stop()


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute(query).fetchall()


def set_up(cluster: Cluster, his_port: int) -> str:
    """Queue, room, screen, a screen device (its key) and the HIS destination, via HAProxy."""
    with cluster.admin() as admin:
        for path, body in QUEUE_SETUP:
            assert admin.post(path, json=body).status_code == 201
        answer = admin.post(
            "/api/hl7/destinations",
            json={"name": "HIS", "host": "127.0.0.1", "port": his_port, "retry_base_seconds": 1},
        )
        assert answer.status_code == 201, answer.text
        device = {"name": "hall-screen", "kind": "screen", "screen": "HALL"}
        answer = admin.post("/api/queueing/devices", json=device)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])


def progress(senders: list[Modality | His | Caller]) -> list[int]:
    return [
        len(s.stored) if isinstance(s, Modality) else len(s.acknowledged)
        if isinstance(s, His) else s.done
        for s in senders
    ]  # fmt: skip


def wait_progress(senders: list[Modality | His | Caller], more: int) -> None:
    """Until every sender got ``more`` further acknowledgements (so each one worked)."""
    start = progress(senders)

    def done() -> bool:
        for sender in senders:
            if sender.error is not None:
                raise AssertionError(f"{sender.name} failed") from sender.error
        return all(n >= s + more for n, s in zip(progress(senders), start, strict=True))

    try:
        wait_for(done, f"{more} more acknowledgements from every sender", timeout=120)
    except AssertionError as exc:
        exc.add_note(f"progress {start} -> {progress(senders)}")
        raise


def test_kill_one_of_three_nodes_under_load(cluster: Cluster, tmp_path: Path) -> None:
    proxy = cluster.haproxy
    victim, _, witness = cluster.nodes
    with HisListener() as his_listener:
        key = set_up(cluster, his_listener.port)
        displays = [
            Display(url.replace("http", "ws") + "/api/ws", key).start()
            for url in (proxy.url, witness.url)  # through HAProxy; on a node left alive
        ]
        wait_for(lambda: all(d.first_seq is not None for d in displays), "the screens")
        modalities = [Modality(f"MOD{i}", "127.0.0.1", proxy.ports.dicom) for i in (1, 2, 3)]
        his = His("HIS", "127.0.0.1", proxy.ports.hl7)
        with cluster.admin() as api:
            caller = Caller("CALLER", api, his)
            senders: list[Modality | His | Caller] = [*modalities, his, caller]
            for sender in senders:
                sender.start()
            wait_progress(senders, 3)

            victim.kill()
            cluster.wait_status(victim, "DOWN", timeout=30)
            while_down = proxy.sessions(victim.name)
            wait_progress(senders, 3)  # the other two carry the whole load
            assert proxy.sessions(victim.name) == while_down  # nothing sent to the dead node

            victim.start().wait_healthy()
            cluster.wait_status(victim, "UP")
            wait_progress(senders, 3)
            for sender in senders:
                sender.stop()
        assert proxy.sessions(victim.name)["pacs_dicom"] > while_down["pacs_dicom"]  # back

        check_objects(cluster, modalities)
        check_orders(cluster, his)
        check_events(cluster, displays)
        check_outbound(cluster, his_listener)
    assert sum(s.failures for s in senders) > 0  # the kill did hit something in flight


def check_objects(cluster: Cluster, modalities: list[Modality]) -> None:
    url = cluster.nodes[0].database_url
    stored = [uid for m in modalities for uid in m.stored]
    assert len(stored) == len(set(stored))
    counts = dict(rows(url, "SELECT sop_instance_uid, count(*) FROM instances GROUP BY 1"))
    assert {uid: counts.get(uid) for uid in stored} == {uid: 1 for uid in stored}
    with cluster.admin() as api:  # QIDO through HAProxy sees each study whole, on any node
        for modality in modalities:
            answer = api.get(f"/dicom-web/studies/{modality.study_uid}/instances")
            assert answer.status_code == 200
            found = {i["00080018"]["Value"][0] for i in answer.json()}
            assert set(modality.stored) <= found


def check_orders(cluster: Cluster, his: His) -> None:
    url = cluster.nodes[0].database_url
    messages = Counter(
        dict(rows(url, "SELECT control_id, count(*) FROM hl7_inbound_messages GROUP BY 1"))
    )
    exams = Counter(dict(rows(url, "SELECT accession_number, count(*) FROM ris_exams GROUP BY 1")))
    for control_id, accession in his.acknowledged:
        assert (messages[control_id], exams[accession]) == (1, 1), control_id


def check_events(cluster: Cluster, displays: list[Display]) -> None:
    url = cluster.nodes[0].database_url
    ((newest,),) = rows(url, "SELECT max(seq) FROM queueing_events")
    for display in displays:
        wait_for(lambda d=display: d.seen and d.seen[-1] >= newest, "the screen's last event")  # type: ignore[misc]
        display.stop()
        assert display.first_seq is not None and display.resyncs == 0
        assert display.seen == list(range(display.first_seq + 1, newest + 1))


def check_outbound(cluster: Cluster, his_listener: HisListener) -> None:
    url = cluster.nodes[0].database_url

    def all_sent() -> bool:
        return rows(url, "SELECT count(*) FROM hl7_outbound_jobs WHERE status <> 'sent'") == [(0,)]

    wait_for(all_sent, "every status message delivered", timeout=120)
    jobs = [r[0] for r in rows(url, "SELECT control_id FROM hl7_outbound_jobs")]
    received = Counter(
        str(hl7.parse(m.decode("utf-8", "replace"))["MSH.F10"]) for m in his_listener.messages
    )
    assert jobs and received == Counter(jobs)  # each exactly once
