"""Reconciliation: studies whose images matched no exam, linked, split or merged by hand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core_server.web.ris.routes.access import Reconciler, record, ris

router = APIRouter()


@router.get("/reconciliation")
def unmatched(request: Request, _user: Reconciler, resolved: bool = False) -> Any:
    """Studies whose images matched no exam."""
    return [u.as_dict() for u in ris(request).unmatched(include_resolved=resolved)]


class LinkBody(BaseModel):
    study_instance_uid: str
    exam_id: int
    reason: str = ""


@router.post("/reconciliation/link")
def link_study(request: Request, body: LinkBody, user: Reconciler) -> dict[str, Any]:
    """Link a study to an exam: its stored objects take the exam's patient and accession."""
    exam = ris(request).link_study(
        body.study_instance_uid, body.exam_id, username=user.username, reason=body.reason
    )
    record(request, user, "ris.study.link", body.study_instance_uid, exam=exam.accession_number)
    return exam.as_dict()


class SplitBody(BaseModel):
    study_instance_uid: str
    series_instance_uids: list[str] = Field(min_length=1)
    exam_id: int
    reason: str = ""


@router.post("/reconciliation/split")
def split_study(request: Request, body: SplitBody, user: Reconciler) -> dict[str, Any]:
    exam = ris(request).split_study(
        body.study_instance_uid,
        body.series_instance_uids,
        body.exam_id,
        username=user.username,
        reason=body.reason,
    )
    record(request, user, "ris.study.split", body.study_instance_uid, exam=exam.accession_number)
    return exam.as_dict()


class MergeStudiesBody(BaseModel):
    study_instance_uid: str
    exam_id: int
    reason: str = ""


@router.post("/reconciliation/merge")
def merge_studies(request: Request, body: MergeStudiesBody, user: Reconciler) -> Any:
    exam = ris(request).merge_studies(
        body.study_instance_uid, body.exam_id, username=user.username, reason=body.reason
    )
    record(request, user, "ris.study.merge", body.study_instance_uid, exam=exam.accession_number)
    return exam.as_dict()
