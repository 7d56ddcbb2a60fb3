"""Who may send (the listener's allow-list: loopback only until the administrator names
senders; others refused with AR and logged), and what a crashed core held: a restarted core
releases its dead predecessor's claims at start, so the HIS's resend of a message that got no
ACK is applied instead of being told "being processed" for 5 minutes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select

from core_server import clock, cluster, db
from core_server.hl7 import outbound
from core_server.hl7.outbound import Destination
from core_server.hl7.senders import allows, list_senders
from core_server.hl7.tables import hl7_inbound_messages as inbound
from core_server.hl7.tables import hl7_outbound_jobs as jobs
from core_server.jobs import owners
from tests.core_server.hl7.conftest import Hl7Setup, running
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send, wait_for
from tests.core_server.hl7.strict import assert_valid
from tests.core_server.hl7.test_inbound import msh, pid, segment
from tests.postgres import Cluster


def registration(control_id: str, patient_id: str, sender: str = "HIS") -> bytes:
    return message(
        msh("ADT^A04^ADT_A01", control_id).replace("|HIS|", f"|{sender}|", 1),
        pid(patient_id, "孙^悟空"),
    )


def test_the_allow_list_rule() -> None:
    assert allows([], "127.0.0.1", "HIS", "HOSP") and allows([], "::1", "", "")
    assert not allows([], "10.1.2.3", "HIS", "HOSP")  # nothing from the network by default


def test_only_allowed_senders_are_taken(hl7_setup: Hl7Setup) -> None:
    service = hl7_setup.service
    # A fresh install: loopback only, whatever MSH-3 says.
    (answer,) = send(hl7_setup.port, registration("S1", "S001"))
    assert ack_fields(answer)["code"] == "AA"

    # The administrator allows one machine (127.0.0.2) and one application anywhere.
    service.allow_sender(address="127.0.0.2", note="HIS server", by="admin")
    service.allow_sender(sending_application="EMR", sending_facility="HOSP", by="admin")
    assert [s.address for s in list_senders(hl7_setup.engine)] == ["127.0.0.2", ""]
    (from_his,) = send(hl7_setup.port, registration("S2", "S002"), source="127.0.0.2")
    (from_emr,) = send(hl7_setup.port, registration("S3", "S003", sender="EMR"))
    (other,) = send(hl7_setup.port, registration("S4", "S004"))  # 127.0.0.1, MSH-3 HIS
    assert ack_fields(from_his)["code"] == "AA" and ack_fields(from_emr)["code"] == "AA"
    refused = ack_fields(other)
    assert refused["code"] == "AR" and refused["control_id"] == "S4"
    assert "not allowed" in refused["text"]
    assert_valid(other)
    hl7_setup.ris.patient("S002", "HOSP")
    hl7_setup.ris.patient("S003", "HOSP")
    # Logged as refused, its header only, nothing of the patient kept.
    (logged,) = service.messages(status="refused")
    assert (logged.sending_application, logged.message_type) == ("HIS", "ADT^A04")
    assert logged.peer.startswith("127.0.0.1:") and logged.control_id is None
    with db.read(hl7_setup.engine) as conn:
        raw = conn.execute(select(inbound.c.raw).where(inbound.c.id == logged.id)).scalar_one()
    assert bytes(raw) == b""
    # Once allowed, the same message is taken (the refusal recorded no answer to replay).
    service.allow_sender(address="127.0.0.1", by="admin")
    (again,) = send(hl7_setup.port, registration("S4", "S004"))
    assert ack_fields(again)["code"] == "AA"


def _dead_owner() -> str:
    """The claim name of a process of this host that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    owner = f"{owners._host()}:{child.pid}:1:deadbeef"
    assert owners.is_gone(owner) and not owners.is_gone(owners.this_process())
    return owner


def test_a_restarted_core_releases_its_dead_predecessors_claims(
    database_url: str, tmp_path: Path
) -> None:
    raw = registration("K1", "K001")
    dead = _dead_owner()
    with running(database_url) as setup:
        engine = setup.engine
        his = HisListener().start()
        try:
            outbound.add_destination(
                engine, Destination(name="HIS", host="127.0.0.1", port=his.port)
            )
            setup.service.stop()  # the "crashed" core: its rows are left as they were
            now = clock.now()
            with db.write(engine) as conn:
                # It had stored the message and was applying it when it died: no ACK went out.
                conn.execute(
                    insert(inbound).values(
                        received_at=now,
                        peer="127.0.0.1:1",
                        sending_application="HIS",
                        sending_facility="HOSP",
                        control_id="K1",
                        message_type="ADT^A04",
                        raw=raw,
                        text=raw.decode(),
                        status="processing",
                        processed_at=now,
                        claimed_by=dead,
                    )
                )
                # ...and its sender was sending a message, with a long lease.
                destination_id = outbound.get_destination(engine, "HIS").id
                conn.execute(
                    insert(jobs).values(
                        destination_fk=destination_id,
                        message_type="ORM^O01",
                        control_id="J1",
                        message="MSH|^~\\&|PACS||||||ORM^O01|J1|P|2.3.1\rPID|1||K001\r",
                        status="sending",
                        attempts=1,
                        next_attempt_at=now,
                        claimed_by=dead,
                        claimed_until=now + timedelta(hours=1),
                        created_at=now,
                    )
                )
            setup.service.start()  # the restarted core
            (answer,) = send(setup.port, raw)  # the HIS's resend
            assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
            assert setup.ris.patient("K001", "HOSP").patient_id == "K001"
            wait_for(lambda: outbound.list_jobs(engine)[0].status == "sent")
            assert len(his.messages) == 1
        finally:
            his.stop()


def _claimed(engine: Engine, raw: bytes, control_id: str, owner: str) -> None:
    """The message stored and being applied by ``owner`` (claimed just now)."""
    now = clock.now()
    with db.write(engine) as conn:
        conn.execute(
            insert(inbound).values(
                received_at=now,
                sending_application="HIS",
                sending_facility="HOSP",
                control_id=control_id,
                message_type="ADT^A04",
                raw=raw,
                status="processing",
                processed_at=now,
                claimed_by=owner,
            )
        )


def test_a_living_processs_claim_is_left_to_its_lease(hl7_on: Hl7Setup) -> None:
    """A claim of a process that is alive (another core on this host; on PostgreSQL, one
    that holds the message's cluster lock, as an applying node does) is not taken."""
    raw = registration("K2", "K002")
    _claimed(hl7_on.engine, raw, "K2", owners.this_process())
    assert hl7_on.service.receiver.release_gone() == 0
    with cluster.try_held(hl7_on.engine, "hl7-inbound:HIS|HOSP|K2") as taken:
        assert taken is not False
        (answer,) = send(hl7_on.port, raw)
    assert ack_fields(answer)["code"] == "AE" and ack_fields(answer)["err_code"] == "206"


def test_another_nodes_dead_claim_is_taken_over_at_once(postgres: Cluster) -> None:
    """A node that died applying a message (on another host: its pid tells nothing) holds
    its cluster lock no more: the HIS's resend is applied at once, not after the lease."""
    raw = registration("K3", "K003")
    with running(postgres.new_database()) as setup:
        _claimed(setup.engine, raw, "K3", "other-host:4242:1:deadbeef")
        (answer,) = send(setup.port, raw)
        assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
        assert setup.ris.patient("K003", "HOSP").patient_id == "K003"


def test_an_order_applied_before_its_ack_was_recorded_is_answered_aa(
    database_url: str,
) -> None:
    """A core killed after it placed an order and before it recorded the ACK: the HIS's
    resend meets the order it made (duplicate key), and is owed AA, not AE 205."""
    orm = message(
        msh("ORM^O01", "K4", version="2.3.1"),
        pid("K004", "钱^七"),
        segment("ORC", {1: "NW", 2: "ORD40^HIS"}),
        segment("OBR", {1: "1", 2: "ORD40^HIS", 4: "CT-CHEST^胸部CT平扫^L", 18: "ACC40", 24: "CT"}),
    )
    with running(database_url) as setup:
        (first,) = send(setup.port, orm)
        assert ack_fields(first)["code"] == "AA", ack_fields(first)
        with db.write(setup.engine) as conn:  # as the killed core left it: no ACK recorded
            conn.execute(
                inbound.update()
                .where(inbound.c.control_id == "K4")
                .values(status="processing", ack=None, ack_code=None, claimed_by=_dead_owner())
            )
        assert setup.service.receiver.release_gone() == 1
        (again,) = send(setup.port, orm)
        assert ack_fields(again)["code"] == "AA", ack_fields(again)
        order = setup.ris.order(placer_order_number="ORD40", placer_application="HIS")
        assert [e.accession_number for e in order.exams] == ["ACC40"]
    with running(database_url) as setup:  # a true duplicate (another message) is still AE
        other = orm.replace(b"|K4|", b"|K5|")
        (answer,) = send(setup.port, other)
        assert ack_fields(answer)["code"] == "AE" and ack_fields(answer)["err_code"] == "205"
