"""The storage rules page for admins (``/admin/storage/rules``, in the admin menu): rules
with their dry run, the runner's schedule and its tasks (docs/storage-rules.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[auth.User, Depends(require_page("admin"))]


@router.get("/admin/storage/rules")
def rules_page(request: Request, user: AdminPage) -> Response:
    return render(request, "storage/tiers_rules.html", {}, i18n_prefixes=("storage.rules.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app,
        PageLink("storage.rules.nav", "/admin/storage/rules", ("admin",), order=972, menu="admin"),
    )
