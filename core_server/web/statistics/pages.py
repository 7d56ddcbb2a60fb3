"""The statistics pages: the index of figures, one page that draws any figure (chart, table,
export buttons, a click on a row opens its exams), and the exam list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.statistics import DIMENSIONS
from core_server.statistics.figures import entry
from core_server.web.security import require_page
from core_server.web.statistics.access import READERS
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[auth.User, Depends(require_page(*READERS))]
_TEXTS = ("statistics.",)


@router.get("/statistics")
def index_page(request: Request, user: Reader) -> Response:
    return render(request, "statistics/index.html", {}, i18n_prefixes=_TEXTS)


@router.get("/statistics/exams")
def exams_page(request: Request, user: Reader) -> Response:
    return render(request, "statistics/exams.html", {}, i18n_prefixes=_TEXTS)


@router.get("/statistics/{name}")
def figure_page(request: Request, name: str, user: Reader) -> Response:
    found = entry(name)  # an unknown figure is the refusal's error page
    data = {"name": found.name, "dimensions": list(DIMENSIONS)}
    return render(
        request,
        "statistics/figure.html",
        {"title_key": found.title, "page_data": data},
        i18n_prefixes=_TEXTS,
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app,
        PageLink(
            "statistics.nav.statistics",
            "/statistics",
            READERS,
            order=500,
            landing=("department_head",),
            menu="work",
        ),
    )
