"""The disc-job page (/discs): every job with its state and steps, live over the WebSocket;
retry and cancel; queueing an exam for a kiosk (the registration page links here with
``?exam=<id>``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.discs.routes import STAFF
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
User = Annotated[auth.User, Depends(require_page(*STAFF))]


@router.get("/discs")
def discs_page(request: Request, user: User) -> Response:
    return render(request, "discs/discs.html", {}, i18n_prefixes=("discs.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("discs.nav.discs", "/discs", STAFF, order=530, menu="work"))
