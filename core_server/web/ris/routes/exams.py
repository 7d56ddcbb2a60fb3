"""Exams: lists, one exam with its history, status steps and check-in (an exam booked for
another day asks for a confirmation), the technician's checks, retakes, the exam item,
bookings, the label's barcode, requisition scans, end-of-day no-shows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from core_server import auth, clock
from core_server.refusals import Forbidden
from core_server.ris import Exam, ExamStatus, booked_another_day, code128
from core_server.web.ris.routes.access import (
    DOCTORS,
    Performer,
    Reader,
    Registrar,
    Staff,
    StatusChanger,
    record,
    ris,
)

router = APIRouter()


@router.get("/exams")
def list_exams(
    request: Request,
    _user: Reader,
    day: date | None = None,
    modality: str = "",
    room: str = "",
    status_filter: Annotated[list[str] | None, Query(alias="status")] = None,
    patient_id: str = "",
    text: str = "",
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Exams of a (hospital) day / modality / room / status (repeat ``status``), emergencies
    first."""
    found = ris(request).exams(
        day=day,
        modality=modality,
        room=room,
        status=status_filter or [],
        patient_id=patient_id,
        text=text,
        limit=min(limit, 1000),
    )
    return [e.as_dict() for e in found]


class NoShowBody(BaseModel):
    before: date = Field(description="exams still scheduled for an earlier day become no-shows")


@router.post("/exams/no-shows")
def mark_no_shows(request: Request, body: NoShowBody, user: Registrar) -> list[dict[str, Any]]:
    """End of day: the exams nobody came for."""
    marked = ris(request).mark_no_shows(body.before, username=user.username)
    record(request, user, "ris.exam.no_shows", body.before.isoformat(), count=len(marked))
    return [e.as_dict() for e in marked]


@router.get("/exams/by-accession/{accession_number}")
def exam_by_accession(request: Request, accession_number: str, _user: Reader) -> Any:
    return ris(request).exam_by_accession(accession_number).as_dict()


@router.get("/exams/{exam_id}")
def get_exam(request: Request, exam_id: int, _user: Reader) -> dict[str, Any]:
    service = ris(request)
    exam = service.exam(exam_id)
    return exam.as_dict() | {
        "history": [h.as_dict() for h in service.history(exam_id)],
        "requisitions": [r.as_dict() for r in service.requisitions(exam_id)],
        "performed_steps": [s.as_dict() for s in service.performed_steps(exam_id)],
    }


class StatusBody(BaseModel):
    status: str = Field(description="arrived, in_progress, completed, cancelled, no_show...")
    reason: str = ""
    confirm_other_day: bool = Field(
        False, description="arrived: check in although the exam is booked for another day"
    )


@router.post("/exams/{exam_id}/status")
def change_status(
    request: Request, exam_id: int, body: StatusBody, user: StatusChanger
) -> dict[str, Any]:
    """One step of the status machine; reported/verified belong to doctors. ``arrived`` is a
    check-in (see ``/check-in``)."""
    if body.status in ("reported", "verified") and user.role not in DOCTORS:
        raise Forbidden("ris.reporting_steps_for_doctors")
    if body.status == ExamStatus.ARRIVED:
        return _check_in(request, exam_id, user, body.confirm_other_day).as_dict()
    exam = ris(request).change_status(
        exam_id, body.status, username=user.username, reason=body.reason
    )
    return exam.as_dict()


class CheckInBody(BaseModel):
    confirm_other_day: bool = Field(
        False,
        description="check in although the exam is booked for another day (first answer: "
        "409 ris.exam.check_in_other_day with the booked time)",
    )


@router.post("/exams/{exam_id}/check-in")
def check_in(
    request: Request, exam_id: int, user: StatusChanger, body: CheckInBody | None = None
) -> dict[str, Any]:
    confirmed = body is not None and body.confirm_other_day
    return _check_in(request, exam_id, user, confirmed).as_dict()


def _check_in(request: Request, exam_id: int, user: auth.User, confirmed: bool) -> Exam:
    exam = ris(request).check_in(exam_id, username=user.username, confirm_other_day=confirmed)
    if booked_another_day(exam.scheduled_at):  # only when confirmed: on the audit trail too
        record(
            request,
            user,
            "ris.exam.check_in_other_day",
            exam.accession_number,
            scheduled_at=clock.iso(exam.scheduled_at),
        )
    return exam


class ConfirmBody(BaseModel):
    identity: bool | None = None
    requisition: bool | None = None
    fee: bool | None = None


@router.post("/exams/{exam_id}/confirm")
def confirm(request: Request, exam_id: int, body: ConfirmBody, user: Performer) -> Any:
    """The technician's checks: identity, paper requisition, fee paid."""
    return ris(request).confirm(exam_id, **body.model_dump(), username=user.username).as_dict()


class RetakeBody(BaseModel):
    kind: str = Field(description="additional (加拍), supplementary (补拍), repeat (重拍)")
    procedure_code: str = ""
    reason: str = ""


@router.post("/exams/{exam_id}/retake", status_code=201)
def retake(request: Request, exam_id: int, body: RetakeBody, user: Performer) -> Any:
    return ris(request).retake(exam_id, **body.model_dump(), username=user.username).as_dict()


class ProcedureChange(BaseModel):
    procedure_code: str
    reason: str = ""


@router.post("/exams/{exam_id}/procedure")
def change_procedure(request: Request, exam_id: int, body: ProcedureChange, user: Performer) -> Any:
    exam = ris(request).change_procedure(
        exam_id, body.procedure_code, username=user.username, reason=body.reason
    )
    record(request, user, "ris.exam.procedure", exam.accession_number, to=body.procedure_code)
    return exam.as_dict()


class FeeBody(BaseModel):
    fee_fen: int = Field(ge=0, le=100_000_000, description="the exam's fee in fen (1/100 yuan)")
    reason: str = Field("", max_length=200)


@router.post("/exams/{exam_id}/fee")
def change_fee(request: Request, exam_id: int, body: FeeBody, user: Registrar) -> Any:
    """What the exam is charged when the hospital charges otherwise than the catalogue's
    price (audited, and noted in the exam's history)."""
    service = ris(request)
    before = service.exam(exam_id).fee_fen
    exam = service.set_fee(exam_id, body.fee_fen, username=user.username, reason=body.reason)
    record(
        request,
        user,
        "ris.exam.fee_changed",
        exam.accession_number,
        before=before,
        after=exam.fee_fen,
    )
    return exam.as_dict()


class BookingBody(BaseModel):
    room: str
    start: datetime = Field(description="a slot's start; without an offset: hospital time")


@router.post("/exams/{exam_id}/booking")
def book(request: Request, exam_id: int, body: BookingBody, user: Registrar) -> Any:
    return ris(request).book(exam_id, body.room, body.start, username=user.username).as_dict()


@router.get("/exams/{exam_id}/barcode.{fmt}")
def exam_barcode(request: Request, exam_id: int, fmt: str, _user: Reader) -> Response:
    """The exam's label barcode (Code128 of the accession number), ``svg`` or ``png``."""
    exam = ris(request).exam(exam_id)
    image, media_type = code128(exam.accession_number, fmt)
    return Response(image, media_type=media_type)


@router.post("/exams/{exam_id}/requisitions", status_code=201)
async def upload_requisition(
    request: Request,
    exam_id: int,
    user: Performer,
    file: Annotated[UploadFile, File(description="scan: PDF, JPEG, PNG or TIFF, <= 20 MB")],
) -> dict[str, Any]:
    data = await file.read()
    saved = ris(request).attach_requisition(
        exam_id, file.filename or "", file.content_type or "", data, username=user.username
    )
    return saved.as_dict()


@router.get("/requisitions/{requisition_id}")
def requisition_file(request: Request, requisition_id: int, _user: Staff) -> FileResponse:
    saved, path = ris(request).requisition_file(requisition_id)
    return FileResponse(path, media_type=saved.content_type, filename=saved.filename)
