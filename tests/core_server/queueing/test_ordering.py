"""The calling order as a pure function (the database-backed rules are in test_service.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core_server.queueing import ordering
from core_server.queueing.ordering import Kind, Rules, Waiting
from core_server.queueing.records import masked_name as mask_name

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ids(tickets: list[Waiting]) -> list[int]:
    return [t.id for t in tickets]


def test_emergency_then_priority_group_then_arrival() -> None:
    rules = Rules(priority_groups=frozenset({"elderly", "pregnant"}))
    waiting = [
        Waiting(1, at(0)),
        Waiting(2, at(1), priority_group="elderly"),
        Waiting(3, at(2), emergency=True),
        Waiting(4, at(3), priority_group="pregnant"),
        Waiting(5, at(4), priority_group="military"),  # a group this queue does not honour
        Waiting(6, at(5), emergency=True),
    ]
    assert ids(ordering.order(waiting, rules)) == [3, 6, 2, 4, 1, 5]


def test_appointment_order_walk_ins_by_arrival_late_ones_lose_their_slot() -> None:
    rules = Rules(order_by="appointment", late_rule="back")
    waiting = [
        Waiting(1, at(0), appointment_at=at(30)),
        Waiting(2, at(5), appointment_at=at(10)),
        Waiting(3, at(6), appointment_at=at(-30), late=True),
        Waiting(4, at(7)),  # walk-in
    ]
    assert ids(ordering.order(waiting, rules)) == [3, 4, 2, 1]


def test_inserted_every_n_counts_regular_calls_since_the_last_insert() -> None:
    regular = [Waiting(i, at(i)) for i in range(1, 6)]
    returned = Waiting(10, at(0), returned=True, returned_at=at(20))
    late = Waiting(11, at(21), late=True)
    rules = Rules(
        missed_rule="insert", missed_insert_every=2, late_rule="insert", late_insert_every=3
    )
    assert ids(ordering.order([*regular, returned, late], rules)) == [1, 2, 10, 3, 11, 4, 5]
    # One regular already called since the returned patient came back: one more, then them.
    rules_after = Rules(
        missed_rule="insert", missed_insert_every=2, regular_since_returned=1, late_rule="back"
    )
    assert ids(ordering.order([*regular, returned], rules_after)) == [1, 10, 2, 3, 4, 5]
    # Nobody regular left: inserted ones are not kept waiting.
    assert ids(ordering.order([returned, late], rules)) == [10, 11]


def test_missed_back_of_queue_goes_by_return_time() -> None:
    rules = Rules(missed_rule="back")
    waiting = [
        Waiting(1, at(0), returned=True, returned_at=at(10)),
        Waiting(2, at(5)),
        Waiting(3, at(11)),
    ]
    assert ids(ordering.order(waiting, rules)) == [2, 1, 3]


def test_counters_after_a_call() -> None:
    rules = Rules(regular_since_late=4, regular_since_returned=1)
    assert ordering.counters_after_call(Kind.REGULAR, rules) == (5, 2)
    assert ordering.counters_after_call(Kind.RETURNED, rules) == (4, 0)
    assert ordering.counters_after_call(Kind.LATE, rules) == (0, 1)
    assert ordering.counters_after_call(Kind.EMERGENCY, rules) == (4, 1)


def test_heads_of_several_queues() -> None:
    rules = Rules()
    heads = [(Waiting(1, at(3)), rules), (Waiting(2, at(5), emergency=True), rules)]
    assert ordering.first_of(heads) == 1
    assert ordering.first_of([]) is None


def test_masked_names() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("王") == "王"
    assert mask_name("ZHANG^SAN") == "Z**** S**"
    assert mask_name("") == ""
