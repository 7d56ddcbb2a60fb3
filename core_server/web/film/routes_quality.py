"""Film quality grades (胶片质量): ``/api/film/quality`` and the page ``/film/quality``.

- ``GET /api/film/quality/sheets?start=&end=&grade=``: the sheets made on those hospital days
  (default today, at most 31), newest first, with exam, patient and current grade;
  ``grade`` one of the grades or ``ungraded``.
- ``GET /api/film/quality/sheets/{id}/picture.jpg?w=720``: the sheet's picture (the cloud
  film's JPEG and cache; each view audited).
- ``GET|POST /api/film/quality/sheets/{id}/grades``: its grades, newest first; give one
  (``{"grade", "reasons", "note"}``, 201). Audited.
- ``GET /api/film/quality/reasons``: the reason codes, in order.

Graders (``film.grades.GRADERS``): the administrator, the department head and reviewing
doctors.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from core_server import auth, clock, db
from core_server.film import cloud, grades
from core_server.refusals import Invalid
from core_server.web.security import client_address, require, require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(prefix="/api/film/quality", tags=["film"])
pages = APIRouter(include_in_schema=False)
Grader = Annotated[auth.User, Depends(require(*grades.GRADERS))]
GraderPage = Annotated[auth.User, Depends(require_page(*grades.GRADERS))]


class GradeIn(BaseModel):
    grade: Literal["excellent", "good", "fair", "poor"] = Field(description="优 良 中 差")
    reasons: list[str] = Field(default_factory=list, max_length=20, description="reason codes")
    note: str = Field("", max_length=1000)


def _day(value: str, fallback: date) -> date:
    try:
        return date.fromisoformat(value) if value else fallback
    except ValueError:
        raise Invalid("film.grade.bad_range", start=value, end=value) from None


@router.get("/reasons")
def reasons(_user: Grader) -> list[str]:
    return list(grades.REASONS)


@router.get("/sheets")
def sheets(
    request: Request, _user: Grader, start: str = "", end: str = "", grade: str = ""
) -> list[dict[str, Any]]:
    today = clock.today()
    first, last = _day(start, today), _day(end, today)
    if grade and grade not in (*grades.GRADES, "ungraded"):
        raise Invalid("film.grade.invalid", value=grade, allowed=", ".join(grades.GRADES))
    return grades.to_grade(request.app.state.ctx.engine, first, last, grade_filter=grade)


@router.get("/sheets/{sheet_id}/picture.jpg")
def picture(request: Request, sheet_id: int, user: Grader, w: int = cloud.WIDTHS[0]) -> Response:
    ctx = request.app.state.ctx
    with db.read(ctx.engine) as conn:
        ref = cloud.sheet(conn, sheet_id)
    jpeg = cloud.jpeg(ctx.archive, ref, w, ctx.settings.data_dir / "cache" / "film-sheets")
    cloud.log_view(
        ctx.engine,
        ref,
        width=w,
        username=user.username,
        address=client_address(request),
        via="film.quality",
    )
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/sheets/{sheet_id}/grades")
def grades_of(request: Request, sheet_id: int, _user: Grader) -> list[dict[str, Any]]:
    return [g.as_dict() for g in grades.grades_of(request.app.state.ctx.engine, sheet_id)]


@router.post("/sheets/{sheet_id}/grades", status_code=201)
def give_grade(request: Request, sheet_id: int, body: GradeIn, user: Grader) -> dict[str, Any]:
    given = grades.grade(
        request.app.state.ctx.engine,
        sheet_id,
        body.grade,
        body.reasons,
        body.note,
        by=user.username,
        role=user.role,
        address=client_address(request),
    )
    return given.as_dict()


@pages.get("/film/quality")
def quality_page(request: Request, _user: GraderPage) -> Response:
    return render(
        request,
        "film/quality.html",
        {"grades": grades.GRADES, "reasons": grades.REASONS},
        i18n_prefixes=("film.quality_ui.", "film.reason."),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(pages)
    add_page_link(
        app,
        PageLink("film.quality_ui.nav", "/film/quality", grades.GRADERS, order=525, menu="work"),
    )
