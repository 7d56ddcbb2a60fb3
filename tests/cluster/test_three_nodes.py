"""Three cores behind HAProxy on one PostgreSQL and one shared storage folder; one is killed
-9 in the middle of a load of C-STORE, HL7 orders and queue calls, and restarted.

What must hold (issue 16, "Failure"): every object and message that was acknowledged is there
exactly once; every queue event reaches the screens (one on HAProxy, one on a node that is not
killed); every HL7 status message (a durable job) reaches the HIS exactly once; HAProxy marks
the dead node down in every backend and sends it nothing until it is back. The senders retry
as real ones do (tests/cluster/load.py): an association or MLLP connection that was on the
killed node fails, and is sent again. A status message the killed node was sending (its claim
held: the HIS had not answered) is taken over and delivered by another node before the killed
node comes back (docs/cluster-state.md, "Take-over")."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hl7
import httpx
import psycopg
import pytest

from core_server import db
from core_server.hl7 import outbound
from core_server.updates.signing import SigningKey, init_key
from core_server.updates.store import UpdateStore
from tests.cluster.harness import Cluster, CoreNode, wait_for
from tests.cluster.load import Caller, Display, His, HoldingHis, Modality, find_instances
from tests.core_server.hl7.mllp import HisListener
from tests.core_server.updates.helpers import update_folder
from tests.postgres import Cluster as Postgres

# One cluster for both tests: under `pytest -n 2 --dist loadgroup` they stay on one worker.
pytestmark = pytest.mark.xdist_group("cluster")

QUEUE_SETUP = (
    ("/api/queueing/queues", {"code": "US", "name": "超声", "department": "超声科",
                              "modality": "US", "prefix": "US"}),
    ("/api/queueing/rooms", {"code": "US1", "name": "超声一室", "queues": ["US"],
                             "min_call_interval_seconds": 0}),
    ("/api/queueing/screens", {"code": "HALL", "name": "候诊大厅", "queues": ["US"]}),
)  # fmt: skip


@dataclass
class Site:
    """The running cluster, the HIS's listener its status messages go to, a screen's key."""

    cluster: Cluster
    his: HisListener
    screen_key: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Site]:
    running = Cluster(tmp_path_factory.mktemp("cluster"), postgres.new_database())
    try:
        running.start()
        with HisListener() as his:
            yield Site(running, his, set_up(running, his.port))
    finally:
        running.stop()


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute(query).fetchall()


def set_up(cluster: Cluster, his_port: int) -> str:
    """Queue, room, screen, a screen device (its key), the HIS destination and the C-FIND
    checker's AE title, via HAProxy."""
    with cluster.admin() as admin:
        for path, body in QUEUE_SETUP:
            assert admin.post(path, json=body).status_code == 201
        answer = admin.post(
            "/api/hl7/destinations",
            json={"name": "HIS", "host": "127.0.0.1", "port": his_port, "retry_base_seconds": 1},
        )
        assert answer.status_code == 201, answer.text
        # The checker's C-FIND: an unregistered AE title may only store.
        checker = {"ae_title": "CHECKER", "host": "127.0.0.1", "port": 104}
        assert admin.post("/api/modalities", json=checker).status_code == 201
        device = {"name": "hall-screen", "kind": "screen", "screen": "HALL"}
        answer = admin.post("/api/queueing/devices", json=device)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])


class Load:
    """Three modalities, a HIS, a caller (all through HAProxy) and two screens: one through
    HAProxy, one on ``screen_node`` directly."""

    def __init__(self, site: Site, tag: str, screen_node: CoreNode) -> None:
        proxy = site.cluster.haproxy
        self.displays = [
            Display(url.replace("http", "ws") + "/api/ws", site.screen_key).start()
            for url in (proxy.url, screen_node.url)
        ]
        wait_for(lambda: all(d.first_seq is not None for d in self.displays), "the screens")
        self.modalities = [
            Modality(f"{tag}M{i}", "127.0.0.1", proxy.ports.dicom) for i in (1, 2, 3)
        ]
        self.his = His(f"{tag}H", "127.0.0.1", proxy.ports.hl7)
        self.api = site.cluster.admin()
        self.caller = Caller(f"{tag}C", self.api, self.his)
        self.senders: list[Modality | His | Caller] = [*self.modalities, self.his, self.caller]
        for sender in self.senders:
            sender.start()

    def progress(self) -> list[int]:
        return [
            len(s.stored) if isinstance(s, Modality) else len(s.acknowledged)
            if isinstance(s, His) else s.done
            for s in self.senders
        ]  # fmt: skip

    def failures(self) -> dict[str, int]:
        return {s.name: s.failures for s in self.senders}

    def wait(self, more: int, only: tuple[type, ...] = (Modality, His, Caller)) -> None:
        """Until every sender (of the kinds ``only``) got ``more`` further acknowledgements."""
        start = self.progress()

        def done() -> bool:
            for sender in self.senders:
                if sender.error is not None:
                    raise AssertionError(f"{sender.name} failed") from sender.error
            return all(
                n >= s + more
                for sender, n, s in zip(self.senders, self.progress(), start, strict=True)
                if isinstance(sender, only)
            )

        try:
            wait_for(done, f"{more} more acknowledgements from every sender", timeout=120)
        except AssertionError as exc:
            exc.add_note(f"progress {start} -> {self.progress()}")
            raise

    def stop_and_check(self, site: Site) -> None:
        for sender in self.senders:
            sender.stop()
        self.api.close()
        check_objects(site.cluster, self.modalities)
        check_orders(site.cluster, self.his)
        check_events(site.cluster, self.displays)
        check_outbound(site.cluster, site.his)


def hold_a_job(cluster: Cluster, held: HisListener) -> tuple[CoreNode, int]:
    """A status message to a HIS that does not answer it: the node whose sender claimed it
    (and holds the claim, its lease 20 minutes) and the job's id."""
    with cluster.admin() as admin:
        # Critical values only: the load's status messages do not go to this HIS.
        destination = {"name": "HELD", "host": "127.0.0.1", "port": held.port,
                       "purposes": "critical_values", "ack_timeout_seconds": 600,
                       "retry_base_seconds": 1}  # fmt: skip
        assert admin.post("/api/hl7/destinations", json=destination).status_code == 201
    engine = db.make_engine(cluster.nodes[0].database_url)
    try:
        job_id = outbound.enqueue(
            engine, "HELD", "MSH|^~\\&|PACS||HIS||||ORM^O01|HELD-0001|P|2.3.1\rPID|1||P1\r"
        )
    finally:
        engine.dispose()
    query = f"SELECT claimed_by FROM hl7_outbound_jobs WHERE id = {job_id} AND status = 'sending'"
    wait_for(lambda: held.messages and rows(cluster.nodes[0].database_url, query), "the claim")
    ((owner,),) = rows(cluster.nodes[0].database_url, query)
    pid = int(owner.split(":")[1])  # jobs.owners: host:pid:start:nonce
    (holder,) = [n for n in cluster.nodes if n.process is not None and n.process.pid == pid]
    return holder, job_id


def test_kill_one_of_three_nodes_under_load(site: Site) -> None:
    cluster, proxy = site.cluster, site.cluster.haproxy
    url = cluster.nodes[0].database_url
    held = HoldingHis().start()
    victim, held_job = hold_a_job(cluster, held)  # the node killed is the one holding it
    witness = next(n for n in cluster.nodes if n is not victim)
    load = Load(site, "K", screen_node=witness)
    load.wait(2)

    victim.kill()
    killed = time.monotonic()
    cluster.wait_status(victim, "DOWN", timeout=30)
    marked_down = time.monotonic() - killed
    while_down = proxy.sessions(victim.name)
    failed_before = load.failures()
    # The other two carry the C-STORE and the HL7 load: the claims of the dead node (a
    # message it was applying, a status message it was sending) are taken over by another
    # node's take-over round, not left until its restart or their leases.
    load.wait(3, only=(Modality,))
    assert proxy.sessions(victim.name) == while_down  # nothing sent to the dead node
    his_blocked = load.his.failures > failed_before[load.his.name]
    sent = f"SELECT status, attempts, ack_code FROM hl7_outbound_jobs WHERE id = {held_job}"
    wait_for(lambda: rows(url, sent) == [("sent", 2, "AA")], "the held job sent elsewhere")
    taken_over = time.monotonic() - killed  # and the killed node is not back yet:
    assert victim.process is not None and victim.process.poll() is not None
    held.stop()
    assert [hl7.parse(m.decode())["MSH.F10"] for m in held.messages] == ["HELD-0001"] * 2

    victim.start().wait_healthy()
    cluster.wait_status(victim, "UP")
    back = time.monotonic() - killed
    load.wait(2)
    load.stop_and_check(site)
    assert proxy.sessions(victim.name)["pacs_dicom"] > while_down["pacs_dicom"]  # served again
    assert sum(load.failures().values()) > 0  # the kill did hit something in flight
    print(  # the figures docs/cluster.md quotes (pytest -s)
        f"\nkill -9: marked DOWN after {marked_down:.1f} s, UP again after {back:.1f} s;"
        f" retried attempts {load.failures()}; screen reconnects"
        f" {[d.reconnects for d in load.displays]}; acknowledged {load.progress()};"
        f" HIS resending while the node was down: {his_blocked};"
        f" the job it held sent by another node after {taken_over:.1f} s;"
        f" orders answered AE 'exists already' after the restart: {load.his.refused_as_existing}"
    )


@pytest.mark.skipif(
    not os.environ.get("CLUSTER_TEST"),
    reason="about 2 minutes: set CLUSTER_TEST=1 (make cluster-test runs it)",
)
def test_rolling_upgrade_one_node_at_a_time(site: Site) -> None:
    """Drain a node in HAProxy, stop it, migrate, start it, put it back; then the next. The
    senders (DICOM, HL7, REST) see no failure at all (nothing is in flight on a drained node when
    it stops); a screen on the stopped node reconnects elsewhere and misses nothing."""
    cluster, proxy = site.cluster, site.cluster.haproxy
    load = Load(site, "R", screen_node=cluster.nodes[-1])
    load.wait(1)
    before = load.failures()
    for node in cluster.nodes:
        proxy.set_state(node.name, "drain")

        def idle(name: str = node.name) -> bool:
            open_now = proxy.sessions(name, "scur")
            return open_now["pacs_dicom"] == open_now["pacs_hl7"] == 0

        wait_for(idle, f"{node.name} drained")
        node.stop()
        node.migrate()
        node.start().wait_healthy()
        proxy.set_state(node.name, "ready")
        cluster.wait_status(node, "UP")
        load.wait(1)
    after = load.failures()
    load.stop_and_check(site)
    assert after == before  # no sender saw a failure
    print(f"\nrolling upgrade: retried attempts {after}, before {before}")


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
    proxy = cluster.haproxy  # and C-FIND through HAProxy's DICOM port
    for modality in modalities:
        assert set(modality.stored) <= find_instances(
            "127.0.0.1", proxy.ports.dicom, modality.study_uid
        )


def check_orders(cluster: Cluster, his: His) -> None:
    url = cluster.nodes[0].database_url
    messages = Counter(
        dict(rows(url, "SELECT control_id, count(*) FROM hl7_inbound_messages GROUP BY 1"))
    )
    exams = Counter(dict(rows(url, "SELECT accession_number, count(*) FROM ris_exams GROUP BY 1")))
    for control_id, accession in his.acknowledged + his.refused_as_existing:
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

    to_his = (
        "FROM hl7_outbound_jobs j JOIN hl7_destinations d ON d.id = j.destination_fk"
        " WHERE d.name = 'HIS'"
    )

    def all_sent() -> bool:
        return rows(url, f"SELECT count(*) {to_his} AND j.status <> 'sent'") == [(0,)]

    wait_for(all_sent, "every status message delivered", timeout=120)
    jobs = [r[0] for r in rows(url, f"SELECT j.control_id {to_his}")]
    received = Counter(
        str(hl7.parse(m.decode("utf-8", "replace"))["MSH.F10"]) for m in his_listener.messages
    )
    assert jobs and received == Counter(jobs)  # each exactly once


def test_a_signin_lock_holds_on_every_node_for_the_real_client(site: Site) -> None:
    """HAProxy's X-Forwarded-For reaches the nodes and is believed (`trusted_proxies`): five
    wrong passwords from 127.0.0.9 through HAProxy lock that account for 127.0.0.9, not for
    HAProxy's address; and the lock holds on every node (it is read from the database)."""
    cluster = site.cluster
    with cluster.admin() as admin:
        user = {"username": "locktest", "display_name": "锁定测试", "role": "registrar",
                "password": "Lock-test-9x"}  # fmt: skip
        assert admin.post("/api/users", json=user).status_code == 201
        client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.9"))
        with client:
            for _ in range(5):
                wrong = {"username": "locktest", "password": "not-the-password"}
                answer = client.post(f"{cluster.haproxy.url}/api/auth/token", data=wrong)
                assert answer.status_code in (401, 429), answer.text
        locks = admin.get("/api/auth/locks").json()
        assert [(lock["username"], lock["address"]) for lock in locks] == [
            ("locktest", "127.0.0.9")
        ]
        right = {"username": "locktest", "password": "Lock-test-9x"}
        for node in cluster.nodes:  # as HAProxy would forward it to each
            answer = httpx.post(
                f"{node.url}/api/auth/token", data=right, headers={"X-Forwarded-For": "127.0.0.9"}
            )
            assert answer.status_code == 429, (node.name, answer.text)
            assert answer.json()["detail"]["code"] == "auth.signin.locked"
        assert admin.post("/api/auth/users/locktest/unlock").status_code in (200, 204)


def test_the_his_sender_tells_an_order_that_exists(site: Site) -> None:
    """The load's HIS takes AE "order exists already" for its own order as applied (see
    His.refused_as_existing): that answer, as the core words it, names the placer number."""
    his = His("EXH", "127.0.0.1", site.cluster.haproxy.ports.hl7)
    his.step()  # order EXH-0001, acknowledged
    his.count, his.suffix = 0, "-B"  # the same order under a new control ID
    his.step()
    assert his.acknowledged == [("CEXH-0001", "ACCEXH-0001")]
    assert his.refused_as_existing == [("CEXH-0001-B", "ACCEXH-0001")]


def test_an_update_published_on_one_node_is_served_by_every_node(
    site: Site, tmp_path: Path
) -> None:
    """`data_dir/updates` and the signing key (`data_dir/tls`) are shared (docs/cluster.md):
    a version published on the first node is offered, signed, by each node and by HAProxy."""
    first = site.cluster.nodes[0].data_dir
    store = UpdateStore(first / "updates", SigningKey.beside(first / "tls"))
    if not store.key.present():
        init_key(store.key, "集群测试")
    store.publish("display", update_folder(tmp_path / "src", "display", "20261208.7"))
    sums = (first / "updates" / "display" / "SHA256SUMS").read_bytes()
    for base in [node.url for node in site.cluster.nodes] + [site.cluster.haproxy.url]:
        for name, body in (("SHA256SUMS", sums), ("SHA256SUMS.gpg", None)):
            answer = httpx.get(f"{base}/updates/display/{name}")
            assert answer.status_code == 200, (base, name, answer.text)
            assert body is None or answer.content == body
