"""``/api/film/printers``: the department's laser imagers (docs/film-printing.md): staff read
them with their live state, administrators add and change them and ask one for its status
now (Printer N-GET). :func:`install` is the one line ``web/app.py`` calls for film printing:
it builds the printers and the print jobs, their worker, these routes, the job routes and
the pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core_server import auth
from core_server.film.print_scu import PrinterError, query_printer
from core_server.film.printers import Printers, PrinterSettings
from core_server.web.security import require

STAFF = (
    "admin",
    "registrar",
    "technician",
    "reporting_doctor",
    "reviewing_doctor",
    "department_head",
)
router = APIRouter(prefix="/api/film/printers", tags=["film"])
Staff = Annotated[auth.User, Depends(require(*STAFF))]
Admin = Annotated[auth.User, Depends(require("admin"))]


class PrinterBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    ae_title: str = Field(min_length=1, max_length=16)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    color: bool = False
    film_sizes: list[str] = Field(default_factory=lambda: ["14INX17IN"], max_length=12)
    media: list[str] = Field(default_factory=lambda: ["BLUE FILM"], max_length=3)
    default_film_size: str = "14INX17IN"
    default_medium: str = "BLUE FILM"
    default_destination: str = "PROCESSOR"
    default_priority: str = "MED"
    modalities: list[str] = Field(default_factory=list, max_length=30)
    departments: list[str] = Field(default_factory=list, max_length=30)
    auto_forward: bool = False
    skip_cloud_film: bool = False
    active: bool = True


def printers(request: Request) -> Printers:
    found: Printers = request.app.state.film_printers
    return found


@router.get("")
def list_printers(request: Request, user: Staff) -> list[dict[str, Any]]:
    return [p.as_dict() for p in printers(request).all()]


@router.get("/{printer_id}")
def get_printer(request: Request, printer_id: int, user: Staff) -> dict[str, Any]:
    return printers(request).get(printer_id).as_dict()


@router.post("", status_code=201)
def create_printer(request: Request, body: PrinterBody, user: Admin) -> dict[str, Any]:
    return printers(request).create(PrinterSettings(**body.model_dump())).as_dict()


@router.put("/{printer_id}")
def update_printer(
    request: Request, printer_id: int, body: PrinterBody, user: Admin
) -> dict[str, Any]:
    return printers(request).update(printer_id, PrinterSettings(**body.model_dump())).as_dict()


@router.post("/{printer_id}/check")
async def check_printer(request: Request, printer_id: int, user: Admin) -> dict[str, Any]:
    """Printer N-GET now; an unreachable printer is a state (UNREACHABLE), not an error."""
    service = printers(request)
    printer = service.get(printer_id)
    calling = request.app.state.ctx.settings.ae_title
    try:
        state = await run_in_threadpool(
            query_printer, printer.destination(calling), color=printer.color
        )
    except PrinterError as exc:
        from core_server.film.print_scu import PrinterState

        state = exc.state or PrinterState()
        state.status, state.status_info = "FAILURE", exc.reason
    said = await run_in_threadpool(service.record_state, printer_id, state)
    request.app.state.film_jobs.bus.publish("film.printer", {"printer": said.as_dict()})
    return said.as_dict()


def install(app: FastAPI) -> None:
    from core_server.web.film import pages, routes_jobs

    ctx = app.state.ctx
    app.state.film_printers = Printers(ctx.engine)
    routes_jobs.install(app)
    app.include_router(router)
    pages.install(app)
