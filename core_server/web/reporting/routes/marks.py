"""What is recorded on a report besides its text: flags (positive, infectious, teaching), key
images, quality grades (the report's by a reviewer, the images' by a technician or doctor), the
pathology follow-up; and what the editor shows beside it: the patient's priors, the report kept
as a private template."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core_server.reporting import KeyImage, Template
from core_server.web.reporting.routes.access import (
    ImageGrader,
    Reader,
    ReportAnswer,
    Reviewer,
    Writer,
    doctor,
    out,
    reporting,
)

router = APIRouter()


class FlagsBody(BaseModel):
    positive: bool | None = Field(None, description="阳性 true / 阴性 false")
    clear_positive: bool = Field(False, description="set positive back to unknown")
    infectious: bool | None = Field(None, description="传染病")
    teaching: bool | None = Field(None, description="典型病例 / teaching file bookmark")
    teaching_note: str | None = Field(None, max_length=255)


class KeyImageBody(BaseModel):
    study_uid: str = Field(max_length=64)
    series_uid: str = Field(max_length=64)
    sop_instance_uid: str = Field(min_length=1, max_length=64)
    frame: int = Field(1, ge=1)
    note: str = Field("", max_length=255)


class QualityBody(BaseModel):
    quality: Literal["excellent", "good", "fair", "poor"]


class FollowUpBody(BaseModel):
    pathology_result: str | None = Field(None, description="病理结果")
    clinical_outcome: str | None = Field(None, description="临床随访结果")
    agreement: Literal["agree", "partly", "disagree", ""] | None = Field(
        None, description="影像与病理: 符合 / 部分符合 / 不符合"
    )


class SaveAsTemplateBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    keywords: str = ""


class ImageQuality(BaseModel):
    quality: str = Field(description="excellent, good, fair, poor; empty when not graded yet")
    graded_by: str = ""


@router.get("/exams/{exam_id}/image-quality", response_model=ImageQuality)
def image_quality(request: Request, exam_id: int, user: ImageGrader) -> dict[str, Any]:
    """The exam's image quality grade, for the technician's list (which may not read reports)."""
    report = reporting(request).report_for_exam(exam_id)
    if report is None:
        return {"quality": "", "graded_by": ""}
    return {"quality": report.image_quality, "graded_by": report.image_quality_by}


@router.put("/exams/{exam_id}/image-quality", response_model=ReportAnswer)
def grade_images(
    request: Request, exam_id: int, body: QualityBody, user: ImageGrader
) -> dict[str, Any]:
    """Image quality (甲/乙/丙/丁: excellent, good, fair, poor) by a technician or doctor."""
    service = reporting(request)
    return out(service.grade_images(exam_id, doctor(user), body.quality), user, service)


@router.put("/reports/{report_id}/flags", response_model=ReportAnswer)
def flags(request: Request, report_id: int, body: FlagsBody, user: Writer) -> dict[str, Any]:
    service = reporting(request)
    return out(service.set_flags(report_id, doctor(user), **body.model_dump()), user, service)


@router.put("/reports/{report_id}/key-images", response_model=ReportAnswer)
def key_images(
    request: Request, report_id: int, body: list[KeyImageBody], user: Writer
) -> dict[str, Any]:
    """The key images, in order (replaces the list)."""
    images = [KeyImage(**i.model_dump()) for i in body]
    service = reporting(request)
    return out(service.set_key_images(report_id, doctor(user), images), user, service)


@router.put("/reports/{report_id}/report-quality", response_model=ReportAnswer)
def grade_report(
    request: Request, report_id: int, body: QualityBody, user: Reviewer
) -> dict[str, Any]:
    service = reporting(request)
    return out(service.grade_report(report_id, doctor(user), body.quality), user, service)


@router.put("/reports/{report_id}/follow-up", response_model=ReportAnswer)
def follow_up(request: Request, report_id: int, body: FollowUpBody, user: Writer) -> dict[str, Any]:
    service = reporting(request)
    report = service.record_follow_up(report_id, doctor(user), **body.model_dump())
    return out(report, user, service)


@router.get("/reports/{report_id}/priors")
def priors(request: Request, report_id: int, _user: Reader) -> list[dict[str, Any]]:
    """The patient's other exams, newest first, with their signed reports."""
    service = reporting(request)
    return service.priors(service.report(report_id))


@router.post("/reports/{report_id}/template", status_code=201, response_model=Template)
def save_as_template(
    request: Request, report_id: int, body: SaveAsTemplateBody, user: Writer
) -> dict[str, Any]:
    """Keep this report's text as the doctor's private template."""
    service = reporting(request)
    return service.save_as_template(report_id, user.username, body.name, body.keywords).as_dict()
