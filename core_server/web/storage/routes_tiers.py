"""REST of the storage lifecycle's tiers part (docs/storage-tiers.md): the storage areas
(admin), where a study's objects have copies and its recall (staff who open images), the
consistency check (admin)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field

from core_server import auth
from core_server.refusals import Conflict
from core_server.storage.tiers.areas_service import Tiers, seal_set
from core_server.web.security import require
from core_server.web.storage import pages_tiers_areas, pages_tiers_retrieve, routes_tiers_rules

router = APIRouter(prefix="/api/storage", tags=["storage"])
Admin = Annotated[auth.User, Depends(require("admin"))]
# Who opens images (viewer, report editor, disc desk) and so may see and ask for a recall.
READERS = auth.STAFF_ROLES
Reader = Annotated[auth.User, Depends(require(*READERS))]


class AreaBody(BaseModel):
    name: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    location: str = Field(max_length=500)
    rank: int = Field(10, ge=1, le=1000)
    endpoint_url: str = Field("", max_length=500)
    region: str = Field("", max_length=64)
    access_key: str = Field("", max_length=128)
    secret_key: str = Field("", max_length=256)
    prefix: str = Field("", max_length=200)
    label: str = Field("", max_length=64)
    enabled: bool = True


class AreaChanges(BaseModel):
    kind: str | None = Field(None, max_length=16)
    location: str | None = Field(None, max_length=500)
    rank: int | None = Field(None, ge=1, le=1000)
    endpoint_url: str | None = Field(None, max_length=500)
    region: str | None = Field(None, max_length=64)
    access_key: str | None = Field(None, max_length=128)
    secret_key: str | None = Field(None, max_length=256)
    prefix: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=64)
    enabled: bool | None = None


class SealBody(BaseModel):
    next_label: str = Field(min_length=1, max_length=64)


class RecallBody(BaseModel):
    study_instance_uid: str = Field(min_length=1, max_length=64)


class CheckBody(BaseModel):
    sample: int | None = Field(None, ge=1, le=10_000_000)
    full: bool = False
    repair: bool = False


def tiers(request: Request) -> Tiers:
    found: Tiers = request.app.state.ctx.lifecycle.tiers
    return found


@router.get("/areas")
def list_areas(request: Request, _: Admin) -> list[dict[str, object]]:
    return tiers(request).list_areas()


@router.get("/areas/usage")
def areas_usage(request: Request, _: Admin) -> list[dict[str, object]]:
    """The areas with what each holds (copies, verified, bytes; offline sets, mounted or not)."""
    return tiers(request).usage()


@router.post("/areas", status_code=201)
def create_area(request: Request, body: AreaBody, _: Admin) -> dict[str, object]:
    return tiers(request).create_area(body.model_dump())


@router.put("/areas/{name}")
def update_area(request: Request, name: str, body: AreaChanges, _: Admin) -> dict[str, object]:
    return tiers(request).update_area(name, body.model_dump(exclude_none=True))


@router.delete("/areas/{name}", status_code=204)
def delete_area(request: Request, name: str, _: Admin) -> Response:
    tiers(request).delete_area(name)
    return Response(status_code=204)


@router.post("/areas/{name}/seal")
def seal(request: Request, name: str, body: SealBody, _: Admin) -> dict[str, object]:
    return seal_set(tiers(request), name, body.next_label)


@router.get("/studies/{study_instance_uid}/copies")
def study_copies(request: Request, study_instance_uid: str, _: Reader) -> dict[str, object]:
    return tiers(request).study_copies(study_instance_uid)


class StudiesBody(BaseModel):
    study_instance_uids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=500)


@router.post("/studies/nearline")
def nearline(request: Request, body: StudiesBody, _: Reader) -> dict[str, object]:
    """Of the studies named (a page of the study list), those whose objects are not all
    online, with their last recall: ``{"studies": {uid: {objects, online, recall}}}``."""
    return {"studies": tiers(request).nearline(body.study_instance_uids)}


@router.post("/recall", status_code=202)
def recall(request: Request, body: RecallBody, _: Reader) -> dict[str, object]:
    return tiers(request).recall_study(body.study_instance_uid)


@router.get("/check")
def last_check(request: Request, _: Admin) -> dict[str, Any]:
    report = tiers(request).check.last()
    return {"report": report.as_json() if report else None}


@router.post("/check", status_code=202)
def start_check(request: Request, body: CheckBody, _: Admin) -> dict[str, object]:
    """Start a check in the background; GET shows it (``finished_at`` null while it runs)."""
    checker = tiers(request).check
    if checker.busy:
        raise Conflict("storage.tiers.check_running")
    sample = None if body.full else (body.sample or checker.sample)
    thread = threading.Thread(
        target=_check_quietly, args=(checker, sample, body.repair), name="storage-check-now"
    )
    thread.start()
    return {"started": True, "mode": "full" if sample is None else "sample", "sample": sample}


def _check_quietly(checker: Any, sample: int | None, repair: bool) -> None:
    import logging

    try:
        checker.run(sample=sample, repair=repair)
    except Exception:
        logging.getLogger(__name__).exception("storage check failed")


def install(app: FastAPI) -> None:
    """Include this part's routers."""
    app.include_router(router)
    routes_tiers_rules.install(app)  # the lifecycle rules (helper B, docs/storage-rules.md)
    pages_tiers_retrieve.install(app)  # "retrieving n/N", then the viewer
    pages_tiers_areas.install(app)  # the areas admin page
