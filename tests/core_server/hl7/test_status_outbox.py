"""The RIS's status history is the outbox of the HL7 status reporter: a change committed by
the RIS reaches the HIS even when the sender was stopped or the bus event never came, once,
also with several core processes reading the same history (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import hl7
import pytest
from alembic import command
from sqlalchemy import Engine

from core_server import db
from core_server.events import EventBus
from core_server.hl7 import Hl7Service, cursors, outbound
from core_server.hl7.outbound import Destination
from core_server.hl7.status import CURSOR, StatusReporter
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris, StatusChange
from tests.core_server.hl7.mllp import HisListener, wait_for

STEPS = ("arrived", "in_progress", "completed")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def his() -> Iterator[HisListener]:
    with HisListener() as listener:
        yield listener


def his_order(ris: Ris, number: str, placer_application: str = "HIS") -> int:
    """An order as the HIS places it (a placer application), its one exam's id."""
    ris.register_patient(PatientIn(f"P{number}", "张三"), username="hl7")
    request = ProcedureRequest("DR-CHEST-PA", accession_number=f"A{number}")
    order = OrderIn(f"S{number}", (request,), placer_application=placer_application)
    ris.place_order(f"P{number}", "", order, username="hl7")
    return ris.exam_by_accession(f"A{number}").id


def service(engine: Engine, ris: Ris, bus: EventBus) -> Hl7Service:
    hl7_service = Hl7Service(
        engine, ris, bus, host="127.0.0.1", port=0, application="PACS", poll_seconds=0.05
    )
    hl7_service.start()
    return hl7_service


def statuses(his: HisListener) -> list[tuple[str, str]]:
    """(accession, RIS status) of each message the HIS received, in order."""
    parsed = [hl7.parse(m.decode()) for m in his.messages]
    return [(str(p["OBR.F18"]), str(p["NTE.F3"])) for p in parsed]


def test_changes_made_while_the_sender_is_stopped_go_out_after_start(
    engine: Engine, his: HisListener
) -> None:
    bus = EventBus()
    ris = Ris(engine, bus)
    ris.start()
    outbound.add_destination(engine, Destination(name="HIS", host="127.0.0.1", port=his.port))
    first = service(engine, ris, bus)
    exam = his_order(ris, "1")
    # Stopped once the job is marked sent (stopped between the ACK and that mark, the job
    # would wait for its claim to run out and go again: at least once).
    wait_for(lambda: [j.status for j in outbound.list_jobs(engine)] == ["sent"])
    first.stop()  # the core process goes down; the RIS (another process) works on
    for step in STEPS:
        ris.change_status(exam, step, username="tech")
    desk = his_order(ris, "2", placer_application="")  # placed at our desk: not reported
    ris.change_status(desk, "arrived", username="desk")
    assert len(his.messages) == 1
    second = service(engine, ris, bus)  # start-up catches up
    try:
        wait_for(lambda: len(his.messages) == 4)
        assert second.reporter.catch_up() == 0  # nothing left, nothing queued again
    finally:
        second.stop()
    assert statuses(his) == [("A1", s) for s in ("scheduled", *STEPS)]
    jobs = outbound.list_jobs(engine)
    assert len(jobs) == 4 and {j.status for j in jobs} == {"sent"}


def test_changes_whose_event_never_came_still_go_out(engine: Engine, his: HisListener) -> None:
    # The RIS publishes on a bus the HL7 service does not listen to (an event lost, or a RIS
    # in another process): the sender's poll reads the history all the same.
    ris = Ris(engine, EventBus())
    ris.start()
    outbound.add_destination(engine, Destination(name="HIS", host="127.0.0.1", port=his.port))
    running = service(engine, ris, EventBus())
    try:
        exam = his_order(ris, "1")
        for step in STEPS:
            ris.change_status(exam, step, username="tech")
        wait_for(lambda: len(his.messages) == 4)
    finally:
        running.stop()
    assert statuses(his) == [("A1", s) for s in ("scheduled", *STEPS)]


def queued(engine: Engine) -> Counter[tuple[str, str]]:
    """How often each (accession, status) message was queued."""
    found: Counter[tuple[str, str]] = Counter()
    for job in outbound.list_jobs(engine, limit=1000):
        parsed = hl7.parse(job.message)
        found[str(parsed["OBR.F18"]), str(parsed["NTE.F3"])] += 1
    return found


def test_two_processes_reading_the_same_history_queue_each_change_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ris = Ris(engine, EventBus())
    ris.start()
    # Nothing listens there: the jobs stay queued, to be counted.
    outbound.add_destination(engine, Destination(name="HIS", host="127.0.0.1", port=9))
    first, second = (StatusReporter(engine, ris, "PACS") for _ in range(2))
    exams = [his_order(ris, str(n)) for n in range(6)]

    # Deterministic interleaving: the second process takes the changes after the first read
    # them and before it moves the cursor; the first must then queue nothing of them.
    racing = Ris(engine, EventBus())  # the RIS as the first process sees it
    read = racing.status_changes

    def read_then_lose_the_race(after: int = 0, limit: int = 100) -> list[StatusChange]:
        changes = read(after, limit)
        if changes and after == 0:
            assert second.catch_up() == len(changes)
        return changes

    monkeypatch.setattr(racing, "status_changes", read_then_lose_the_race)
    first.ris = racing
    assert first.catch_up() == 0
    assert queued(engine) == Counter({(f"A{n}", "scheduled"): 1 for n in range(6)})

    # Both reporters in threads while the RIS moves the exams along.
    first.ris = ris
    stop = threading.Event()

    def keep_reading(reporter: StatusReporter) -> None:
        while not stop.is_set():
            reporter.catch_up()

    readers = [threading.Thread(target=keep_reading, args=(r,)) for r in (first, second)]
    for reader in readers:
        reader.start()
    try:
        for step in STEPS:
            for exam in exams:
                ris.change_status(exam, step, username="tech")
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    first.catch_up()
    expected = {(f"A{n}", s): 1 for n in range(6) for s in ("scheduled", *STEPS)}
    assert queued(engine) == Counter(expected)


def test_the_migration_starts_the_cursor_after_the_existing_history(engine: Engine) -> None:
    # Changes made before the upgrade were reported by the old subscriber: not sent again.
    ris = Ris(engine, EventBus())
    ris.start()
    # a new install reads all
    assert cursors.position(engine, CURSOR) == ris.last_status_change() == 0
    exam = his_order(ris, "1")
    ris.change_status(exam, "arrived", username="desk")
    assert [c.change_id for c in ris.status_changes(0)] == [c.change_id for c in ris.history(exam)]
    with engine.begin() as conn:  # back to before 0010_hl7_status_cursor, and up again
        command.downgrade(db.alembic_config(conn), "0004_hl7")
    db.migrate(engine)
    last = ris.history(exam)[-1].change_id
    assert cursors.position(engine, CURSOR) == ris.last_status_change() == last
    assert ris.status_changes(ris.last_status_change()) == []
