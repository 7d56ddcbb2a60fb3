"""The follow-up page: the due, overdue and done lists, marking an exam, recording what became
of the patient and whether imaging and pathology agree, and the unmatched pathology results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.followup.routes import USERS
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
User = Annotated[auth.User, Depends(require_page(*USERS))]


@router.get("/followup")
def followup_page(request: Request, user: User) -> Response:
    return render(
        request, "followup/followup.html", {}, i18n_prefixes=("followup.", "reporting.agreement.")
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app, PageLink("followup.nav.followup", "/followup", USERS, order=520, menu="work")
    )
