"""``/api/statistics``: the list of figures, one figure as JSON (its table, totals, chart and
drill-down), as an Excel workbook or a PDF, and the exam list behind a figure's row.

Every figure takes the same query: ``start`` and ``end`` (hospital days, ISO dates, both
included; default this month so far) and any of ``department``, ``modality``, ``room``,
``procedure_code``, ``referring_department``, ``patient_class``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response

from core_server import auth
from core_server.statistics import DIMENSIONS, Filters, Statistics
from core_server.web.refusals import caller_language
from core_server.web.security import require
from core_server.web.statistics.access import READERS

router = APIRouter(prefix="/api/statistics", tags=["statistics"])
Reader = Annotated[auth.User, Depends(require(*READERS))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def service(request: Request) -> Statistics:
    statistics: Statistics = request.app.state.statistics
    return statistics


def filters(request: Request) -> Filters:
    return Filters.parse(request.query_params)


def _download(body: bytes, media_type: str, name: str, ext: str, chosen: Filters) -> Response:
    filename = f"{name}_{chosen.start.isoformat()}_{chosen.end.isoformat()}.{ext}"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("")
def figure_index(request: Request, user: Reader) -> dict[str, Any]:
    """The figures there are, by group, with their titles in the caller's language."""
    from core_server import i18n

    lang = caller_language(request)
    return {
        "dimensions": list(DIMENSIONS),
        "figures": [
            {"name": e.name, "title": i18n.translate(lang, e.title), "group": e.group}
            for e in service(request).index()
        ],
    }


@router.get("/choices")
def filter_choices(request: Request, user: Reader) -> dict[str, list[dict[str, Any]]]:
    """What each filter can be set to (departments, rooms, exam items...), labelled."""
    return service(request).choices(caller_language(request))


@router.get("/figures/{name}")
def get_figure(request: Request, name: str, user: Reader) -> dict[str, Any]:
    return service(request).figure(name, filters(request), caller_language(request))


@router.get("/figures/{name}/excel", response_class=Response)
def figure_excel(request: Request, name: str, user: Reader) -> Response:
    chosen = filters(request)
    body = service(request).excel(name, chosen, caller_language(request))
    return _download(body, XLSX, name, "xlsx", chosen)


@router.get("/figures/{name}/pdf", response_class=Response)
def figure_pdf(request: Request, name: str, user: Reader) -> Response:
    chosen = filters(request)
    body = service(request).pdf(name, chosen, caller_language(request))
    return _download(body, "application/pdf", name, "pdf", chosen)


@router.get("/exams")
def exams(
    request: Request, user: Reader, offset: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    """The exams behind a figure's row: the figure's filters, plus the row's drill-down keys
    (``day``, ``status`` or what a figure registered)."""
    known = {"start", "end", "offset", *DIMENSIONS}
    drill = {k: v for k, v in request.query_params.items() if k not in known}
    return service(request).exams(filters(request), drill, offset)


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    if ctx.statistics is None:
        return
    app.state.statistics = ctx.statistics
    app.include_router(router)
