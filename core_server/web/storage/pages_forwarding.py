"""The forwarding page for admins (``/admin/storage/forwarding``, in the admin menu):
destinations with their connection test, rules with "apply to stored studies", the queue's
sizes and ages per destination, and the tasks, dead ones with their last error and re-queue
(docs/storage-forwarding.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.storage.forwarding import queue
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[auth.User, Depends(require_page("admin"))]
PATH = "/admin/storage/forwarding"


@router.get(PATH)
def forwarding_page(request: Request, user: AdminPage) -> Response:
    return render(
        request,
        "storage/forwarding.html",
        {"states": queue.STATES},
        i18n_prefixes=("storage.forwarding.",),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app, PageLink("storage.forwarding.nav", PATH, ("admin",), order=974, menu="admin")
    )
