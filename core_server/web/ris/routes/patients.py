"""Patients and visits; the pinyin the RIS would give a typed name (the registration page
shows it for the registrar to correct)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from core_server.ris import PatientIn, VisitIn, person
from core_server.web.ris.routes.access import Registrar, Staff, record, ris

router = APIRouter()


class PatientBody(BaseModel):
    patient_id: str = Field(min_length=1, max_length=64, description="MRN / 病历号")
    issuer: str = Field("", max_length=64, description="assigning authority of the ID")
    name: str = Field(
        min_length=1,
        max_length=64,
        description="姓名 as received: HL7 components 王^建国, DICOM WANG^JIANGUO=王^建国, typed",
    )
    name_pinyin: str = Field(
        "", max_length=128, description="WANG^JIANGUO or WANG JIANGUO; computed when empty"
    )
    id_card_number: str = Field("", max_length=18, description="18-digit resident ID card")
    birth_date: date | None = None
    sex: str = Field("", description="M, F, O (or 男/女)")
    phone: str = ""
    address: str = ""
    confirm_duplicate: bool = Field(
        False,
        description="register a new patient although likely duplicates were named (409 "
        "ris.patient.likely_duplicate with the candidates)",
    )

    def domain(self) -> PatientIn:
        return PatientIn(**self.model_dump(exclude={"confirm_duplicate"}))


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
    """Find patients by ID, ID card, name + birth date, or ``text`` (ID, card, phone, full
    name or its prefix, full pinyin or its prefix, initials), however they were registered."""
    found = ris(request).find_patients(
        text=text,
        patient_id=patient_id,
        id_card_number=id_card_number,
        name=name,
        birth_date=birth_date,
        limit=min(limit, 200),
    )
    return [p.as_dict() for p in found]


@router.get("/names/pinyin")
def name_pinyin(
    _user: Staff,
    name: str = Query(min_length=1, max_length=64),
    pinyin: str = Query("", max_length=128, description="a pinyin to normalise instead"),
) -> dict[str, Any]:
    """How the RIS will keep and show a name: its pinyin (``WANG^JIANGUO``) and the forms."""
    stored, spelled = person.received(name, pinyin)
    return {"name": stored, "name_pinyin": spelled} | person.forms(person.person(stored, spelled))


@router.post("/patients", status_code=201)
def register_patient(request: Request, body: PatientBody, user: Registrar) -> dict[str, Any]:
    """Register a patient, or update the one with this ID and issuer. A new patient that is
    likely one already registered is refused (409) with the candidates unless confirmed."""
    patient = ris(request).register_patient(
        body.domain(), username=user.username, check_duplicates=not body.confirm_duplicate
    )
    record(request, user, "ris.patient.register", patient.patient_id)
    return patient.as_dict()


@router.get("/patients/{patient_id}")
def get_patient(request: Request, patient_id: str, _user: Staff, issuer: str = "") -> Any:
    return ris(request).patient(patient_id, issuer).as_dict()


@router.put("/patients/{patient_id}")
def update_patient(
    request: Request, patient_id: str, body: PatientBody, user: Registrar, issuer: str = ""
) -> dict[str, Any]:
    """Change demographics; stored images follow (IHE PIR)."""
    patient = ris(request).update_patient(patient_id, issuer, body.domain(), username=user.username)
    record(request, user, "ris.patient.update", patient_id)
    return patient.as_dict()


class PatientRef(BaseModel):
    patient_id: str
    issuer: str = ""


class MergeBody(BaseModel):
    surviving: PatientRef
    merged: PatientRef


@router.post("/patients/merge")
def merge_patients(request: Request, body: MergeBody, user: Registrar) -> dict[str, Any]:
    """Merge ``merged`` into ``surviving`` (its exams and images move over)."""
    patient = ris(request).merge_patients(
        (body.surviving.patient_id, body.surviving.issuer),
        (body.merged.patient_id, body.merged.issuer),
        username=user.username,
    )
    record(
        request, user, "ris.patient.merge", body.surviving.patient_id, merged=body.merged.patient_id
    )
    return patient.as_dict()


class VisitBody(BaseModel):
    visit_number: str = Field(min_length=1, max_length=64)
    patient_class: str = "outpatient"
    department: str = ""
    ward: str = ""
    bed: str = ""
    attending_doctor: str = ""
    admitted_at: datetime | None = Field(None, description="without an offset: hospital time")


@router.post("/patients/{patient_id}/visits", status_code=201)
def create_visit(
    request: Request, patient_id: str, body: VisitBody, user: Registrar, issuer: str = ""
) -> dict[str, Any]:
    visit = ris(request).create_visit(
        patient_id, issuer, VisitIn(**body.model_dump()), username=user.username
    )
    return visit.as_dict()


@router.post("/visits/{visit_number}/cancel")
def cancel_visit(request: Request, visit_number: str, user: Registrar) -> dict[str, Any]:
    return ris(request).cancel_visit(visit_number, username=user.username).as_dict()
