"""The import page for registrars and admins (``/storage/import``): read a disc or upload
files, reconcile each outside patient to ours, store (docs/storage-importing.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
StaffPage = Annotated[auth.User, Depends(require_page("admin", "registrar"))]


@router.get("/storage/import")
def import_page(request: Request, user: StaffPage) -> Response:
    return render(request, "storage/importing.html", {}, i18n_prefixes=("storage.importing.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    # In the admin menu. A registrar may open the page too, but gets no header link: a
    # seventh work link would fold the registrar's header into a menu (the lead may link it
    # from the registration page instead).
    add_page_link(
        app,
        PageLink("storage.importing.nav", "/storage/import", ("admin",), order=978, menu="admin"),
    )
