"""MSH-11: messages from a HIS's test system (processing ID T or D) are logged and ACKed with a
warning but not applied, unless allowed; retention: the sender's housekeeping removes answered
messages and delivered jobs older than the retention period and keeps everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, delete, func, insert, select

from core_server import db
from core_server.cluster.tables import cluster_tickers
from core_server.hl7 import Hl7Service, add_destination
from core_server.hl7.outbound import Destination
from core_server.hl7.tables import hl7_inbound_messages as inbound
from core_server.hl7.tables import hl7_outbound_jobs as jobs
from core_server.ris import NotFound
from tests.core_server.hl7.conftest import running
from tests.core_server.hl7.mllp import ack_fields, message, send, wait_for
from tests.core_server.hl7.test_inbound import msh, pid


def registration(control_id: str, patient_id: str, processing_id: str) -> bytes:
    head = msh("ADT^A04^ADT_A01", control_id)
    head = head.replace(f"|{control_id}|P|", f"|{control_id}|{processing_id}|")  # MSH-11
    return message(head, pid(patient_id, "测^试"))


def test_test_messages_are_logged_and_acked_not_applied(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path / 'core.db'}") as setup:
        answers = send(
            setup.port,
            registration("T1", "PT1", "T"),
            registration("T2", "PT2", "D^A"),  # debugging, archive mode
            registration("T3", "PT3", "P"),
        )
        fields = [ack_fields(a) for a in answers]
        assert [f["code"] for f in fields] == ["AA", "AA", "AA"]
        assert fields[0]["err_code"] == "202" and "not applied" in fields[0]["text"]
        assert fields[1]["err_code"] == "202" and "err_code" not in fields[2]
        assert "ERR|" in answers[0].decode() and "|W|" in answers[0].decode()  # a warning
        for patient_id in ("PT1", "PT2"):
            with pytest.raises(NotFound):
                setup.ris.patient(patient_id, "HOSP")
        assert setup.ris.patient("PT3", "HOSP").patient_id == "PT3"
        logged = {m.control_id: m for m in setup.service.messages()}
        assert logged["T1"].status == "accepted" and "processing ID T" in logged["T1"].error
        # A resend of the test message gets the same answer and is still not applied.
        (again,) = send(setup.port, registration("T1", "PT1", "T"))
        assert again == answers[0]

    allowed = {"processing_ids": ("P", "T")}  # e.g. while the HIS link is being set up
    with running(f"sqlite:///{tmp_path / 'other.db'}", **allowed) as setup:
        (answer,) = send(setup.port, registration("T4", "PT4", "T"))
        assert ack_fields(answer)["code"] == "AA" and "err_code" not in ack_fields(answer)
        assert setup.ris.patient("PT4", "HOSP").patient_id == "PT4"


def _old_rows(engine: Engine, destination_id: int, age: timedelta) -> None:
    when = datetime.now(UTC) - age
    with db.write(engine) as conn:
        for n, status in enumerate(("accepted", "error", "rejected", "failed", "processing")):
            conn.execute(
                insert(inbound).values(
                    received_at=when,
                    sending_application="HIS",
                    control_id=f"{status}-{age.days}-{n}",
                    message_type="ADT^A04",
                    raw=b"MSH|...",
                    status=status,
                )
            )
        for status in ("sent", "dead", "pending"):
            conn.execute(
                insert(jobs).values(
                    destination_fk=destination_id,
                    control_id=f"{status}-{age.days}",
                    message="MSH|...",
                    status=status,
                    next_attempt_at=when + timedelta(days=3650),  # never due in this test
                    created_at=when,
                    sent_at=when if status == "sent" else None,
                )
            )


def _statuses(engine: Engine, table: Table) -> dict[str, int]:
    with db.read(engine) as conn:
        rows = conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
        return {status: count for status, count in rows}


def test_housekeeping_removes_only_old_answered_messages_and_delivered_jobs(
    database_url: str,
) -> None:
    with running(database_url) as setup:  # keeps everything (retention 0)
        engine = setup.engine
        his = add_destination(engine, Destination(name="HIS", host="127.0.0.1", port=9))
        assert his.id is not None
        _old_rows(engine, his.id, timedelta(days=40))
        _old_rows(engine, his.id, timedelta(days=5))
        assert setup.service.housekeeping() is None
        keeping = Hl7Service(
            engine,
            setup.ris,
            setup.bus,
            host="127.0.0.1",
            port=0,
            application="PACS",
            poll_seconds=0.05,
            retention_days=30,
        )
        setup.service.stop()
        with db.write(engine) as conn:  # on PostgreSQL the stopped service's round, just now,
            conn.execute(delete(cluster_tickers))  # would make this one wait (cluster-once)
        keeping.start()  # its sender's first round does the housekeeping
        try:
            wait_for(lambda: _statuses(engine, jobs).get("sent") == 1)
        finally:
            keeping.stop()
        assert _statuses(engine, inbound) == {
            "accepted": 1,  # the recent ones
            "error": 1,
            "rejected": 1,
            "failed": 2,  # not answered: kept at any age
            "processing": 2,
        }
        assert _statuses(engine, jobs) == {"sent": 1, "dead": 2, "pending": 2}
        assert keeping.housekeeping() is None  # not again within the hour
