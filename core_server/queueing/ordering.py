"""The calling order of a queue's waiting patients. Pure functions, no database.

1. Emergencies first (急诊/绿色通道), by arrival.
2. Then ordinary patients: the queue's priority groups (elderly, children, pregnant, military...)
   ahead of everyone else, then by arrival time, or by appointment time when the queue orders by
   appointment (walk-ins by their arrival, which competes with the booked times).
3. Late arrivals (arrived after appointment + grace) lose their booked time: either they are
   ordered by their arrival like walk-ins (rule ``back``) or one of them is inserted after every
   N ordinary patients (rule ``insert``).
4. A missed patient whose suspension ended returns either to the back of the queue (``back``:
   ordered by the time they returned) or inserted after every N ordinary patients (``insert``).

"After every N" counts ordinary patients called since the last inserted one: the queue keeps
that count (``regular_since_late`` / ``regular_since_returned``), reset when a first inserted
patient starts waiting, so a returning patient waits for N calls, not for N places that a
stream of newcomers would keep pushing away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    EMERGENCY = "emergency"
    RETURNED = "returned"  # back from a missed call, inserted every N
    LATE = "late"  # late for the appointment, inserted every N
    REGULAR = "regular"


@dataclass(frozen=True)
class Waiting:
    id: int
    arrived_at: datetime
    emergency: bool = False
    priority_group: str | None = None
    appointment_at: datetime | None = None
    late: bool = False
    returned: bool = False
    returned_at: datetime | None = None


@dataclass(frozen=True)
class Rules:
    order_by: str = "arrival"  # arrival | appointment
    priority_groups: frozenset[str] = frozenset()
    late_rule: str = "back"  # back | insert
    late_insert_every: int = 3
    missed_rule: str = "insert"  # back | insert
    missed_insert_every: int = 2
    regular_since_late: int = 0
    regular_since_returned: int = 0


def kind(ticket: Waiting, rules: Rules) -> Kind:
    if ticket.emergency:
        return Kind.EMERGENCY
    if ticket.returned and rules.missed_rule == "insert":
        return Kind.RETURNED
    if ticket.late and rules.late_rule == "insert":
        return Kind.LATE
    return Kind.REGULAR


def sort_key(ticket: Waiting, rules: Rules) -> tuple[int, int, datetime, int]:
    """(emergency first, priority tier, time, id) — also compares heads of different queues."""
    if ticket.returned and ticket.returned_at is not None:
        when = ticket.returned_at
    elif rules.order_by == "appointment" and ticket.appointment_at and not ticket.late:
        when = ticket.appointment_at
    else:
        when = ticket.arrived_at
    tier = 0 if ticket.priority_group and ticket.priority_group in rules.priority_groups else 1
    return (0 if ticket.emergency else 1, tier, when, ticket.id)


def order(waiting: Iterable[Waiting], rules: Rules) -> list[Waiting]:
    """The waiting patients in calling order."""
    streams: dict[Kind, list[Waiting]] = {k: [] for k in Kind}
    for ticket in waiting:
        streams[kind(ticket, rules)].append(ticket)
    for stream in streams.values():
        stream.sort(key=lambda t: sort_key(t, rules))
    result = list(streams[Kind.EMERGENCY])
    regular, returned, late = streams[Kind.REGULAR], streams[Kind.RETURNED], streams[Kind.LATE]
    since_returned, since_late = rules.regular_since_returned, rules.regular_since_late
    r = m = lt = 0
    while r < len(regular) or m < len(returned) or lt < len(late):
        no_regular_left = r >= len(regular)
        if m < len(returned) and (since_returned >= rules.missed_insert_every or no_regular_left):
            result.append(returned[m])
            m += 1
            since_returned = 0
        elif lt < len(late) and (since_late >= rules.late_insert_every or no_regular_left):
            result.append(late[lt])
            lt += 1
            since_late = 0
        else:
            result.append(regular[r])
            r += 1
            since_returned += 1
            since_late += 1
    return result


def counters_after_call(called: Kind, rules: Rules) -> tuple[int, int]:
    """(regular_since_late, regular_since_returned) once a patient of kind ``called`` is
    called."""
    if called is Kind.REGULAR:
        return rules.regular_since_late + 1, rules.regular_since_returned + 1
    if called is Kind.LATE:
        return 0, rules.regular_since_returned
    if called is Kind.RETURNED:
        return rules.regular_since_late, 0
    return rules.regular_since_late, rules.regular_since_returned


def first_of(heads: Sequence[tuple[Waiting, Rules]]) -> int | None:
    """Of the heads of several queues a room serves, the index of the one to call."""
    if not heads:
        return None
    return min(range(len(heads)), key=lambda i: sort_key(*heads[i]))
