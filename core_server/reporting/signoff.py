"""Who may take which step of a report, given the department's sign-off levels.

::

    draft --submit--> submitted --sign (2 levels)--------------------> signed
      ^                   |  \\--review (3 levels)--> reviewed --sign--^   |
      +------reject-------+----------------------------+                  |
      +------------------------------amend------------------------------- +

* One level (a department so configured, or any emergency exam): the author signs the draft.
* Two levels: a resident (or anyone) writes and submits; an attending or chief signs.
* Three levels: a resident writes, an attending reviews, a chief signs.
* A reviewer never reviews or signs their own report (except at one level).
* Amending a signed report reopens it as a draft (the signed version is kept); it goes through
  the same steps again and its next signature is a correction (HL7 OBR-25 ``C``).
"""

from __future__ import annotations

from collections.abc import Callable

from core_server.reporting.models import GRADE_RANK, Conflict, Forbidden, Grade, ReportStatus

S = ReportStatus

ROLE_GRADES = {"reporting_doctor": Grade.RESIDENT, "reviewing_doctor": Grade.ATTENDING}
# The workflow steps, in the order a page shows their buttons.
STEPS = ("submit", "review", "sign", "reject", "amend")


def _rank(grade: Grade | None) -> int:
    return GRADE_RANK[grade] if grade is not None else 0


def _need(grade: Grade | None, needed: Grade, code: str) -> None:
    """``code`` says which step needs which grade (its text names both)."""
    if _rank(grade) < GRADE_RANK[needed]:
        raise Forbidden(code)


def _status(status: str, *allowed: ReportStatus, code: str) -> None:
    if status not in allowed:
        raise Conflict(code, status=status)


def _doctor(grade: Grade | None) -> None:
    if grade is None:
        raise Forbidden("reporting.signoff.doctors_only")


def check_edit(status: str, grade: Grade | None) -> None:
    """Editing the text: the author while a draft, the reviewer of the next step after."""
    if status == S.SIGNED:
        raise Conflict("reporting.signoff.signed")
    _doctor(grade)
    if status == S.SUBMITTED:
        _need(grade, Grade.ATTENDING, "reporting.signoff.edit_needs_attending")
    elif status == S.REVIEWED:
        _need(grade, Grade.CHIEF, "reporting.signoff.edit_needs_chief")


def check_submit(status: str, grade: Grade | None, levels: int) -> None:
    _status(status, S.DRAFT, code="reporting.signoff.submit_status")
    _doctor(grade)
    if levels == 1:
        raise Conflict("reporting.signoff.one_level")


def check_review(status: str, grade: Grade | None, levels: int, username: str, author: str) -> None:
    if levels != 3:
        raise Conflict("reporting.signoff.no_review")
    _status(status, S.SUBMITTED, code="reporting.signoff.review_status")
    _need(grade, Grade.ATTENDING, "reporting.signoff.review_needs_attending")
    if username == author:
        raise Forbidden("reporting.signoff.own_review")


def check_sign(
    status: str,
    grade: Grade | None,
    levels: int,
    emergency: bool,
    username: str,
    author: str,
) -> None:
    if status == S.DRAFT:
        if levels != 1 and not emergency:
            raise Conflict("reporting.signoff.submit_first")
        _doctor(grade)
        return
    if status == S.SUBMITTED:
        if levels == 3:
            raise Conflict("reporting.signoff.review_first")
        _need(grade, Grade.ATTENDING, "reporting.signoff.sign_needs_attending")
    elif status == S.REVIEWED:
        _need(grade, Grade.CHIEF, "reporting.signoff.sign_needs_chief")
    else:
        _status(status, S.DRAFT, S.SUBMITTED, S.REVIEWED, code="reporting.signoff.sign_status")
    if username == author:
        raise Forbidden("reporting.signoff.own_sign")


def check_reject(status: str, grade: Grade | None, reason: str) -> None:
    _status(status, S.SUBMITTED, S.REVIEWED, code="reporting.signoff.reject_status")
    if status == S.REVIEWED:
        _need(grade, Grade.CHIEF, "reporting.signoff.reject_needs_chief")
    else:
        _need(grade, Grade.ATTENDING, "reporting.signoff.reject_needs_attending")
    if not reason.strip():
        raise Conflict("reporting.signoff.reason_required")


def check_amend(status: str, grade: Grade | None, reason: str) -> None:
    _status(status, S.SIGNED, code="reporting.signoff.amend_status")
    _doctor(grade)
    if not reason.strip():
        raise Conflict("reporting.signoff.reason_required")


def allowed_steps(
    status: str,
    grade: Grade | None,
    levels: int,
    *,
    emergency: bool,
    username: str,
    author: str,
) -> list[str]:
    """The steps (and ``edit``) this doctor may take on a report now, by the same checks the
    steps themselves run: the page shows these buttons and nothing else."""
    checks: dict[str, Callable[[], None]] = {
        "edit": lambda: check_edit(status, grade),
        "submit": lambda: check_submit(status, grade, levels),
        "review": lambda: check_review(status, grade, levels, username, author),
        "sign": lambda: check_sign(status, grade, levels, emergency, username, author),
        "reject": lambda: check_reject(status, grade, "reason"),
        "amend": lambda: check_amend(status, grade, "reason"),
    }
    allowed = []
    for name, check in checks.items():
        try:
            check()
        except (Conflict, Forbidden):
            continue
        allowed.append(name)
    return allowed
