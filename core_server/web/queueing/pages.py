"""The queue service's pages: the administrator's setup page and the web caller for staff in
an exam room. Both are thin: their scripts use the REST API and ``/api/ws``
(``docs/queue-api.md``) with the session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from core_server import auth, queueing
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

# Who calls patients from a browser: technicians, and the doctors of ultrasound/endoscopy rooms.
ROOM_STAFF = ("admin", "technician", "reporting_doctor", "reviewing_doctor")
# Who checks patients in and manages tickets at the desk.
DESK_STAFF = ("admin", "registrar", "technician")

router = APIRouter(include_in_schema=False)


@router.get("/queueing/admin")
def admin_page(
    request: Request, user: Annotated[auth.User, Depends(require_page("admin"))]
) -> Response:
    return render(
        request,
        "queueing/admin.html",
        {"priority_groups": list(queueing.PRIORITY_GROUPS)},
        i18n_prefixes=("queueing.",),
    )


@router.get("/queueing/caller")
def caller_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*ROOM_STAFF))]
) -> Response:
    return render(request, "queueing/caller.html", {}, i18n_prefixes=("queueing.",))


@router.get("/queueing/desk")
def desk_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*DESK_STAFF))]
) -> Response:
    return render(
        request,
        "queueing/desk.html",
        {"priority_groups": list(queueing.PRIORITY_GROUPS)},
        i18n_prefixes=("queueing.",),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("queueing.nav.desk", "/queueing/desk", DESK_STAFF, order=35))
    add_page_link(app, PageLink("queueing.nav.caller", "/queueing/caller", ROOM_STAFF, order=40))
    add_page_link(app, PageLink("queueing.nav.admin", "/queueing/admin", ("admin",), order=930))
