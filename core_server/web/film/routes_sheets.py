"""Film sheets of exams and films without exam (docs/film.md):

- ``GET /api/film/exams/{exam_id}/sheets``: the exam's sheet count and sheets (any staff).
- ``GET /api/film/sheets/unmatched``: sheets a modality printed that matched no exam, newest
  first (admin, technician).
- ``GET /api/film/sheets/{sheet_id}/picture.jpg?w=720``: the sheet's picture (the one sheet
  renderer and its cache; each view audited) (admin, technician).
- ``GET /api/film/sheets/exams?accession=``: the exam with that accession number (a list of
  at most one, empty when there is none), to link a sheet to (admin, technician).
- ``POST /api/film/sheets/{sheet_id}/exam`` ``{"exam_id"}``: link one to its exam (admin,
  technician): the sheet's study is reconciled to the exam (the RIS rewrites its patient and
  accession number through the archive's corrections) and the sheet counts for the exam.
  Audited.
- ``/film/sheets``: the page of films without exam (admin, technician).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from core_server import auth, clock, names
from core_server.film import cloud, pictures, sheets
from core_server.refusals import Conflict, NotFound
from core_server.ris import NotFound as NoSuchExam
from core_server.web.security import client_address, require, require_page
from core_server.web.templating import PageLink, add_page_link, render

STAFF = auth.STAFF_ROLES
# Who sees and links films without exam: the administrator and the technicians who printed.
LINKERS = ("admin", "technician")
router = APIRouter(prefix="/api/film", tags=["film"])
pages = APIRouter(include_in_schema=False)
Staff = Annotated[auth.User, Depends(require(*STAFF))]
Linker = Annotated[auth.User, Depends(require(*LINKERS))]
LinkerPage = Annotated[auth.User, Depends(require_page(*LINKERS))]


class LinkIn(BaseModel):
    exam_id: int = Field(ge=1)


@router.get("/exams/{exam_id}/sheets")
def exam_sheets(exam_id: int, request: Request, user: Staff) -> dict[str, Any]:
    found = sheets.sheets_of_exams(request.app.state.ctx.engine, [exam_id]).get(exam_id, [])
    return {"exam_id": exam_id, "count": len(found), "sheets": [s.as_json() for s in found]}


@router.get("/sheets/unmatched")
def unmatched(request: Request, user: Linker) -> list[dict[str, Any]]:
    return [s.as_json() for s in sheets.unmatched_sheets(request.app.state.ctx.engine)]


@router.get("/sheets/exams")
def exam_of_accession(
    request: Request, user: Linker, accession: Annotated[str, Query(min_length=1, max_length=64)]
) -> list[dict[str, Any]]:
    """The exam a film without exam may be linked to, found by its accession number (a
    search: none found is an empty list, not an error)."""
    ris = request.app.state.ctx.ris
    try:
        exam = ris.exam_by_accession(accession) if ris is not None else None
    except NoSuchExam:
        exam = None
    if exam is None:
        return []
    found = {
        "id": exam.id,
        "accession_number": exam.accession_number,
        "patient_id": exam.patient_id,
        "patient_name": names.display(exam.patient_name),
        "modality": exam.modality,
        "procedure": exam.procedure_name,
        "status": exam.status,
        "scheduled_at": clock.iso(exam.scheduled_at) if exam.scheduled_at else None,
    }
    return [found]


@router.get("/sheets/{sheet_id}/picture.jpg")
def picture(request: Request, sheet_id: int, user: Linker, w: int = pictures.WIDTHS[0]) -> Response:
    ctx = request.app.state.ctx
    found = sheets.sheet(ctx.engine, sheet_id)
    jpeg = pictures.jpeg(ctx.archive, found, w, ctx.settings.data_dir / "cache" / "film-sheets")
    cloud.log_view(
        ctx.engine,
        found,
        width=w,
        username=user.username,
        address=client_address(request),
        via="film.sheets",
    )
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post("/sheets/{sheet_id}/exam")
def link(sheet_id: int, body: LinkIn, request: Request, user: Linker) -> dict[str, Any]:
    ctx = request.app.state.ctx
    found = sheets.sheet(ctx.engine, sheet_id)
    if found.exam_id is not None:
        raise Conflict("film.sheet_has_exam", sheet_id=sheet_id, exam_id=found.exam_id)
    if ctx.ris is None:
        raise NotFound("film.exam_not_found", exam_id=body.exam_id)
    ctx.ris.link_study(found.study_instance_uid, body.exam_id, username=user.username)
    sheets.link_sheet(ctx.engine, sheet_id, body.exam_id)
    auth.record_audit(
        ctx.engine,
        username=user.username,
        action="film.sheet_linked",
        target=f"exam:{body.exam_id}",
        detail={"sheet_id": sheet_id, "study_instance_uid": found.study_instance_uid},
        address=client_address(request),
    )
    return sheets.sheet(ctx.engine, sheet_id).as_json()


@pages.get("/film/sheets")
def sheets_page(request: Request, _user: LinkerPage) -> Response:
    return render(request, "film/sheets.html", {}, i18n_prefixes=("film.sheets_ui.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(pages)
    add_page_link(
        app, PageLink("film.sheets_ui.nav", "/film/sheets", LINKERS, order=530, menu="work")
    )
