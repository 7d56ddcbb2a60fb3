"""The RIS REST API (``/api/ris/...``): for the registration and technician pages, and for a
HIS that cannot speak HL7 (a database-sync adapter registers patients, places orders and
reads exam status here). Errors: 400 invalid input, 404 unknown, 409 conflicts and illegal
status steps, each with a message in Chinese and English."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from core_server import auth
from core_server.ris import (
    Conflict,
    NotFound,
    OrderIn,
    PatientIn,
    Procedure,
    ProcedureRequest,
    Ris,
    RisError,
    Room,
    VisitIn,
    code128,
)
from core_server.web.security import audit, require

router = APIRouter(prefix="/api/ris", tags=["ris"])

STAFF = ("admin", "registrar", "technician", "reporting_doctor", "reviewing_doctor", "clinician")
REGISTRARS = ("admin", "registrar")
PERFORMERS = ("admin", "registrar", "technician")
RECONCILERS = ("admin", "technician")
DOCTORS = ("admin", "reporting_doctor", "reviewing_doctor")
# The ticket printer and caller devices check patients in and read exams.
DEVICE_READERS = (*STAFF, "device")

Staff = Annotated[auth.User, Depends(require(*STAFF))]
Registrar = Annotated[auth.User, Depends(require(*REGISTRARS))]
Performer = Annotated[auth.User, Depends(require(*PERFORMERS))]
Reconciler = Annotated[auth.User, Depends(require(*RECONCILERS))]
Admin = Annotated[auth.User, Depends(require("admin"))]
Reader = Annotated[auth.User, Depends(require(*DEVICE_READERS))]
StatusChanger = Annotated[auth.User, Depends(require(*PERFORMERS, *DOCTORS[1:], "device"))]


def _ris(request: Request) -> Ris:
    ris = request.app.state.ctx.ris
    if ris is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "RIS not configured")
    return ris  # type: ignore[no-any-return]


@contextmanager
def _answers() -> Iterator[None]:
    """Domain refusals as HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except RisError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def _audit(request: Request, user: auth.User, action: str, target: str, **detail: Any) -> None:
    audit(request, user, action, target, detail)


# -- patients -----------------------------------------------------------------------------------


class PatientBody(BaseModel):
    patient_id: str = Field(min_length=1, max_length=64, description="MRN / 病历号")
    issuer: str = Field("", max_length=64, description="assigning authority of the ID")
    name: str = Field(min_length=1, max_length=64, description="姓名, as written")
    name_pinyin: str = Field("", max_length=128, description="ZHANG^SAN; computed when empty")
    id_card_number: str = Field("", max_length=18, description="18-digit resident ID card")
    birth_date: date | None = None
    sex: str = Field("", description="M, F, O (or 男/女)")
    phone: str = ""
    address: str = ""

    def domain(self) -> PatientIn:
        return PatientIn(**self.model_dump())


@router.get("/patients")
def find_patients(
    request: Request,
    _user: Staff,
    text: str = "",
    patient_id: str = "",
    id_card_number: str = "",
    name: str = "",
    birth_date: date | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Find patients by ID, ID card, name + birth date, or ``text`` (ID, card, phone, name,
    pinyin or its initials)."""
    with _answers():
        found = _ris(request).find_patients(
            text=text,
            patient_id=patient_id,
            id_card_number=id_card_number,
            name=name,
            birth_date=birth_date,
            limit=min(limit, 200),
        )
    return [p.as_dict() | {"dicom_name": p.dicom_name} for p in found]


@router.post("/patients", status_code=201)
def register_patient(request: Request, body: PatientBody, user: Registrar) -> dict[str, Any]:
    """Register a patient, or update the one with this ID and issuer."""
    with _answers():
        patient = _ris(request).register_patient(body.domain(), username=user.username)
    _audit(request, user, "ris.patient.register", patient.patient_id)
    return patient.as_dict() | {"dicom_name": patient.dicom_name}


@router.get("/patients/{patient_id}")
def get_patient(request: Request, patient_id: str, _user: Staff, issuer: str = "") -> Any:
    with _answers():
        patient = _ris(request).patient(patient_id, issuer)
    return patient.as_dict() | {"dicom_name": patient.dicom_name}


@router.put("/patients/{patient_id}")
def update_patient(
    request: Request, patient_id: str, body: PatientBody, user: Registrar, issuer: str = ""
) -> dict[str, Any]:
    """Change demographics; stored images follow (IHE PIR)."""
    with _answers():
        patient = _ris(request).update_patient(
            patient_id, issuer, body.domain(), username=user.username
        )
    _audit(request, user, "ris.patient.update", patient_id)
    return patient.as_dict() | {"dicom_name": patient.dicom_name}


class PatientRef(BaseModel):
    patient_id: str
    issuer: str = ""


class MergeBody(BaseModel):
    surviving: PatientRef
    merged: PatientRef


@router.post("/patients/merge")
def merge_patients(request: Request, body: MergeBody, user: Registrar) -> dict[str, Any]:
    """Merge ``merged`` into ``surviving`` (its exams and images move over)."""
    with _answers():
        patient = _ris(request).merge_patients(
            (body.surviving.patient_id, body.surviving.issuer),
            (body.merged.patient_id, body.merged.issuer),
            username=user.username,
        )
    _audit(
        request,
        user,
        "ris.patient.merge",
        body.surviving.patient_id,
        merged=body.merged.patient_id,
    )
    return patient.as_dict()


class VisitBody(BaseModel):
    visit_number: str = Field(min_length=1, max_length=64)
    patient_class: str = "outpatient"
    department: str = ""
    ward: str = ""
    bed: str = ""
    attending_doctor: str = ""
    admitted_at: datetime | None = None


@router.post("/patients/{patient_id}/visits", status_code=201)
def create_visit(
    request: Request, patient_id: str, body: VisitBody, user: Registrar, issuer: str = ""
) -> dict[str, Any]:
    with _answers():
        visit = _ris(request).create_visit(
            patient_id, issuer, VisitIn(**body.model_dump()), username=user.username
        )
    return visit.as_dict()


@router.post("/visits/{visit_number}/cancel")
def cancel_visit(request: Request, visit_number: str, user: Registrar) -> dict[str, Any]:
    with _answers():
        return _ris(request).cancel_visit(visit_number, username=user.username).as_dict()


# -- orders -------------------------------------------------------------------------------------


class ProcedureBody(BaseModel):
    procedure_code: str = Field(min_length=1, description="code of the exam item catalogue")
    accession_number: str = Field("", max_length=16, description="generated when empty")
    requested_procedure_id: str = Field("", max_length=16)
    room: str = ""
    station_ae: str = Field("", max_length=16)
    scheduled_at: datetime | None = Field(None, description="local time; now when empty")
    notes: str = ""


class OrderBody(BaseModel):
    """An order for one patient. With ``patient`` the patient is registered (or updated)
    first, so a HIS needs one call per order."""

    patient_id: str = Field("", max_length=64)
    issuer: str = ""
    patient: PatientBody | None = None
    placer_order_number: str = Field(min_length=1, max_length=64)
    placer_application: str = ""
    filler_order_number: str = ""
    visit_number: str = ""
    referring_physician: str = ""
    referring_department: str = ""
    clinical_info: str = ""
    priority: str = "ROUTINE"
    emergency: bool = False
    bedside: bool = False
    procedures: list[ProcedureBody] = Field(min_length=1)

    def domain(self) -> OrderIn:
        return OrderIn(
            placer_order_number=self.placer_order_number,
            procedures=tuple(ProcedureRequest(**p.model_dump()) for p in self.procedures),
            placer_application=self.placer_application,
            filler_order_number=self.filler_order_number,
            visit_number=self.visit_number,
            referring_physician=self.referring_physician,
            referring_department=self.referring_department,
            clinical_info=self.clinical_info,
            priority=self.priority,
            emergency=self.emergency,
            bedside=self.bedside,
        )


@router.post("/orders", status_code=201)
def place_order(request: Request, body: OrderBody, user: Registrar) -> dict[str, Any]:
    ris = _ris(request)
    with _answers():
        patient_id, issuer = body.patient_id, body.issuer
        if body.patient is not None:
            patient = ris.register_patient(body.patient.domain(), username=user.username)
            patient_id, issuer = patient.patient_id, patient.issuer
        if not patient_id:
            raise RisError("需要患者ID或患者信息 / patient_id or patient is required")
        order = ris.place_order(patient_id, issuer, body.domain(), username=user.username)
    _audit(request, user, "ris.order.place", order.filler_order_number)
    return order.as_dict()


@router.get("/orders/{filler_order_number}")
def get_order(request: Request, filler_order_number: str, _user: Staff) -> dict[str, Any]:
    with _answers():
        return _ris(request).order(filler_order_number=filler_order_number).as_dict()


@router.get("/orders")
def find_order(
    request: Request, _user: Staff, placer_order_number: str, placer_application: str = ""
) -> dict[str, Any]:
    """The order with this placer (HIS) number: status of each of its exams."""
    with _answers():
        return (
            _ris(request)
            .order(placer_order_number=placer_order_number, placer_application=placer_application)
            .as_dict()
        )


@router.put("/orders")
def change_order(request: Request, body: OrderBody, user: Registrar) -> dict[str, Any]:
    """Change the order with this placer number (priority, times, procedures not started)."""
    with _answers():
        order = _ris(request).change_order(body.domain(), username=user.username)
    _audit(request, user, "ris.order.change", order.filler_order_number)
    return order.as_dict()


class CancelBody(BaseModel):
    placer_order_number: str = ""
    placer_application: str = ""
    filler_order_number: str = ""
    reason: str = ""


@router.post("/orders/cancel")
def cancel_order(request: Request, body: CancelBody, user: Registrar) -> dict[str, Any]:
    with _answers():
        order = _ris(request).cancel_order(**body.model_dump(), username=user.username)
    _audit(request, user, "ris.order.cancel", order.filler_order_number, reason=body.reason)
    return order.as_dict()


# -- exams --------------------------------------------------------------------------------------


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
    """Exams of a day / modality / room / status (repeat ``status``), emergencies first."""
    with _answers():
        found = _ris(request).exams(
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
    with _answers():
        marked = _ris(request).mark_no_shows(body.before, username=user.username)
    _audit(request, user, "ris.exam.no_shows", body.before.isoformat(), count=len(marked))
    return [e.as_dict() for e in marked]


@router.get("/exams/by-accession/{accession_number}")
def exam_by_accession(request: Request, accession_number: str, _user: Reader) -> Any:
    with _answers():
        return _ris(request).exam_by_accession(accession_number).as_dict()


@router.get("/exams/{exam_id}")
def get_exam(request: Request, exam_id: int, _user: Reader) -> dict[str, Any]:
    ris = _ris(request)
    with _answers():
        exam = ris.exam(exam_id)
        return exam.as_dict() | {
            "history": [h.as_dict() for h in ris.history(exam_id)],
            "requisitions": [r.as_dict() for r in ris.requisitions(exam_id)],
            "performed_steps": [s.as_dict() for s in ris.performed_steps(exam_id)],
        }


class StatusBody(BaseModel):
    status: str = Field(description="arrived, in_progress, completed, cancelled, no_show...")
    reason: str = ""


@router.post("/exams/{exam_id}/status")
def change_status(
    request: Request, exam_id: int, body: StatusBody, user: StatusChanger
) -> dict[str, Any]:
    """One step of the status machine; reported/verified belong to doctors."""
    if body.status in ("reported", "verified") and user.role not in DOCTORS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not permitted / 无权限")
    with _answers():
        exam = _ris(request).change_status(
            exam_id, body.status, username=user.username, reason=body.reason
        )
    return exam.as_dict()


@router.post("/exams/{exam_id}/check-in")
def check_in(request: Request, exam_id: int, user: StatusChanger) -> dict[str, Any]:
    with _answers():
        return _ris(request).check_in(exam_id, username=user.username).as_dict()


class ConfirmBody(BaseModel):
    identity: bool | None = None
    requisition: bool | None = None
    fee: bool | None = None


@router.post("/exams/{exam_id}/confirm")
def confirm(request: Request, exam_id: int, body: ConfirmBody, user: Performer) -> Any:
    """The technician's checks: identity, paper requisition, fee paid."""
    with _answers():
        return _ris(request).confirm(exam_id, **body.model_dump(), username=user.username).as_dict()


class RetakeBody(BaseModel):
    kind: str = Field(description="additional (加拍), supplementary (补拍), repeat (重拍)")
    procedure_code: str = ""
    reason: str = ""


@router.post("/exams/{exam_id}/retake", status_code=201)
def retake(request: Request, exam_id: int, body: RetakeBody, user: Performer) -> Any:
    with _answers():
        exam = _ris(request).retake(exam_id, **body.model_dump(), username=user.username)
    return exam.as_dict()


class ProcedureChange(BaseModel):
    procedure_code: str
    reason: str = ""


@router.post("/exams/{exam_id}/procedure")
def change_procedure(request: Request, exam_id: int, body: ProcedureChange, user: Performer) -> Any:
    with _answers():
        exam = _ris(request).change_procedure(
            exam_id, body.procedure_code, username=user.username, reason=body.reason
        )
    _audit(request, user, "ris.exam.procedure", exam.accession_number, to=body.procedure_code)
    return exam.as_dict()


class BookingBody(BaseModel):
    room: str
    start: datetime


@router.post("/exams/{exam_id}/booking")
def book(request: Request, exam_id: int, body: BookingBody, user: Registrar) -> Any:
    with _answers():
        return _ris(request).book(exam_id, body.room, body.start, username=user.username).as_dict()


@router.get("/exams/{exam_id}/barcode.{fmt}")
def exam_barcode(request: Request, exam_id: int, fmt: str, _user: Reader) -> Response:
    """The exam's label barcode (Code128 of the accession number), ``svg`` or ``png``."""
    with _answers():
        exam = _ris(request).exam(exam_id)
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
    ris = _ris(request)
    with _answers():
        saved = ris.attach_requisition(
            exam_id, file.filename or "", file.content_type or "", data, username=user.username
        )
    return saved.as_dict()


@router.get("/requisitions/{requisition_id}")
def requisition_file(request: Request, requisition_id: int, _user: Staff) -> FileResponse:
    with _answers():
        saved, path = _ris(request).requisition_file(requisition_id)
    return FileResponse(path, media_type=saved.content_type, filename=saved.filename)


# -- catalogue and appointments -----------------------------------------------------------------


@router.get("/departments")
def departments(request: Request, _user: Reader) -> list[dict[str, Any]]:
    return [d.as_dict() for d in _ris(request).departments()]


@router.get("/procedures")
def procedures(
    request: Request, _user: Reader, modality: str = "", all: bool = False
) -> list[dict[str, Any]]:
    return [p.as_dict() for p in _ris(request).procedures(modality=modality, active_only=not all)]


class ProcedureItem(BaseModel):
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field("", max_length=128)
    modality: str = Field(min_length=1, max_length=16)
    body_part: str = Field("", max_length=16, description="DICOM Body Part Examined")
    department: str = Field(min_length=1, max_length=32)
    duration_minutes: int = Field(15, ge=1, le=480)
    active: bool = True


@router.put("/procedures/{code}")
def save_procedure(request: Request, code: str, body: ProcedureItem, user: Admin) -> Any:
    """Add or change an exam item of the catalogue."""
    with _answers():
        item = Procedure(code=code, **body.model_dump())
        saved = _ris(request).save_procedure(item, username=user.username)
    _audit(request, user, "ris.catalogue.procedure", code)
    return saved.as_dict()


@router.get("/rooms")
def rooms(request: Request, _user: Reader, modality: str = "") -> list[dict[str, Any]]:
    return [r.as_dict() for r in _ris(request).rooms(modality=modality)]


class RoomItem(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    modality: str = Field(min_length=1, max_length=16)
    department: str = Field(min_length=1, max_length=32)
    station_ae: str = Field("", max_length=16, description="AE title of the room's device")
    slot_minutes: int = Field(15, ge=1, le=480)
    slot_capacity: int = Field(1, ge=1, le=100)
    opens: str = Field("08:00", pattern=r"^\d{2}:\d{2}$")
    closes: str = Field("17:00", pattern=r"^\d{2}:\d{2}$")


@router.put("/rooms/{code}")
def save_room(request: Request, code: str, body: RoomItem, user: Admin) -> Any:
    """Add or change an exam room, its station AE and its appointment slots."""
    with _answers():
        saved = _ris(request).save_room(
            Room(code=code, **body.model_dump()), username=user.username
        )
    _audit(request, user, "ris.catalogue.room", code)
    return saved.as_dict()


@router.get("/rooms/{code}/slots")
def slots(request: Request, code: str, day: date, _user: Staff) -> list[dict[str, Any]]:
    with _answers():
        return [s.as_dict() | {"free": s.free} for s in _ris(request).slots(code, day)]


# -- reconciliation -----------------------------------------------------------------------------


@router.get("/reconciliation")
def unmatched(request: Request, _user: Reconciler, resolved: bool = False) -> Any:
    """Studies whose images matched no exam."""
    return [u.as_dict() for u in _ris(request).unmatched(include_resolved=resolved)]


class LinkBody(BaseModel):
    study_instance_uid: str
    exam_id: int
    reason: str = ""


@router.post("/reconciliation/link")
def link_study(request: Request, body: LinkBody, user: Reconciler) -> dict[str, Any]:
    """Link a study to an exam: its stored objects take the exam's patient and accession."""
    with _answers():
        exam = _ris(request).link_study(
            body.study_instance_uid, body.exam_id, username=user.username, reason=body.reason
        )
    _audit(request, user, "ris.study.link", body.study_instance_uid, exam=exam.accession_number)
    return exam.as_dict()


class SplitBody(BaseModel):
    study_instance_uid: str
    series_instance_uids: list[str] = Field(min_length=1)
    exam_id: int
    reason: str = ""


@router.post("/reconciliation/split")
def split_study(request: Request, body: SplitBody, user: Reconciler) -> dict[str, Any]:
    with _answers():
        exam = _ris(request).split_study(
            body.study_instance_uid,
            body.series_instance_uids,
            body.exam_id,
            username=user.username,
            reason=body.reason,
        )
    _audit(request, user, "ris.study.split", body.study_instance_uid, exam=exam.accession_number)
    return exam.as_dict()


class MergeStudiesBody(BaseModel):
    study_instance_uid: str
    exam_id: int
    reason: str = ""


@router.post("/reconciliation/merge")
def merge_studies(request: Request, body: MergeStudiesBody, user: Reconciler) -> Any:
    with _answers():
        exam = _ris(request).merge_studies(
            body.study_instance_uid, body.exam_id, username=user.username, reason=body.reason
        )
    _audit(request, user, "ris.study.merge", body.study_instance_uid, exam=exam.accession_number)
    return exam.as_dict()


def install(app: Any) -> None:
    app.include_router(router)
