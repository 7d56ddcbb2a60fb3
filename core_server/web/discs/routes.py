"""``/api/discs``: disc jobs (docs/discs.md): created by the desk or a kiosk, claimed and moved
through their steps by one kiosk (its device key), listed, cancelled and retried by the desk;
what the kiosk burns (the manifest, the archived files byte for byte, the report PDFs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from core_server import auth, queueing
from core_server.discs.contents import DiscContents
from core_server.discs.jobs import Actor, DiscJobs
from core_server.discs.models import MAX_COPIES, DiscJob
from core_server.periodic import Periodic
from core_server.refusals import Forbidden, Invalid, NotFound
from core_server.web.security import client_address, require

# Who queues, watches, cancels and retries disc jobs at the desk.
STAFF = ("admin", "registrar")
SWEEP_SECONDS = 5.0

router = APIRouter(prefix="/api/discs", tags=["discs"])
Anyone = Annotated[auth.User, Depends(require(*STAFF, "device"))]
Staff = Annotated[auth.User, Depends(require(*STAFF))]


class CreateBody(BaseModel):
    exam_ids: list[int] = Field(min_length=1, max_length=20)
    copies: int = Field(1, ge=1, le=MAX_COPIES)
    device: str | None = Field(None, max_length=48, description="the kiosk; null: any kiosk")


class ProgressBody(BaseModel):
    state: str = Field(max_length=12)
    message: str = Field("", max_length=2000)
    reason: str = Field("", max_length=48)
    disc: int | None = Field(None, ge=1, le=100)
    discs: int | None = Field(None, ge=1, le=100)


class CancelBody(BaseModel):
    reason: str = Field("", max_length=48)


def jobs(request: Request) -> DiscJobs:
    found: DiscJobs = request.app.state.disc_jobs
    return found


def contents(request: Request) -> DiscContents:
    found: DiscContents = request.app.state.disc_contents
    if found.output is None:  # report output is built after the web app; take it when there
        found.output = getattr(getattr(request.app.state, "core", None), "report_output", None)
    return found


def actor(request: Request, user: auth.User) -> Actor:
    """The user as a disc-job actor: a device must be an enrolled kiosk."""
    address = client_address(request)
    if user.role != "device":
        return Actor(user.username, user.role, None, address)
    device = queueing.devices.device_for_user(request.app.state.ctx.engine, user.username)
    if device is None or device.kind != "kiosk":
        raise Forbidden("discs.not_a_kiosk")
    return Actor(user.username, user.role, device.name, address)


def _readable(request: Request, user: auth.User, job_id: int) -> DiscJob:
    """The job, if this user may read it: staff, or the kiosk it is for or held by."""
    who = actor(request, user)
    job = jobs(request).get(job_id)
    if who.device is not None and who.device not in (job.device, job.holder):
        raise NotFound("discs.job_not_found", job_id=job_id)
    return job


@router.post("", status_code=201)
def create(request: Request, body: CreateBody, user: Anyone) -> dict[str, Any]:
    who = actor(request, user)
    if who.device is None and body.device is not None:
        _known_kiosk(request, body.device)
    return jobs(request).create(who, body.exam_ids, body.copies, body.device).as_dict()


@router.get("")
def listing(
    request: Request,
    user: Staff,
    state: Annotated[str, Query(max_length=12)] = "",
    device: Annotated[str, Query(max_length=48)] = "",
) -> list[dict[str, Any]]:
    return [j.as_dict() for j in jobs(request).jobs(state=state, device=device)]


@router.get("/kiosks")
def kiosks(request: Request, user: Staff) -> list[dict[str, Any]]:
    """The enrolled kiosks a job may be queued for."""
    engine = request.app.state.ctx.engine
    return [
        {"name": d.name, "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None}
        for d in queueing.devices.list_devices(engine)
        if d.kind == "kiosk"
    ]


@router.post("/claim", response_model=None)
def claim(request: Request, user: Anyone) -> dict[str, Any] | Response:
    job = jobs(request).claim(actor(request, user))
    return Response(status_code=204) if job is None else job.as_dict()


@router.get("/{job_id}")
def get(request: Request, job_id: int, user: Anyone) -> dict[str, Any]:
    return _readable(request, user, job_id).as_dict()


@router.post("/{job_id}/progress")
def progress(request: Request, job_id: int, body: ProgressBody, user: Anyone) -> dict[str, Any]:
    found = jobs(request).progress(
        actor(request, user),
        job_id,
        body.state,
        message=body.message,
        reason=body.reason,
        disc=body.disc,
        discs=body.discs,
    )
    return found.as_dict()


@router.post("/{job_id}/cancel")
def cancel(
    request: Request, job_id: int, user: Anyone, body: CancelBody | None = None
) -> dict[str, Any]:
    reason = body.reason if body is not None else ""
    return jobs(request).cancel(actor(request, user), job_id, reason).as_dict()


@router.post("/{job_id}/retry")
def retry(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return jobs(request).retry(actor(request, user), job_id).as_dict()


@router.get("/{job_id}/manifest")
def manifest(request: Request, job_id: int, user: Anyone) -> dict[str, Any]:
    return contents(request).manifest(_readable(request, user, job_id))


@router.get("/{job_id}/instances")
def instances(request: Request, job_id: int, user: Anyone) -> list[dict[str, Any]]:
    return [i.as_dict() for i in contents(request).instances(_readable(request, user, job_id))]


@router.get("/{job_id}/instances/{sop_instance_uid}")
def instance(request: Request, job_id: int, sop_instance_uid: str, user: Anyone) -> FileResponse:
    path = contents(request).instance(_readable(request, user, job_id), sop_instance_uid)
    return FileResponse(path, media_type="application/dicom")


@router.get("/{job_id}/reports/{name}")
def report_pdf(request: Request, job_id: int, name: str, user: Anyone) -> Response:
    exam = name.removesuffix(".pdf")
    if not name.endswith(".pdf") or not exam.isdigit():
        raise NotFound("discs.report_not_found", exam_id=exam)
    pdf = contents(request).report_pdf(_readable(request, user, job_id), int(exam))
    return Response(pdf, media_type="application/pdf")


def _known_kiosk(request: Request, name: str) -> None:
    engine = request.app.state.ctx.engine
    if not any(d.name == name and d.kind == "kiosk" for d in queueing.devices.list_devices(engine)):
        raise Invalid("discs.unknown_kiosk", device=name)


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    if ctx.ris is None:
        return
    s = ctx.settings
    service = DiscJobs(
        ctx.engine,
        ctx.archive.bus,  # the core's one bus
        ctx.ris,
        lease=timedelta(seconds=s.disc_lease_seconds),
        fee_per_disc_fen=round(s.disc_fee_yuan * 100),
        images_without_report=s.disc_images_without_report,
    )
    app.state.disc_jobs = service
    app.state.disc_contents = DiscContents(
        ctx.engine,
        ctx.ris,
        ctx.archive,
        ctx.reporting,
        None,
        hospital_name=s.hospital_name or "医学影像中心",
    )
    ticker = Periodic("disc-job-leases", SWEEP_SECONDS, service.sweep)
    # At start-up first: leases that ran out while the core was down end at once.
    ctx.on_startup += [service.sweep, ticker.start]
    ctx.on_shutdown.append(ticker.stop)
    app.include_router(router)
