"""The reporting domain's workflow history and alert events are the outboxes of the HL7
results reporter: a report submitted or signed and a critical value raised or escalated while
the sender is stopped (or whose bus event never came) reach the HIS after start, each once,
also with several core processes reading the same outboxes (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import hl7
import pytest
from alembic import command
from sqlalchemy import Engine

from core_server import db
from core_server.events import EventBus
from core_server.hl7 import CRITICAL_VALUES, RESULTS, Hl7Service, cursors, outbound
from core_server.hl7.outbound import Destination
from core_server.hl7.reporting import ResultReporter
from core_server.reporting import Content, Reporting, ResultEvent
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from tests.core_server.hl7.mllp import HisListener, wait_for
from tests.core_server.reporting.conftest import ATTENDING, RESIDENT


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def domains(engine: Engine) -> tuple[Ris, Reporting]:
    """The RIS and reporting of a core process whose bus no HL7 service listens to."""
    bus = EventBus()
    ris = Ris(engine, bus)
    ris.start()
    return ris, Reporting(engine, bus, ris)


def performed_exam(ris: Ris, placer: str) -> int:
    """A HIS order's exam, performed and waiting for its report."""
    ris.register_patient(PatientIn("P100", "张三"), username="reg")
    order = ris.place_order(
        "P100",
        "",
        OrderIn(placer, (ProcedureRequest("CT-CHEST"),), placer_application="HIS"),
        username="hl7:HIS",
    )
    exam_id = order.exams[0].id
    for status in ("arrived", "in_progress", "completed"):
        ris.change_status(exam_id, status, username="tech")
    return exam_id


def destination(engine: Engine, port: int) -> None:
    outbound.add_destination(
        engine,
        Destination(
            name="HIS", host="127.0.0.1", port=port, purposes=f"{RESULTS},{CRITICAL_VALUES}"
        ),
    )


def service(engine: Engine, ris: Ris, reporting: Reporting) -> Hl7Service:
    running = Hl7Service(
        engine,
        ris,
        EventBus(),
        host="127.0.0.1",
        port=0,
        application="PACS",
        poll_seconds=0.05,
        reporting=reporting,
    )
    running.start()
    return running


def oru(message: str | bytes) -> tuple[str, str, str]:
    """(accession, OBR-25, first OBX-5) of an ORU^R01."""
    text = message.decode() if isinstance(message, bytes) else message
    parsed = hl7.parse(text)
    return str(parsed["OBR.F18"]), str(parsed["OBR.F25"]), str(parsed["OBX.F5"])


def test_results_and_critical_values_made_while_stopped_go_out_after_start(
    engine: Engine,
) -> None:
    ris, reporting = domains(engine)
    with HisListener() as his:
        destination(engine, his.port)
        exam_id = performed_exam(ris, "ORD-1")
        accession = ris.exam(exam_id).accession_number
        # No HL7 service runs: the core process is down while reporting (another process)
        # works on, and the events are published where no one listens.
        report = reporting.start(exam_id, RESIDENT)
        reporting.submit(report.id, RESIDENT, Content(findings="<p>所见</p>"))
        alert = reporting.raise_critical(report.id, RESIDENT, "张力性气胸")
        reporting.sign(report.id, ATTENDING, Content(impression="<p>气胸</p>"))
        reporting.escalate_due(alert.raised_at + timedelta(days=1))
        assert outbound.list_jobs(engine) == []
        running = service(engine, ris, reporting)  # start-up catches up
        try:
            wait_for(lambda: len(his.messages) == 4)
            assert running.results is not None
            assert running.results.catch_up() == 0  # nothing left, nothing queued again
            wait_for(lambda: {j.status for j in outbound.list_jobs(engine)} == {"sent"})
        finally:
            running.stop()
        received = [oru(m) for m in his.messages]
    # Results first, then critical values (two outboxes, each in its own order); a critical
    # value carries the report's status when it is written (signed by then: F).
    assert received == [
        (accession, "P", "所见"),
        (accession, "F", "所见"),
        (accession, "F", "张力性气胸"),
        (accession, "F", "张力性气胸"),
    ]
    notes = [str(hl7.parse(m.decode()).segment("NTE")(3)) for m in his.messages[2:]]
    assert notes == [
        f"critical value alert {alert.id}; escalation 0",
        f"critical value alert {alert.id}; escalation 1",
    ]
    assert len(outbound.list_jobs(engine)) == 4
    # The queued messages are in the alert's chain, and their ACKs once the ticker looked.
    reporting.tick()
    kinds = [e.kind for e in reporting.alert(alert.id).chain]
    assert kinds == ["raised", "escalated", "queued", "queued", "delivered", "delivered"]


def queued(engine: Engine) -> Counter[tuple[str, str, str]]:
    return Counter(oru(j.message) for j in outbound.list_jobs(engine, limit=1000))


def test_two_processes_reading_the_same_outbox_queue_each_result_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ris, reporting = domains(engine)
    destination(engine, 9)  # nothing listens there: the jobs stay queued, to be counted
    first, second = (ResultReporter(engine, reporting, ris, "PACS") for _ in range(2))
    reports = []
    for n in range(3):
        report = reporting.start(performed_exam(ris, f"ORD-{n}"), RESIDENT)
        reporting.submit(report.id, RESIDENT, Content(findings=f"<p>所见{n}</p>"))
        reports.append(report)

    # The second process takes the entries after the first read them and before it moves
    # the cursor: the first must then queue nothing of them.
    racing = Reporting(engine, EventBus(), ris)
    read = racing.result_events

    def read_then_lose_the_race(after: int = 0, limit: int = 100) -> list[ResultEvent]:
        entries = read(after, limit)
        if entries and after == 0:
            assert second.catch_up() == len(entries)
        return entries

    monkeypatch.setattr(racing, "result_events", read_then_lose_the_race)
    first.reporting = racing
    assert first.catch_up() == 0
    for report in reports:
        reporting.sign(report.id, ATTENDING)
    assert first.catch_up() == 3 and second.catch_up() == 0
    accessions = [ris.exam(r.exam_id).accession_number for r in reports]
    expected = {(a, s, f"所见{n}"): 1 for n, a in enumerate(accessions) for s in ("P", "F")}
    assert queued(engine) == Counter(expected)


def test_the_migration_starts_the_cursors_after_what_was_already_sent(engine: Engine) -> None:
    ris, reporting = domains(engine)
    reporter = ResultReporter(engine, reporting, ris, "PACS")
    # a new install
    assert cursors.position(engine, RESULTS) == cursors.position(engine, CRITICAL_VALUES) == 0
    report = reporting.start(performed_exam(ris, "ORD-OLD"), RESIDENT)
    reporting.submit(report.id, RESIDENT, Content(findings="<p>所见</p>"))
    reporting.raise_critical(report.id, RESIDENT, "气胸")
    (event,) = reporting.result_events(0)
    (notice,) = reporting.alert_notices(0)
    # Back to before 0011_hl7_reporting_cursor (the old subscriber sent these), and up again.
    with engine.begin() as conn:
        command.downgrade(db.alembic_config(conn), "0010_hl7_status_cursor")
    db.migrate(engine)
    assert cursors.position(engine, RESULTS) == event.event_id
    assert cursors.position(engine, CRITICAL_VALUES) == notice.event_id
    assert reporter.catch_up() == 0
