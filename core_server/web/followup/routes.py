"""``/api/followup``: the follow-up list (due, overdue, done), marking an exam for follow-up,
recording the clinical diagnosis, treatment, pathology result, outcome and whether imaging and
pathology agree, closing a follow-up, and the pathology results no exam matched (assigned by
hand). Every change is audited by the follow-up service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from core_server import auth
from core_server.followup import Followup
from core_server.reporting import Doctor
from core_server.web.security import require

# Doctors follow their patients up; the department head watches the list.
USERS = ("reporting_doctor", "reviewing_doctor", "department_head", "admin")

router = APIRouter(prefix="/api/followup", tags=["followup"])
User = Annotated[auth.User, Depends(require(*USERS))]


class MarkBody(BaseModel):
    due_date: date | None = Field(None, description="随访日期 (a hospital day)")
    note: str = Field("", max_length=2000, description="随访说明")


class RecordBody(BaseModel):
    clinical_diagnosis: str | None = Field(None, max_length=20000, description="临床诊断")
    treatment: str | None = Field(None, max_length=20000, description="治疗")
    pathology_result: str | None = Field(None, max_length=20000, description="病理结果")
    clinical_outcome: str | None = Field(None, max_length=20000, description="临床随访结果")
    agreement: Literal["agree", "partly", "disagree", ""] | None = Field(
        None, description="影像与病理: 符合 / 部分符合 / 不符合"
    )


class DoneBody(BaseModel):
    done: bool = True


class AssignBody(BaseModel):
    accession_number: str = Field(min_length=1, max_length=64)


def service(request: Request) -> Followup:
    followup: Followup = request.app.state.followup
    return followup


def _doctor(user: auth.User) -> Doctor:
    return Doctor(user.username, user.role)


@router.get("")
def cases(
    request: Request,
    user: User,
    state: Annotated[Literal["due", "overdue", "done", "all"], Query()] = "due",
    mine: bool = False,
) -> dict[str, Any]:
    """One list and the size of each (``mine``: only exams whose report I wrote)."""
    found = service(request).cases(state, author=user.username if mine else "")
    return {"counts": service(request).counts(), "cases": [c.as_dict() for c in found]}


@router.get("/exams/{exam_id}")
def case(request: Request, exam_id: int, user: User) -> dict[str, Any]:
    return service(request).case(exam_id).as_dict()


@router.put("/exams/{exam_id}")
def mark(request: Request, exam_id: int, body: MarkBody, user: User) -> dict[str, Any]:
    """Mark an exam for follow-up (again: the date and note change, a done case reopens)."""
    found = service(request).mark(exam_id, _doctor(user), due_date=body.due_date, note=body.note)
    return found.as_dict()


@router.post("/accessions/{accession_number}")
def mark_by_accession(
    request: Request, accession_number: str, body: MarkBody, user: User
) -> dict[str, Any]:
    """The same, by the exam's accession number (what the doctor has in hand)."""
    exam = service(request).ris.exam_by_accession(accession_number)
    return mark(request, exam.id, body, user)


@router.put("/exams/{exam_id}/record")
def record(request: Request, exam_id: int, body: RecordBody, user: User) -> dict[str, Any]:
    found = service(request).record(exam_id, _doctor(user), **body.model_dump())
    return found.as_dict()


@router.put("/exams/{exam_id}/done")
def done(request: Request, exam_id: int, body: DoneBody, user: User) -> dict[str, Any]:
    return service(request).complete(exam_id, _doctor(user), done=body.done).as_dict()


@router.get("/pathology/unmatched")
def unmatched(request: Request, user: User) -> list[dict[str, Any]]:
    """Pathology results received that no exam matched: kept until assigned."""
    return [r.as_dict() for r in service(request).unmatched()]


@router.put("/pathology/{result_id}/exam")
def assign(request: Request, result_id: int, body: AssignBody, user: User) -> dict[str, Any]:
    exam = service(request).ris.exam_by_accession(body.accession_number)
    return service(request).assign(result_id, exam.id, _doctor(user)).as_dict()


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    if ctx.followup is None:
        return
    app.state.followup = ctx.followup  # the server's, which HL7 pathology results also reach
    app.include_router(router)
