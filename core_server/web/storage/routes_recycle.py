"""REST of the recycle bin (docs/storage-recycle.md), admin only: delete a study, series or
instance to the bin, list, restore, empty, the time things stay; the page is in
:mod:`core_server.web.storage.pages_recycle`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from core_server import auth, clock, names
from core_server.archive import recycle as bin_
from core_server.archive.recycle import Entry
from core_server.refusals import Invalid
from core_server.storage.recycle.service import MAX_KEEP_DAYS, RecycleBin
from core_server.web.security import require
from core_server.web.storage import pages_recycle

router = APIRouter(prefix="/api/storage", tags=["storage"])
Admin = Annotated[auth.User, Depends(require("admin"))]
Reason = Annotated[str, Query(min_length=1, max_length=500, description="why (required)")]


class SettingsBody(BaseModel):
    keep_days: int = Field(ge=1, le=MAX_KEEP_DAYS)


class EmptyBody(BaseModel):
    confirm: bool = Field(description="true: the admin confirmed erasing everything now")


def service(request: Request) -> RecycleBin:
    found: RecycleBin = request.app.state.ctx.lifecycle.recycle
    return found


def shown(entry: Entry, bin_service: RecycleBin, keep_days: int) -> dict[str, Any]:
    return {
        "id": entry.id,
        "level": entry.level,
        "study_instance_uid": entry.study_instance_uid,
        "series_instance_uid": entry.series_instance_uid,
        "sop_instance_uid": entry.sop_instance_uid,
        "patient_id": entry.patient_id,
        "patient_name": names.display(entry.patient_name),
        "study_date": entry.study_date,
        "accession_number": entry.accession_number,
        "study_description": entry.study_description,
        "modalities": entry.modalities.split("\\") if entry.modalities else [],
        "instances": entry.instances,
        "size": entry.size,
        "username": entry.username,
        "reason": entry.reason,
        "rejection_code": entry.rejection_code,
        "rejection_note_uid": entry.rejection_note_uid,
        "deleted_at": clock.iso(entry.deleted_at),
        "erase_at": clock.iso(bin_service.erase_at(entry, keep_days)),
    }


def _deleted(request: Request, user: auth.User, level: str, uid: str, reason: str) -> Any:
    found = service(request)
    entry = found.delete(level, uid, username=user.username, reason=reason)
    return shown(entry, found, found.settings().keep_days)


@router.delete("/studies/{uid}")
def delete_study(request: Request, user: Admin, uid: str, reason: Reason) -> Any:
    """Move a study to the recycle bin (gone from C-FIND, QIDO, WADO and retrieves at once)."""
    return _deleted(request, user, "study", uid, reason)


@router.delete("/series/{uid}")
def delete_series(request: Request, user: Admin, uid: str, reason: Reason) -> Any:
    return _deleted(request, user, "series", uid, reason)


@router.delete("/instances/{uid}")
def delete_instance(request: Request, user: Admin, uid: str, reason: Reason) -> Any:
    return _deleted(request, user, "instance", uid, reason)


@router.get("/recycle-bin")
def list_bin(
    request: Request,
    user: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    found = service(request)
    settings = found.settings()
    entries = bin_.entries(found.engine, limit=limit, offset=offset)
    return {
        "keep_days": settings.keep_days,
        "total": bin_.count(found.engine),
        "entries": [shown(e, found, settings.keep_days) for e in entries],
    }


@router.get("/recycle-bin/studies/{uid}")
def study_in_bin(request: Request, user: Admin, uid: str) -> Any:
    """Is (part of) this study in the bin? (An exam whose study was deleted shows it.)"""
    return {"study_instance_uid": uid, "deleted": bin_.holds_study(service(request).engine, uid)}


@router.post("/recycle-bin/{entry_id}/restore")
def restore_entry(request: Request, user: Admin, entry_id: int) -> Any:
    """Put an entry back; 409 when one of its objects was stored again meanwhile."""
    found = service(request)
    entry = found.restore(entry_id, username=user.username)
    return shown(entry, found, found.settings().keep_days)


@router.post("/recycle-bin/empty")
def empty_bin(request: Request, user: Admin, body: EmptyBody) -> Any:
    """Erase everything in the bin now: files, copies elsewhere, rows (asks ``confirm``)."""
    if not body.confirm:
        raise Invalid("storage.recycle.confirm_required")
    return {"erased": service(request).empty(username=user.username)}


@router.get("/recycle-bin/settings")
def get_settings(request: Request, user: Admin) -> Any:
    settings = service(request).settings()
    return {
        "keep_days": settings.keep_days,
        "updated_at": clock.iso(settings.updated_at),
        "updated_by": settings.updated_by,
    }


@router.put("/recycle-bin/settings")
def put_settings(request: Request, user: Admin, body: SettingsBody) -> Any:
    service(request).set_keep_days(body.keep_days, user.username)
    return get_settings(request, user)


def install(app: FastAPI) -> None:
    app.include_router(router)
    pages_recycle.install(app)
