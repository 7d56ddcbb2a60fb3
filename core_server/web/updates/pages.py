"""The admin page ``/admin/updates`` (in the admin menu): roles, versions, sizes, signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[auth.User, Depends(require_page("admin"))]


@router.get("/admin/updates")
def updates_page(request: Request, user: AdminPage) -> Response:
    return render(request, "updates/updates.html", {}, i18n_prefixes=("updates.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app, PageLink("updates.nav", "/admin/updates", ("admin",), order=965, menu="admin")
    )
