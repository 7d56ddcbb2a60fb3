"""``/api/film/jobs``: film print jobs (docs/film-printing.md): listed with their state and
times, created from the composer or as a reprint of archived sheets, re-queued and cancelled
by staff; the desk's "cloud film only" mark on an exam. Job and printer changes are relayed
from the bus to the WebSocket journal, so ``/film/printers`` updates live."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field

from core_server import auth, db
from core_server.discs.cloud_opened import cloud_film_opened
from core_server.events import EventBus
from core_server.film.print_jobs import EVENT, MAX_COPIES, PRINTER_EVENT, PrintJobs
from core_server.queueing import journal
from core_server.web.film.routes_printers import STAFF
from core_server.web.security import require

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/film", tags=["film"])
Staff = Annotated[auth.User, Depends(require(*STAFF))]


class ImageRef(BaseModel):
    position: int = Field(ge=1, le=400)
    sop_instance_uid: str = Field(min_length=1, max_length=64)
    frame: int = Field(1, ge=1)
    window_center: float | None = None
    window_width: float | None = Field(None, gt=0)


class Composition(BaseModel):
    display_format: str = Field(max_length=64)
    film_size: str = Field("", max_length=16)
    orientation: str = Field("PORTRAIT", pattern="^(PORTRAIT|LANDSCAPE)$")
    images: list[ImageRef] = Field(min_length=1, max_length=400)


class JobBody(BaseModel):
    printer_id: int
    copies: int = Field(1, ge=1, le=MAX_COPIES)
    sheet_ids: list[int] = Field(default_factory=list, max_length=100)
    composition: Composition | None = None
    study_instance_uid: str = Field("", max_length=64)


class CloudOnlyBody(BaseModel):
    cloud_only: bool


def service(request: Request) -> PrintJobs:
    found: PrintJobs = request.app.state.film_jobs
    return found


@router.get("/jobs")
def list_jobs(request: Request, user: Staff) -> list[dict[str, Any]]:
    return [j.as_dict() for j in service(request).recent()]


@router.get("/jobs/{job_id}")
def get_job(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return service(request).get(job_id).as_dict()


@router.post("/jobs", status_code=201)
def create_job(request: Request, body: JobBody, user: Staff) -> dict[str, Any]:
    composition = body.composition.model_dump() if body.composition else None
    job = service(request).submit(
        body.printer_id,
        body.copies,
        user.username,
        sheet_ids=body.sheet_ids,
        composition=composition,
        study_instance_uid=body.study_instance_uid,
    )
    return job.as_dict()


@router.post("/jobs/{job_id}/requeue")
def requeue_job(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return service(request).requeue(job_id).as_dict()


@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return service(request).cancel(job_id).as_dict()


@router.put("/exams/{exam_id}/cloud-only")
def cloud_only(request: Request, exam_id: int, body: CloudOnlyBody, user: Staff) -> dict[str, Any]:
    service(request).set_cloud_only(exam_id, body.cloud_only, user.username)
    return {"exam_id": exam_id, "cloud_only": service(request).is_cloud_only(exam_id)}


def _relay(engine: Any, bus: EventBus) -> Any:
    """Bus -> the WebSocket journal (film is a domain below queueing: the adapter links them)."""

    def relay(topic: str, payload: dict[str, Any]) -> None:
        with db.write(engine) as conn:
            event = journal.append(conn, topic, payload)
        bus.publish(journal.TOPIC, {"seq": event.seq, "events": [event]})

    return relay


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    archive = ctx.archive

    def locate(uid: str) -> Path | None:
        found = archive.locate({"SOPInstanceUID": uid})
        return Path(found[0].path) if found else None

    jobs = PrintJobs(
        ctx.engine,
        archive.bus,
        app.state.film_printers,
        locate,
        calling_ae=ctx.settings.ae_title,
        # "Not already got as cloud film": the discs domain knows which links were opened.
        cloud_film_opened=lambda exam_id: cloud_film_opened(ctx.engine, exam_id),
    )
    app.state.film_jobs = jobs
    relay = _relay(ctx.engine, archive.bus)
    archive.bus.subscribe(EVENT, relay)
    archive.bus.subscribe(PRINTER_EVENT, relay)
    ctx.on_startup.append(jobs.start)
    ctx.on_shutdown.append(jobs.stop)
    app.include_router(router)
