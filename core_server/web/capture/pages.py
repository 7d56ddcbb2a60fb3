"""The capture pages: ``/capture/scopes`` (scopes, today's disinfection log, record a cycle,
print the log) for nurses (technician role) and administrators,
``/capture/exams/{exam_id}/pathology`` (the pathology request form, opened from the report
editor's images panel), and ``/capture/live`` (each
room's live picture) for supervisors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth, names
from core_server.refusals import NotFound
from core_server.web.capture.live import SUPERVISORS
from core_server.web.capture.routes import KEEPERS, READERS
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)


@router.get("/capture/scopes")
def scopes_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*KEEPERS))]
) -> Response:
    return render(request, "capture/scopes.html", {}, i18n_prefixes=("capture.",))


@router.get("/capture/exams/{exam_id}/pathology")
def pathology_page(
    request: Request, exam_id: int, user: Annotated[auth.User, Depends(require_page(*READERS))]
) -> Response:
    exam = request.app.state.ctx.ris.exam(exam_id)
    try:  # the saved form, so the page asks nothing that answers 404
        form = request.app.state.capture_pathology.get(exam_id).as_dict()
    except NotFound:
        form = None
    context = {"exam": exam, "patient": names.display(exam.patient_name), "form": form}
    return render(request, "capture/pathology.html", context, i18n_prefixes=("capture.",))


@router.get("/capture/live")
def live_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*SUPERVISORS))]
) -> Response:
    return render(request, "capture/live.html", {}, i18n_prefixes=("capture.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app, PageLink("capture.nav.scopes", "/capture/scopes", KEEPERS, order=540, menu="work")
    )
    add_page_link(
        app, PageLink("capture.nav.live", "/capture/live", SUPERVISORS, order=545, menu="work")
    )
