"""``/api/storage/imports`` (docs/storage-importing.md): import sessions of a mounted disc
or folder, or of files uploaded from the browser; their foreign patients, the decision for
each (IHE IRWF.b), pictures/PDFs to wrap for an exam, then storing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from core_server import auth
from core_server.storage.importing.service import ImportService
from core_server.web.security import require

STAFF = ("admin", "registrar")
router = APIRouter(prefix="/api/storage/imports", tags=["storage"])
Staff = Annotated[auth.User, Depends(require(*STAFF))]


class OpenBody(BaseModel):
    source: str = Field(min_length=1, max_length=1024, description="a folder under the media roots")
    label: str = Field("", max_length=128)


class DecisionBody(BaseModel):
    decision: Literal["pending", "match", "keep", "skip"]
    patient_id: str = Field("", max_length=64)
    issuer: str = Field("", max_length=64)
    exam_id: int | None = None
    rekey: bool = False


class AttachBody(BaseModel):
    file_ids: list[int] = Field(min_length=1, max_length=1000)
    exam_id: int | None = None


def service(request: Request) -> ImportService:
    found: ImportService = request.app.state.ctx.lifecycle.importing
    return found


@router.get("")
def list_sessions(request: Request, user: Staff) -> list[dict[str, Any]]:
    return service(request).sessions()


@router.post("", status_code=201)
def open_media(request: Request, body: OpenBody, user: Staff) -> dict[str, Any]:
    return service(request).open_media(Path(body.source), username=user.username, label=body.label)


@router.post("/upload", status_code=201)
def open_upload(
    request: Request,
    user: Staff,
    files: Annotated[list[UploadFile], File(description="DICOM files, pictures, PDFs or zips")],
    label: Annotated[str, Form(max_length=128)] = "",
) -> dict[str, Any]:
    uploaded = [(f.filename or "upload", f.file) for f in files]
    return service(request).open_upload(uploaded, username=user.username, label=label)


@router.get("/{session_id}")
def get_session(request: Request, session_id: int, user: Staff) -> dict[str, Any]:
    return service(request).session(session_id)


@router.get("/{session_id}/patients/{row_id}/candidates")
def candidates(request: Request, session_id: int, row_id: int, user: Staff) -> list[dict[str, Any]]:
    return service(request).candidates(session_id, row_id)


@router.put("/{session_id}/patients/{row_id}")
def decide(
    request: Request, session_id: int, row_id: int, body: DecisionBody, user: Staff
) -> dict[str, Any]:
    return service(request).decide(
        session_id,
        row_id,
        decision=body.decision,
        username=user.username,
        patient_id=body.patient_id,
        issuer=body.issuer,
        exam_id=body.exam_id,
        rekey=body.rekey,
    )


@router.put("/{session_id}/documents")
def attach(request: Request, session_id: int, body: AttachBody, user: Staff) -> dict[str, Any]:
    return service(request).attach(session_id, body.file_ids, body.exam_id, username=user.username)


@router.post("/{session_id}/store", status_code=202)
def store(request: Request, session_id: int, user: Staff) -> dict[str, Any]:
    return service(request).store(session_id, username=user.username, wait=False)


def install(app: FastAPI) -> None:
    from core_server.web.storage import pages_importing

    app.include_router(router)
    pages_importing.install(app)
