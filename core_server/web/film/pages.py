"""The film printing admin page (/film/printers): the laser imagers with their live state and
the print jobs with state, tries, reason and times, re-queue and cancel, pushed over /api/ws."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.film.printers import DESTINATIONS, MEDIA, PRIORITIES
from core_server.film.sheet import FILM_SIZES_MM
from core_server.web.film.routes_printers import STAFF
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
User = Annotated[auth.User, Depends(require_page(*STAFF))]
# The menu shows the page to those who print films; the registration desk may still open it.
MENU_ROLES = tuple(r for r in STAFF if r not in ("registrar", "clinician"))


@router.get("/film/printers")
def printers_page(request: Request, user: User) -> Response:
    # The choices of the administrators' printer form (docs/film-printing.md).
    choices = {
        "film_sizes": list(FILM_SIZES_MM),
        "media": MEDIA,
        "destinations": DESTINATIONS,
        "priorities": PRIORITIES,
    }
    return render(request, "film/printers.html", choices, i18n_prefixes=("film.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app, PageLink("film.nav.printers", "/film/printers", MENU_ROLES, order=540, menu="work")
    )
