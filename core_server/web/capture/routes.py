"""``/api/capture``: endoscopes and their disinfection log, the scope an exam uses (the capture
station, by its device key, or staff), and the exam's pathology request form
(docs/capture-core.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from core_server import auth, clock, queueing
from core_server.capture import BiopsySite, Pathology, Scopes, scope_log
from core_server.capture.arrivals import StudyArrivals
from core_server.refusals import Forbidden, NotFound
from core_server.web.security import client_address, require

# Nurses use the technician role; doctors read the log and fill in pathology forms.
DOCTORS = ("reporting_doctor", "reviewing_doctor", "department_head")
KEEPERS = ("admin", "technician")
READERS = (*KEEPERS, *DOCTORS)

router = APIRouter(prefix="/api/capture", tags=["capture"])
Keeper = Annotated[auth.User, Depends(require(*KEEPERS))]
Reader = Annotated[auth.User, Depends(require(*READERS))]
Station = Annotated[auth.User, Depends(require(*READERS, "device"))]


class ScopeBody(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="the scope ID on its tag")
    serial: str = Field("", max_length=64)
    model: str = Field("", max_length=64)
    kind: str = Field("", max_length=32, description="gastroscope, colonoscope...")


class DisinfectionBody(BaseModel):
    washer: str = Field("", max_length=64)
    cycle: str = Field("", max_length=32)
    started_at: datetime = Field(description="without an offset: the hospital's wall clock")
    ended_at: datetime | None = None
    operator: str = Field("", max_length=64)
    result: str = Field("passed", max_length=8, description="passed | failed")


class UseBody(BaseModel):
    scope: str = Field(min_length=1, max_length=64, description="scope ID or scanned code")


class SiteBody(BaseModel):
    site: str = Field(min_length=1, max_length=64)
    specimens: int = Field(1, ge=1, le=99)


class PathologyBody(BaseModel):
    sites: list[SiteBody] = Field(min_length=1, max_length=20)
    clinical_info: str = Field("", max_length=2000)
    requested_by: str = Field("", max_length=64)


def scopes(request: Request) -> Scopes:
    found: Scopes = request.app.state.capture_scopes
    return found


def pathology(request: Request) -> Pathology:
    found: Pathology = request.app.state.capture_pathology
    return found


def _station_or_staff(request: Request, user: auth.User) -> None:
    """A device may use these routes only as an enrolled capture station."""
    if user.role != "device":
        return
    device = queueing.devices.device_for_user(request.app.state.ctx.engine, user.username)
    if device is None or device.kind != "capture":
        raise Forbidden("capture.not_a_station")


@router.get("/scopes")
def list_scopes(request: Request, user: Station) -> dict[str, Any]:
    _station_or_staff(request, user)
    return {"scopes": [s.as_dict() for s in scopes(request).states()]}


@router.post("/scopes", status_code=201)
def add_scope(request: Request, body: ScopeBody, user: Keeper) -> dict[str, Any]:
    scope = scopes(request).add(body.code, serial=body.serial, model=body.model, kind=body.kind)
    return scopes(request).state(scope.code).as_dict()


@router.post("/scopes/{scope}/disinfections", status_code=201)
def record_disinfection(
    request: Request, scope: str, body: DisinfectionBody, user: Keeper
) -> dict[str, Any]:
    done = scopes(request).record(
        scope,
        started_at=body.started_at,
        ended_at=body.ended_at,
        result=body.result,
        washer=body.washer,
        cycle=body.cycle,
        operator=body.operator,
        by=user.username,
    )
    return done.as_dict()


@router.get("/scopes/{scope}/disinfections")
def scope_disinfections(
    request: Request, scope: str, user: Reader, day: date | None = None
) -> dict[str, Any]:
    return {"disinfections": [d.as_dict() for d in scopes(request).log(day, scope)]}


@router.get("/disinfections")
def disinfection_log(request: Request, user: Reader, day: date | None = None) -> dict[str, Any]:
    return {"disinfections": [d.as_dict() for d in scopes(request).log(day)]}


@router.get("/disinfections.{fmt}")
def disinfection_log_file(
    request: Request, fmt: str, user: Reader, day: date | None = None
) -> Response:
    shown = day or clock.today()
    log = scopes(request).log(shown)
    hospital = request.app.state.ctx.settings.hospital_name or "医学影像中心"
    name = f"disinfections-{shown.isoformat()}"
    if fmt == "pdf":
        body, media = scope_log.pdf(shown, log, hospital), "application/pdf"
    elif fmt == "xlsx":
        body = scope_log.xlsx(shown, log, hospital)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise NotFound("capture.log.unknown_format", format=fmt)
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    return Response(body, media_type=media, headers=headers)


@router.post("/exams/{exam_id}/scope")
def use_scope(request: Request, exam_id: int, body: UseBody, user: Station) -> dict[str, Any]:
    _station_or_staff(request, user)
    state = scopes(request).use(
        exam_id, body.scope, by=user.username, address=client_address(request)
    )
    return state.as_dict()


@router.get("/exams/{exam_id}/scope")
def exam_scope(request: Request, exam_id: int, user: Station) -> dict[str, Any]:
    _station_or_staff(request, user)
    state = scopes(request).exam_scope(exam_id)
    return state.as_dict() if state else {"scope": None, "last_disinfection": None, "warning": None}


@router.post("/exams/{exam_id}/pathology")
def record_pathology(
    request: Request, exam_id: int, body: PathologyBody, user: Reader
) -> dict[str, Any]:
    form = pathology(request).record(
        exam_id,
        [BiopsySite(s.site, s.specimens) for s in body.sites],
        clinical_info=body.clinical_info,
        requested_by=body.requested_by,
        by=user.username,
        address=client_address(request),
    )
    return form.as_dict()


@router.get("/exams/{exam_id}/pathology")
def get_pathology(request: Request, exam_id: int, user: Reader) -> dict[str, Any]:
    return pathology(request).get(exam_id).as_dict()


@router.get("/exams/{exam_id}/pathology.pdf")
def pathology_pdf(
    request: Request,
    exam_id: int,
    user: Reader,
    size: Annotated[str, Query(pattern="^(A5|A4)$")] = "A5",
) -> Response:
    body = pathology(request).pdf(exam_id, size)
    headers = {"Content-Disposition": f'inline; filename="pathology-{exam_id}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    if ctx.ris is None:
        return
    s = ctx.settings
    app.state.capture_scopes = Scopes(ctx.engine, ctx.ris, limit_hours=s.scope_disinfection_hours)
    app.state.capture_pathology = Pathology(
        ctx.engine, ctx.ris, hospital=s.hospital_name or "医学影像中心"
    )
    arrivals = app.state.capture_arrivals = StudyArrivals(ctx.engine, ctx.archive.bus)
    ctx.on_startup.append(arrivals.start)
    ctx.on_shutdown.append(arrivals.stop)
    app.include_router(router)
