"""Film sheets of exams and films without exam (docs/film.md):

- ``GET /api/film/exams/{exam_id}/sheets``: the exam's sheet count and sheets (any staff).
- ``GET /api/film/sheets/unmatched``: sheets a modality printed that matched no exam, newest
  first (admin).
- ``POST /api/film/sheets/{sheet_id}/exam`` ``{"exam_id"}``: link one to its exam (admin): the
  sheet's study is reconciled to the exam (the RIS rewrites its patient and accession number
  through the archive's corrections) and the sheet counts for the exam. Audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field

from core_server import auth
from core_server.film import sheets
from core_server.refusals import Conflict, NotFound
from core_server.web.security import client_address, require

STAFF = (
    "admin",
    "registrar",
    "technician",
    "reporting_doctor",
    "reviewing_doctor",
    "department_head",
    "clinician",
)
router = APIRouter(prefix="/api/film", tags=["film"])
Staff = Annotated[auth.User, Depends(require(*STAFF))]
Admin = Annotated[auth.User, Depends(require("admin"))]


class LinkIn(BaseModel):
    exam_id: int = Field(ge=1)


@router.get("/exams/{exam_id}/sheets")
def exam_sheets(exam_id: int, request: Request, user: Staff) -> dict[str, Any]:
    found = sheets.sheets_of_exams(request.app.state.ctx.engine, [exam_id]).get(exam_id, [])
    return {"exam_id": exam_id, "count": len(found), "sheets": [s.as_json() for s in found]}


@router.get("/sheets/unmatched")
def unmatched(request: Request, user: Admin) -> list[dict[str, Any]]:
    return [s.as_json() for s in sheets.unmatched_sheets(request.app.state.ctx.engine)]


@router.post("/sheets/{sheet_id}/exam")
def link(sheet_id: int, body: LinkIn, request: Request, user: Admin) -> dict[str, Any]:
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


def install(app: FastAPI) -> None:
    app.include_router(router)
