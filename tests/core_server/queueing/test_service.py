"""The queue service on SQLite and PostgreSQL: ordering rules, calls, claims, idempotency,
room states, the journal and restarts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core_server import db
from core_server.events import EventBus
from core_server.queueing import QueueRefusal, QueueService, Replayed
from core_server.queueing import journal as journal_module
from tests.core_server.queueing.conftest import Clock, Desk, change_queue


def numbers(service: QueueService) -> list[str]:
    return [t.number for t in service.queue_tickets("CT", "waiting")]


def call(service: QueueService, room: str = "CT1") -> str:
    ticket = service.call_next(room, username="tech")["ticket"]
    assert ticket is not None
    return str(ticket["number"])


def test_emergency_first_then_priority_groups_then_arrival(desk: Desk) -> None:
    desk.arrive("张三")
    desk.arrive("李四")
    old = desk.arrive("王老五")
    desk.service.set_priority(old.id, "elderly")
    desk.arrive("赵六", emergency=True)
    assert numbers(desk.service) == ["CT004", "CT003", "CT001", "CT002"]
    assert [call(desk.service) for _ in range(4)] == ["CT004", "CT003", "CT001", "CT002"]


def test_appointment_order_and_late_arrivals(desk: Desk) -> None:
    change_queue(desk.service, order_by="appointment", late_rule="back", late_grace_minutes=15)
    now = desk.clock.now
    from datetime import timedelta

    desk.arrive("甲", scheduled_at=now + timedelta(minutes=60))  # CT001, booked 10:00
    desk.arrive("乙", scheduled_at=now + timedelta(minutes=20))  # CT002, booked 09:20
    late = desk.arrive("丙", scheduled_at=now - timedelta(minutes=30))  # CT003, 30 min late
    assert late.late
    desk.arrive("丁", minutes=30)  # CT004 walk-in at 09:34
    assert numbers(desk.service) == ["CT003", "CT002", "CT004", "CT001"]

    change_queue(desk.service, late_rule="insert", late_insert_every=2)
    desk.arrive("戊", scheduled_at=desk.clock.now - timedelta(minutes=40))  # CT005, late
    # The late patients wait for two ordinary calls (counter reset when the first arrived late):
    # CT003 was late before the rule changed, so both late ones are in the insert stream.
    order = numbers(desk.service)
    assert order[:2] == ["CT002", "CT004"] and order[2] == "CT003"
    assert [call(desk.service) for _ in range(5)] == order


def test_missed_patient_returns_after_suspension_inserted_every_n(desk: Desk) -> None:
    change_queue(
        desk.service, missed_rule="insert", missed_insert_every=2, missed_suspend_minutes=5
    )
    for name in ("张三", "李四", "王五", "赵六", "孙七"):
        desk.arrive(name)
    assert call(desk.service) == "CT001"
    missed = desk.service.missed("CT1", username="tech")
    assert missed["ticket"]["status"] == "missed" and missed["room"]["current_ticket_id"] is None
    assert desk.service.return_due() == 0  # still suspended
    desk.clock.advance(minutes=5)
    assert desk.service.return_due() == 1
    assert numbers(desk.service) == ["CT002", "CT003", "CT001", "CT004", "CT005"]
    assert [call(desk.service) for _ in range(3)] == ["CT002", "CT003", "CT001"]
    returned = desk.service.ticket(desk.service.room("CT1").current_ticket_id or 0)
    assert returned.returned and returned.call_count == 2


def test_missed_patient_back_of_queue_and_absent_after_max(desk: Desk) -> None:
    change_queue(desk.service, missed_rule="back", missed_suspend_minutes=1, missed_max=2)
    for name in ("张三", "李四", "王五"):
        desk.arrive(name)
    call(desk.service)
    desk.service.missed("CT1", username="tech")
    desk.clock.advance(minutes=1)
    assert desk.service.return_due() == 1
    desk.arrive("赵六")
    assert numbers(desk.service) == ["CT002", "CT003", "CT001", "CT004"]
    assert desk.service.call_ticket("CT1", desk.service.queue_tickets("CT")[0].id, username="t")
    second = desk.service.missed("CT1", username="tech")
    assert second["ticket"]["status"] == "absent"
    assert numbers(desk.service) == ["CT002", "CT003", "CT004"]


def test_call_flow_room_states_and_refusals(desk: Desk, clock: Clock) -> None:
    service = desk.service
    with pytest.raises(QueueRefusal) as refused:
        service.call_next("CT1", username="tech")
    assert refused.value.code == "no_waiting_patient"
    desk.arrive("张三")
    desk.arrive("李四")
    with pytest.raises(QueueRefusal) as refused:
        service.start("CT1", username="tech")
    assert refused.value.code == "no_current_patient"
    first = service.call_next("CT1", username="tech")
    # A room with a called patient is "calling" (it showed 空闲 / idle: issue 18 item 25).
    assert first["room"]["state"] == "calling" and first["ticket"]["status"] == "called"
    assert service.room("CT1").state == "calling"
    started = service.start("CT1", username="tech")
    assert started["room"]["state"] == "busy" and started["ticket"]["status"] == "in_progress"
    service.pause("CT1", username="tech")
    assert service.room("CT1").state == "paused"
    with pytest.raises(QueueRefusal) as refused:
        service.call_next("CT1", username="tech")
    assert refused.value.code == "room_paused"
    assert service.pause("CT1", username="tech", paused=False)["room"]["state"] == "busy"
    # call-next closes the current exam, without close_current it refuses
    with pytest.raises(QueueRefusal) as refused:
        service.call_next("CT1", username="tech", close_current=False)
    assert refused.value.code == "wrong_status"
    second = service.call_next("CT1", username="tech")
    assert second["ticket"]["number"] == "CT002"
    assert service.ticket(first["ticket"]["id"]).status == "finished"
    assert second["room"]["state"] == "calling"
    service.pause("CT1", username="tech")
    assert service.pause("CT1", username="tech", paused=False)["room"]["state"] == "calling"
    recalled = service.recall("CT1", username="tech")
    assert recalled["ticket"]["call_count"] == 2
    finished = service.finish("CT1", username="tech")
    assert finished["room"] == {**finished["room"], "state": "idle", "current_ticket_id": None}
    # the chosen patient is taken by another room: ticket_taken
    third = desk.arrive("王五")
    service.call_ticket("CT2", third.id, username="tech")
    with pytest.raises(QueueRefusal) as refused:
        service.call_ticket("CT1", third.id, username="tech")
    assert refused.value.code == "ticket_taken"
    # a device bound to CT2 may not act on CT1
    with pytest.raises(QueueRefusal) as refused:
        service.recall("CT1", username="dev", allowed_room="CT2")
    assert refused.value.code == "not_your_room"


def test_minimum_interval_between_calls(desk: Desk, clock: Clock) -> None:
    from dataclasses import replace

    service = desk.service
    service.save_room(replace(service.room("CT1"), min_call_interval_seconds=5), create=False)
    desk.arrive("张三")
    desk.arrive("李四")
    service.call_next("CT1", username="tech")
    with pytest.raises(QueueRefusal) as refused:
        service.recall("CT1", username="tech")
    assert refused.value.code == "too_soon" and refused.value.values["retry_after"] == 5
    clock.advance(seconds=5)
    assert service.recall("CT1", username="tech")["ticket"]["call_count"] == 2


def test_concurrent_call_next_never_gives_the_same_patient(desk: Desk) -> None:
    service = desk.service
    for i in range(30):
        desk.arrive(f"患者{i}", minutes=0.1)
    start = threading.Barrier(4)

    def caller(room: str) -> list[int]:
        start.wait()
        got = []
        for _ in range(10):
            try:
                body = service.call_next(room, username=room)
            except QueueRefusal as exc:
                assert exc.code == "no_waiting_patient"
                continue
            if body["ticket"] is not None:
                got.append(body["ticket"]["id"])
        return got

    # Two rooms, two devices each (a double-pressed button on two terminals).
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(caller, ["CT1", "CT2", "CT1", "CT2"]))
    called = [t for r in results for t in r]
    assert len(called) == len(set(called)) == 30


def test_idempotent_resend_acts_once(desk: Desk) -> None:
    service = desk.service
    for name in ("张三", "李四", "王五"):
        desk.arrive(name)
    first = service.call_next("CT1", username="dev1", key=("dev1", "k-1"))
    with pytest.raises(Replayed) as again:
        service.call_next("CT1", username="dev1", key=("dev1", "k-1"))
    assert again.value.status == 200 and again.value.body == first
    assert numbers(service) == ["CT002", "CT003"]
    # The same key from another device is another action.
    other = service.call_next("CT2", username="dev2", key=("dev2", "k-1"))
    assert other["ticket"]["number"] == "CT002"
    # A refusal is not remembered: the resend is evaluated afresh.
    service.pause("CT1", username="dev1")
    with pytest.raises(QueueRefusal):
        service.call_next("CT1", username="dev1", key=("dev1", "k-2"))
    service.pause("CT1", username="dev1", paused=False)
    assert service.call_next("CT1", username="dev1", key=("dev1", "k-2"))["ticket"]["number"] == (
        "CT003"
    )


def test_journal_is_gap_free_and_resumable(desk: Desk) -> None:
    service = desk.service
    with db.read(service.engine) as conn:
        before = journal_module.latest(conn)
    desk.arrive("张三")
    service.call_next("CT1", username="tech")
    with db.read(service.engine) as conn:
        events = journal_module.since(conn, before)
        assert journal_module.can_replay(conn, before)
        assert not journal_module.can_replay(conn, journal_module.latest(conn) + 5)
    assert [e.seq for e in events] == list(range(before + 1, before + 1 + len(events)))
    assert [e.type for e in events] == ["ticket.created", "ticket.called", "room.updated"]
    called = events[1].payload
    assert called["voice_text"] == "请CT001号张三到CT1室检查" and called["name"] == "张*"


def test_state_survives_a_restart(desk: Desk, database_url: str, clock: Clock) -> None:
    service = desk.service
    for name in ("张三", "李四", "王五"):
        desk.arrive(name)
    service.call_next("CT1", username="tech")
    service.start("CT1", username="tech")
    before = service.room_state("CT1")
    service.engine.dispose()

    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        restarted = QueueService(engine, EventBus(), clock=clock)
        assert restarted.room_state("CT1") == before
        assert before["room"]["state"] == "busy" and before["current"]["number"] == "CT001"
        assert restarted.call_next("CT1", username="tech")["ticket"]["number"] == "CT002"
    finally:
        engine.dispose()


def test_numbers_restart_each_day_and_old_tickets_close(desk: Desk, clock: Clock) -> None:
    desk.arrive("张三")
    desk.service.call_next("CT1", username="dev", key=("dev", "monday-1"))
    clock.advance(days=1)
    assert desk.service.close_past_days() == 1
    assert desk.service.room("CT1").current_ticket_id is None
    assert desk.arrive("李四").number == "CT001"
    # Idempotency keys are forgotten after 48 h: the same key is a new press then.
    clock.advance(days=2)
    desk.service.housekeeping()
    desk.arrive("王五")
    assert desk.service.call_next("CT1", username="dev", key=("dev", "monday-1"))["ticket"]


def test_screen_state_masks_names_and_lists(desk: Desk) -> None:
    from core_server.queueing import Screen

    service = desk.service
    service.save_screen(Screen(code="1F", name="一楼", queues=("CT",)), create=True)
    for name in ("张三", "欧阳娜娜", "李四丰"):
        desk.arrive(name)
    service.call_next("CT1", username="tech")
    state = service.screen_state("1F")
    (queue,) = state["queues"]
    assert queue["counts"]["waiting"] == 2 and queue["counts"]["called"] == 1
    assert [w["name"] for w in queue["waiting"]] == ["欧**娜", "李*丰"]
    assert queue["called"][0]["name"] == "张*" and queue["called"][0]["room"] == "CT1"
    assert state["current_call"]["voice_text"] == "请CT001号张三到CT1室检查"
    assert state["current_call"]["name"] == "张*"


def test_feed_delivers_events_of_other_processes_in_order(
    desk: Desk, database_url: str, clock: Clock
) -> None:
    """Two core processes share the database, not the bus: each one's feed still pushes the
    other's events, in sequence order, each once."""
    from core_server.queueing import EventFeed

    other_engine = db.make_engine(database_url)
    other = QueueService(other_engine, EventBus(), clock=clock)  # "another process"
    feed = EventFeed(desk.service.engine, desk.service.bus, poll_seconds=0.05)
    seen: list[int] = []
    done = threading.Event()

    def listener(event: journal_module.Event) -> None:
        seen.append(event.seq)
        if event.type == "ticket.called":
            done.set()

    feed.add(listener)
    feed.start()
    try:
        desk.arrive("张三")  # this process: handed over directly
        other.call_next("CT2", username="tech")  # the other process: found by polling
        assert done.wait(30)
    finally:
        feed.stop()
        other_engine.dispose()
    assert seen == list(range(seen[0], seen[0] + len(seen)))
    assert len(seen) == 3  # ticket.created, ticket.called, room.updated
