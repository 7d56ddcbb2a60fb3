"""``/api/quality``: the reasons list (administrators edit it), the QC worklist, an exam's
image grades with reasons, and sending an exam graded 差 back for a retake. Every change is
on the audit trail."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field

from core_server import auth
from core_server.quality import worklist
from core_server.quality.service import Actor, Quality
from core_server.web.security import client_address, require

# Who grades images: technicians and the doctors doing QC; the department head reads too.
GRADERS = ("technician", "reporting_doctor", "reviewing_doctor", "department_head", "admin")
router = APIRouter(prefix="/api/quality", tags=["quality"])
Grader = Annotated[auth.User, Depends(require(*GRADERS))]
Admin = Annotated[auth.User, Depends(require("admin"))]


class ReasonIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field("", max_length=64)
    position: int = 0


class ReasonChange(BaseModel):
    name_zh: str | None = Field(None, min_length=1, max_length=64)
    name_en: str | None = Field(None, max_length=64)
    active: bool | None = None
    position: int | None = None


class GradeIn(BaseModel):
    grade: Literal["excellent", "good", "fair", "poor"] = Field(description="优 良 中 差")
    reasons: list[str] = Field(default_factory=list, description="reason codes")
    note: str = Field("", max_length=1000)


class RetakeIn(BaseModel):
    kind: Literal["repeat", "supplementary", "additional"] = "repeat"
    reasons: list[str] | None = Field(None, description="default: the newest grade's reasons")
    note: str = Field("", max_length=1000)


def quality(request: Request) -> Quality:
    found: Quality = request.app.state.quality
    return found


def actor(request: Request, user: auth.User) -> Actor:
    return Actor(user.username, user.role, client_address(request))


@router.get("/reasons")
def reasons(request: Request, _user: Grader, active: bool = False) -> list[dict[str, Any]]:
    return [r.as_dict() for r in quality(request).reasons(active_only=active)]


@router.post("/reasons", status_code=201)
def add_reason(request: Request, body: ReasonIn, user: Admin) -> dict[str, Any]:
    added = quality(request).add_reason(**body.model_dump(), by=actor(request, user))
    return added.as_dict()


@router.patch("/reasons/{code}")
def change_reason(request: Request, code: str, body: ReasonChange, user: Admin) -> dict[str, Any]:
    changed = quality(request).update_reason(code, body.model_dump(), by=actor(request, user))
    return changed.as_dict()


@router.get("/exams")
def exams(
    request: Request,
    _user: Grader,
    date_from: date | None = None,
    date_to: date | None = None,
    modality: str = "",
    grade: str = "",
) -> list[dict[str, Any]]:
    """Performed exams of the days (default today) with their image grade and retake state;
    ``grade``: a grade, ``ungraded`` or ``waiting`` (sent back, retake not done)."""
    return worklist.exam_list(
        quality(request), date_from=date_from, date_to=date_to, modality=modality, grade=grade
    )


@router.get("/exams/{exam_id}")
def exam(request: Request, exam_id: int, _user: Grader) -> dict[str, Any]:
    """The exam's current grade, every grade given (newest first) and its retakes."""
    service = quality(request)
    grade, by = service.current_grade(exam_id)
    return {
        "exam_id": exam_id,
        "grade": grade,
        "graded_by": by,
        "grades": [g.as_dict() for g in service.grades(exam_id)],
        "retakes": [r.as_dict() for r in service.retakes(exam_id)],
    }


@router.put("/exams/{exam_id}/image-grade")
def grade(request: Request, exam_id: int, body: GradeIn, user: Grader) -> dict[str, Any]:
    given = quality(request).grade_images(
        exam_id, body.grade, body.reasons, body.note, by=actor(request, user)
    )
    return given.as_dict()


@router.post("/exams/{exam_id}/retake", status_code=201)
def send_back(request: Request, exam_id: int, body: RetakeIn, user: Grader) -> dict[str, Any]:
    """Send an exam graded 差 back for a retake (the RIS's retake step); its report waits."""
    sent = quality(request).send_back(
        exam_id, body.kind, body.reasons, body.note, by=actor(request, user)
    )
    return sent.as_dict()


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    if ctx.quality is None:
        return
    app.state.quality = ctx.quality  # the server's (it registers the retake hold on reporting)
    app.include_router(router)
