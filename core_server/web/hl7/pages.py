"""The HL7 interface page for administrators: destinations, the outbound queue with its dead
letters (retry), and the inbound message log (with each ACK; reprocessing). A server-rendered
shell; its script works on the ``/api/hl7`` JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)


@router.get("/admin/hl7")
def hl7_page(
    request: Request, user: Annotated[auth.User, Depends(require_page("admin"))]
) -> Response:
    # The choices come from the running HL7 service (an adapter does not import another);
    # without one the page says the interface is off, as its API does.
    service = request.app.state.ctx.hl7
    return render(
        request,
        "hl7/admin.html",
        {
            "charsets": service.charsets if service else (),
            "purposes": service.purposes if service else (),
        },
        i18n_prefixes=("hl7.",),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("hl7.nav.admin", "/admin/hl7", ("admin",), order=915))
