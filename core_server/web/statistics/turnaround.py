"""Time quality's own pages and API beside the figures: the turnaround targets and working
hours (``GET /api/statistics/targets`` for readers, ``PUT`` for the administrator, audited),
and the exams overdue now (``GET /api/statistics/overdue``), with their pages
``/statistics/targets`` and ``/statistics/overdue``.

Installed before the generic ``/statistics/{name}`` figure page, so these two paths are
theirs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth, db
from core_server.refusals import Invalid
from core_server.statistics import targets
from core_server.statistics.overdue import overdue
from core_server.web.security import audit, require, require_page
from core_server.web.statistics.access import READERS
from core_server.web.templating import PageLink, add_page_link, render

api = APIRouter(prefix="/api/statistics", tags=["statistics"])
pages = APIRouter(include_in_schema=False)
Reader = Annotated[auth.User, Depends(require(*READERS))]
Admin = Annotated[auth.User, Depends(require("admin"))]
PageReader = Annotated[auth.User, Depends(require_page(*READERS))]
_TEXTS = ("statistics.",)


def _engine(request: Request) -> Any:
    return request.app.state.ctx.engine


@api.get("/targets")
def get_targets(request: Request, user: Reader) -> dict[str, Any]:
    """Every target (department ``""`` = every department, priority ``""`` = any) and each
    department's working hours (``1-5 08:00-12:00,13:30-17:30``)."""
    with db.read(_engine(request)) as conn:
        return targets.listing(conn)


@api.put("/targets")
def put_targets(
    request: Request, user: Admin, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Replace the whole set (what ``GET`` answers, ``targets`` and ``working_hours``)."""
    items, hours = body.get("targets"), body.get("working_hours", [])
    if not isinstance(items, list) or not isinstance(hours, list):
        raise Invalid("statistics.targets.bad_body")
    if not all(isinstance(x, dict) for x in [*items, *hours]):
        raise Invalid("statistics.targets.bad_body")
    parsed, rules = targets.parse_targets(items), targets.parse_hours(hours)
    with db.write(_engine(request)) as conn:
        targets.replace(conn, parsed, rules)
        answer = targets.listing(conn)
    audit(request, user, "statistics.targets", "targets", answer)
    return answer


@api.get("/overdue")
def get_overdue(
    request: Request, user: Reader, department: str = "", modality: str = ""
) -> dict[str, Any]:
    """Exams whose current step is past its target now, most overdue first."""
    with db.read(_engine(request)) as conn:
        return overdue(conn, department=department.strip(), modality=modality.strip())


@pages.get("/statistics/targets")
def targets_page(request: Request, user: PageReader) -> Response:
    data = {"editable": user.role == "admin"}
    return render(request, "statistics/targets.html", {"page_data": data}, i18n_prefixes=_TEXTS)


@pages.get("/statistics/overdue")
def overdue_page(request: Request, user: PageReader) -> Response:
    return render(request, "statistics/overdue.html", {}, i18n_prefixes=_TEXTS)


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(pages)
    add_page_link(
        app, PageLink("statistics.nav.overdue", "/statistics/overdue", READERS, 510, menu="work")
    )
    add_page_link(
        app, PageLink("statistics.nav.targets", "/statistics/targets", ("admin",), order=900)
    )
