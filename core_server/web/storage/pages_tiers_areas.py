"""The storage areas page for admins (``/admin/storage/areas``, in the admin menu): the areas
with what each holds, add and edit a filesystem, S3 or offline area (a secret is never shown),
an offline area's sets and whether each is there to read, seal the current set
(docs/storage-tiers.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[auth.User, Depends(require_page("admin"))]


@router.get("/admin/storage/areas")
def areas_page(request: Request, user: AdminPage) -> Response:
    return render(request, "storage/tiers_areas.html", {}, i18n_prefixes=("storage.tiers.areas.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app,
        PageLink(
            "storage.tiers.areas.nav", "/admin/storage/areas", ("admin",), order=971, menu="admin"
        ),
    )
