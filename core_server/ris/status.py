"""The exam status machine.

::

    scheduled -> arrived -> in_progress -> completed -> reported -> verified
        |  \\          |  ^        |                      ^   |        |
        |   \\         |  +--------+ (MPPS DISCONTINUED)  |   +--------+ (report reopened)
        v    v        v
     no_show  cancelled

A modality may start an exam nobody checked in (scheduled -> in_progress, MPPS on a walk-in);
a check-in can be undone (arrived -> scheduled); a no-show who turns up late arrives or is
rebooked. Cancelled is final: a new order is placed instead. Reported and verified belong to
the reporting module, which moves them through :meth:`Ris.change_status` too.
"""

from __future__ import annotations

from core_server.ris.models import ExamStatus as S
from core_server.ris.models import IllegalTransition

TRANSITIONS: dict[S, frozenset[S]] = {
    S.SCHEDULED: frozenset({S.ARRIVED, S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW}),
    S.ARRIVED: frozenset({S.IN_PROGRESS, S.SCHEDULED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.ARRIVED}),
    S.COMPLETED: frozenset({S.REPORTED}),
    S.REPORTED: frozenset({S.VERIFIED, S.COMPLETED}),
    S.VERIFIED: frozenset({S.REPORTED}),
    S.NO_SHOW: frozenset({S.ARRIVED, S.SCHEDULED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
}

# Exams a modality worklist lists: booked and not yet done.
ON_WORKLIST = (S.SCHEDULED, S.ARRIVED, S.IN_PROGRESS)
# Exams whose order, procedure or patient may still change freely.
NOT_STARTED = (S.SCHEDULED, S.ARRIVED, S.NO_SHOW)

LABELS = {
    S.SCHEDULED: "已登记",
    S.ARRIVED: "已到检",
    S.IN_PROGRESS: "检查中",
    S.COMPLETED: "已检查",
    S.REPORTED: "已报告",
    S.VERIFIED: "已审核",
    S.CANCELLED: "已取消",
    S.NO_SHOW: "未到检",
}


def parse(status: str) -> S:
    try:
        return S(status)
    except ValueError:
        known = ", ".join(s.value for s in S)
        raise IllegalTransition("ris.status.unknown", status=status, known=known) from None


def check(old: str, new: str) -> S:
    """The new status if the step is allowed; :class:`IllegalTransition` naming the allowed
    steps otherwise."""
    current, target = parse(old), parse(new)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final)"
        raise IllegalTransition(
            "ris.status.illegal_step",
            old=current.value,
            new=target.value,
            old_label=LABELS[current],
            new_label=LABELS[target],
            allowed=allowed,
        )
    return target
