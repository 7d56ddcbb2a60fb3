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

from core_server.reporting.models import GRADE_RANK, Conflict, Forbidden, Grade, ReportStatus

S = ReportStatus

ROLE_GRADES = {"reporting_doctor": Grade.RESIDENT, "reviewing_doctor": Grade.ATTENDING}
LABELS = {S.DRAFT: "草稿", S.SUBMITTED: "待审核", S.REVIEWED: "已初审", S.SIGNED: "已签发"}


def _rank(grade: Grade | None) -> int:
    return GRADE_RANK[grade] if grade is not None else 0


def _need(grade: Grade | None, needed: Grade, what: str) -> None:
    if _rank(grade) < GRADE_RANK[needed]:
        names = {Grade.RESIDENT: "住院医师", Grade.ATTENDING: "主治医师", Grade.CHIEF: "主任医师"}
        raise Forbidden(
            f"{what}需要{names[needed]}及以上 / {what.strip()} needs a {needed.value} or above"
        )


def _status(status: str, *allowed: ReportStatus, what: str) -> None:
    if status not in allowed:
        names = "、".join(LABELS[s] for s in allowed)
        raise Conflict(
            f"报告状态为「{LABELS[S(status)]}」，只有「{names}」的报告可以{what} / "
            f"a {status} report cannot be {what} here"
        )


def check_edit(status: str, grade: Grade | None) -> None:
    """Editing the text: the author while a draft, the reviewer of the next step after."""
    if status == S.SIGNED:
        raise Conflict("报告已签发，请先修改（重开）报告 / the report is signed: amend it first")
    if grade is None:
        raise Forbidden("只有医生可以编辑报告 / only doctors edit reports")
    if status == S.SUBMITTED:
        _need(grade, Grade.ATTENDING, "审核修改")
    elif status == S.REVIEWED:
        _need(grade, Grade.CHIEF, "终审修改")


def check_submit(status: str, grade: Grade | None, levels: int) -> None:
    _status(status, S.DRAFT, what="提交")
    if grade is None:
        raise Forbidden("只有医生可以提交报告 / only doctors submit reports")
    if levels == 1:
        raise Conflict("本科室报告一级签发，请直接签发 / one-level sign-off: sign the report")


def check_review(status: str, grade: Grade | None, levels: int, username: str, author: str) -> None:
    if levels != 3:
        raise Conflict("本科室不设三级审核 / this department has no three-level review")
    _status(status, S.SUBMITTED, what="审核")
    _need(grade, Grade.ATTENDING, "审核")
    if username == author:
        raise Forbidden("不能审核自己书写的报告 / you cannot review your own report")


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
            raise Conflict(
                "报告需先提交审核，急诊报告可一级签发 / submit the report for review first "
                "(only emergency reports are signed at one level)"
            )
        if grade is None:
            raise Forbidden("只有医生可以签发报告 / only doctors sign reports")
        return
    if status == S.SUBMITTED:
        if levels == 3:
            raise Conflict(
                "三级审核：请先由主治医师审核 / three levels: an attending reviews first"
            )
        _need(grade, Grade.ATTENDING, "签发")
    elif status == S.REVIEWED:
        _need(grade, Grade.CHIEF, "终审签发")
    else:
        _status(status, S.DRAFT, S.SUBMITTED, S.REVIEWED, what="签发")
    if username == author:
        raise Forbidden("不能签发自己书写的报告 / you cannot sign your own report")


def check_reject(status: str, grade: Grade | None, reason: str) -> None:
    _status(status, S.SUBMITTED, S.REVIEWED, what="退回")
    _need(grade, Grade.CHIEF if status == S.REVIEWED else Grade.ATTENDING, "退回")
    if not reason.strip():
        raise Conflict("退回需填写原因 / a rejection needs a reason")


def check_amend(status: str, grade: Grade | None, reason: str) -> None:
    _status(status, S.SIGNED, what="修改")
    if grade is None:
        raise Forbidden("只有医生可以修改已签发报告 / only doctors amend signed reports")
    if not reason.strip():
        raise Conflict("修改已签发报告需填写原因 / amending a signed report needs a reason")
