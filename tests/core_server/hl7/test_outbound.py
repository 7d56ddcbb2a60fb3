"""The durable outbound queue and its sender, against a real MLLP listener standing in for the
HIS, on SQLite and PostgreSQL: delivery with the ACK recorded, retries while the HIS is down,
dead letters, a rejected message, order kept per destination, no job sent twice by two
senders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from core_server import db
from core_server.hl7 import outbound
from core_server.hl7.outbound import Destination
from core_server.hl7.sender import Sender
from tests.conftest import free_port
from tests.core_server.hl7.mllp import HisListener, wait_for

ORM = "MSH|^~\\&|PACS||||||ORM^O01||P|2.3.1\rPID|1||P001||王^小明\rORC|SC|A1||IP\r"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def his() -> Iterator[HisListener]:
    listener = HisListener().start()
    yield listener
    listener.stop()


def destination(port: int, **options: object) -> Destination:
    values: dict[str, object] = {
        "name": "HIS",
        "host": "127.0.0.1",
        "port": port,
        "receiving_application": "HIS",
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "ack_timeout_seconds": 5,
        **options,
    }
    return Destination(**values)  # type: ignore[arg-type]


def running_sender(engine: Engine) -> Sender:
    sender = Sender(engine, poll_seconds=0.05)
    sender.start()
    return sender


def test_message_is_delivered_and_its_ack_recorded(engine: Engine, his: HisListener) -> None:
    outbound.add_destination(engine, destination(his.port, charset="GB 18030-2000"))
    job_id = outbound.enqueue(engine, "HIS", ORM, source="test")
    queued = outbound.get_job(engine, job_id)
    assert queued.status == "pending" and queued.message_type == "ORM^O01"
    sender = running_sender(engine)
    try:
        wait_for(lambda: outbound.get_job(engine, job_id).status == "sent")
    finally:
        sender.stop()
    (received,) = his.messages
    # Sent in the destination's character set, which MSH-18 names; addressed to it.
    text = received.decode("gb18030")
    assert "王^小明" in text
    msh = text.split("\r")[0].split("|")
    assert msh[4] == "HIS" and msh[17] == "GB 18030-2000" and msh[9] == queued.control_id
    job = outbound.get_job(engine, job_id)
    assert job.ack_code == "AA" and job.ack is not None and queued.control_id in job.ack
    assert job.attempts == 1 and job.sent_at is not None


def test_retries_while_the_his_is_down_then_delivers(engine: Engine) -> None:
    port = free_port()
    outbound.add_destination(engine, destination(port, max_attempts=1000))
    job_id = outbound.enqueue(engine, "HIS", ORM)
    sender = running_sender(engine)
    his = HisListener(port)
    try:
        wait_for(lambda: outbound.get_job(engine, job_id).attempts >= 2)
        failed = outbound.get_job(engine, job_id)
        assert failed.status in ("pending", "sending") and failed.last_error
        his.start()
        wait_for(lambda: outbound.get_job(engine, job_id).status == "sent")
    finally:
        sender.stop()
        his.stop()
    assert len(his.messages) == 1
    assert outbound.get_job(engine, job_id).last_error == ""


def test_dead_letter_after_max_attempts_and_retry_by_hand(engine: Engine) -> None:
    port = free_port()
    outbound.add_destination(engine, destination(port, max_attempts=3))
    job_id = outbound.enqueue(engine, "HIS", ORM)
    sender = running_sender(engine)
    his = HisListener(port)
    try:
        wait_for(lambda: outbound.get_job(engine, job_id).status == "dead")
        dead = outbound.get_job(engine, job_id)
        assert dead.attempts == 3 and "Error" in dead.last_error
        assert [j.id for j in outbound.list_jobs(engine, status="dead")] == [job_id]
        his.start()
        assert outbound.retry(engine, job_id).status == "pending"
        sender.wake()
        wait_for(lambda: outbound.get_job(engine, job_id).status == "sent")
    finally:
        sender.stop()
        his.stop()
    with pytest.raises(outbound.OutboundError):
        outbound.retry(engine, job_id)  # sent already


def test_rejected_message_is_a_dead_letter_at_once(engine: Engine) -> None:
    his = HisListener(answer="AR").start()
    outbound.add_destination(engine, destination(his.port))
    job_id = outbound.enqueue(engine, "HIS", ORM)
    sender = running_sender(engine)
    try:
        wait_for(lambda: outbound.get_job(engine, job_id).status == "dead")
    finally:
        sender.stop()
        his.stop()
    job = outbound.get_job(engine, job_id)
    assert job.ack_code == "AR" and job.attempts == 1 and len(his.messages) == 1


def test_application_error_is_retried(engine: Engine) -> None:
    his = HisListener(answer="AE").start()
    outbound.add_destination(engine, destination(his.port, max_attempts=2))
    job_id = outbound.enqueue(engine, "HIS", ORM)
    sender = running_sender(engine)
    try:
        wait_for(lambda: outbound.get_job(engine, job_id).status == "dead")
    finally:
        sender.stop()
        his.stop()
    assert len(his.messages) == 2 and outbound.get_job(engine, job_id).ack_code == "AE"


def test_two_senders_send_each_job_once_and_in_order(engine: Engine, his: HisListener) -> None:
    outbound.add_destination(engine, destination(his.port))
    ids = [outbound.enqueue(engine, "HIS", ORM.replace("A1", f"A{n}")) for n in range(12)]
    senders = [running_sender(engine), running_sender(engine)]
    try:
        wait_for(lambda: all(j.status == "sent" for j in outbound.list_jobs(engine)))
    finally:
        for sender in senders:
            sender.stop()
    control_ids = [outbound.get_job(engine, i).control_id for i in ids]
    received = [m.decode().split("\r")[0].split("|")[9] for m in his.messages]
    assert received == control_ids  # each once, in the order queued


def test_a_claimed_job_cannot_be_claimed_again(engine: Engine) -> None:
    outbound.add_destination(engine, destination(free_port()))
    job_id = outbound.enqueue(engine, "HIS", ORM)
    assert outbound.due_heads(engine) == [job_id]
    first = outbound.claim(engine, job_id, "one")
    assert first is not None and first.attempt == 1
    assert outbound.claim(engine, job_id, "two") is None
    assert outbound.due_heads(engine) == []
    # Only the owner records the try.
    outbound.finish(engine, first, "two", ack_code="AA", ack="")
    assert outbound.get_job(engine, job_id).status == "sending"
    assert outbound.finish(engine, first, "one", ack_code=None, ack=None, error="x") == "pending"


def test_destinations_are_checked_and_kept(engine: Engine) -> None:
    with pytest.raises(outbound.OutboundError):
        outbound.add_destination(engine, destination(0))
    with pytest.raises(outbound.OutboundError):
        outbound.add_destination(engine, destination(2575, charset="EBCDIC"))
    with pytest.raises(outbound.OutboundError):
        outbound.enqueue(engine, "HIS", ORM)  # no such destination
    outbound.add_destination(engine, destination(2575))
    with pytest.raises(outbound.OutboundError):
        outbound.add_destination(engine, destination(2575))
    changed = outbound.update_destination(engine, "HIS", status_message="OMI", enabled=False)
    assert changed.status_message == "OMI" and not changed.enabled
    outbound.enqueue(engine, "HIS", ORM)
    assert outbound.due_heads(engine) == []  # a disabled destination waits
    with pytest.raises(outbound.OutboundError):
        outbound.remove_destination(engine, "HIS")  # a message still waits
    job = outbound.list_jobs(engine)[0]
    outbound.retry(engine, job.id)
    assert [d.name for d in outbound.list_destinations(engine)] == ["HIS"]
