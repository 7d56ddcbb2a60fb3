"""The QC page: performed exams to grade, grading with reasons, sending back for a retake."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.quality.routes import GRADERS
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
Grader = Annotated[auth.User, Depends(require_page(*GRADERS))]


@router.get("/quality")
def quality_page(request: Request, user: Grader) -> Response:
    return render(request, "quality/quality.html", {}, i18n_prefixes=("quality_ui.", "quality."))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("quality.nav.quality", "/quality", GRADERS, order=520, menu="work"))
