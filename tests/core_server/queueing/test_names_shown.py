"""Names, voice and times as people meet them (issue 18 items 1, 3 and 7): an HL7 name
``王^建国`` shows as 王建国 (masked 王*国 on public screens and tickets) and is spoken 王建国;
appointments scheduled in hospital time keep their order and the late rule with the machine in
UTC; every time carries the hospital's offset; the screen state names the hospital's zone."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core_server.queueing import TOPIC, QueueService, Screen
from core_server.queueing.records import masked_name
from tests.core_server.queueing.conftest import Clock, Desk, change_queue

SHANGHAI = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张*丰"),
        ("欧阳娜娜", "欧**娜"),
        ("李", "李"),
        ("ZHANG SAN", "Z**** S**"),
        ("王^建国", "王*国"),
        ("WANG^JIANGUO=王^建国", "王*国"),
        ("", ""),
    ],
)
def test_one_masking_rule(name: str, masked: str) -> None:
    """The cases device_kit.privacy had: the core masks, devices print what it sends."""
    assert masked_name(name) == masked


def _screen(service: QueueService) -> None:
    service.save_screen(Screen(code="1F", name="一楼", queues=("CT",)), create=True)


def test_an_hl7_name_is_shown_masked_and_spoken_without_caret(desk: Desk) -> None:
    service = desk.service
    _screen(service)
    ticket = desk.arrive("王^建国")
    assert (ticket.name, ticket.masked_name) == ("王建国", "王*国")
    called = service.call_next("CT1", username="tech")
    assert called["ticket"]["name"] == "王建国"
    state = service.screen_state("1F")
    call = state["current_call"]
    assert call["name"] == "王*国" and call["voice_text"] == "请CT001号王建国到CT1室检查"
    room = service.room_state("CT1")
    printed = service.print_ticket(ticket.id)
    assert printed["name"] == "王*国"
    for shown in (state, room, printed, called):
        assert "^" not in json.dumps(shown, ensure_ascii=False)


def test_the_voice_says_what_the_setting_allows_and_screens_get_no_full_name(
    desk: Desk,
) -> None:
    """Decision (docs/queue-api.md): voice_text is what is said aloud, so it carries the name
    as spoken (full by default, 王某某 with ``surname``, none with ``none``); every written name
    on a masked screen and in events is masked."""
    service = desk.service
    _screen(service)
    events: list[dict[str, object]] = []
    service.bus.subscribe(TOPIC, lambda _t, p: events.extend(e.payload for e in p["events"]))
    service.save_settings(replace(service.settings(), voice_name="surname"))
    desk.arrive("欧阳^娜娜")
    service.call_next("CT1", username="tech")
    assert (
        service.screen_state("1F")["current_call"]["voice_text"] == "请CT001号欧阳某某到CT1室检查"
    )
    service.save_settings(replace(service.settings(), voice_name="none"))
    service.recall("CT1", username="tech")
    state = json.dumps(service.screen_state("1F"), ensure_ascii=False)
    assert "欧阳娜娜" not in state and "娜娜" not in state and "欧**娜" in state
    assert service.screen_state("1F")["current_call"]["voice_text"] == "请CT001号到CT1室检查"
    assert not any("欧阳娜娜" in json.dumps(e, ensure_ascii=False) for e in events)


def test_appointments_in_hospital_time_order_and_lateness_with_the_machine_in_utc(
    desk: Desk, clock: Clock
) -> None:
    """An ORM for 14:12 local became appointment_at 14:12+00:00 (8 hours off)."""
    service = desk.service
    change_queue(service, order_by="appointment", late_grace_minutes=15)
    clock.now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
    # The RIS hands aware times; a wall-clock time without a zone is the hospital's too.
    later = desk.arrive("张三", minutes=0, scheduled_at=datetime(2026, 11, 29, 14, 40))
    sooner = desk.arrive(
        "李四", minutes=1, scheduled_at=datetime(2026, 11, 29, 14, 12, tzinfo=SHANGHAI)
    )
    assert sooner.appointment_at == datetime(2026, 11, 29, 6, 12, tzinfo=UTC)
    assert later.appointment_at == datetime(2026, 11, 29, 6, 40, tzinfo=UTC)
    assert not sooner.late and not later.late  # 14:01 is before both appointments
    assert sooner.as_dict()["appointment_at"] == "2026-11-29T14:12:00+08:00"
    assert [t.number for t in service.queue_tickets("CT", "waiting")] == ["CT002", "CT001"]
    # 14:30 local is 18 minutes after 14:12: late with 15 minutes' grace.
    clock.now = datetime(2026, 11, 29, 6, 30, tzinfo=UTC)
    late = desk.arrive("王五", minutes=0, scheduled_at=datetime(2026, 11, 29, 14, 12))
    on_time = desk.arrive("赵六", minutes=0, scheduled_at=datetime(2026, 11, 29, 14, 20))
    assert late.late and not on_time.late


def test_times_carry_the_hospital_offset_and_the_screen_names_the_zone(desk: Desk) -> None:
    service = desk.service
    _screen(service)
    ticket = desk.arrive("张三")
    service.call_next("CT1", username="tech")
    state = service.screen_state("1F")
    assert state["timezone"] == "Asia/Shanghai" and state["utc_offset_minutes"] == 480
    assert state["generated_at"].endswith("+08:00")
    assert state["current_call"]["called_at"].endswith("+08:00")
    assert ticket.as_dict()["arrived_at"].endswith("+08:00")
    assert service.print_ticket(ticket.id)["issued_at"].endswith("+08:00")
    assert service.room_state("CT1")["room"]["next_call_allowed_at"].endswith("+08:00")
    assert service.settings().timezone == "Asia/Shanghai"  # the core's, read-only


def test_an_empty_hospital_name_is_the_cores(database_url: str, clock: Clock) -> None:
    from core_server import db
    from core_server.events import EventBus

    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        service = QueueService(engine, EventBus(), clock=clock, hospital_name="某某市人民医院")
        assert service.settings().hospital_name == "某某市人民医院"
        saved = service.save_settings(replace(service.settings(), hospital_name="分院"))
        assert saved.hospital_name == "分院"
    finally:
        engine.dispose()
