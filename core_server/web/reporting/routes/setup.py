"""The reporting settings over REST: lock minutes, default sign-off levels, critical-value
escalation; sign-off levels per department and doctors' grades (changes are the
administrators', audited)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core_server.web.reporting.routes.access import Admin, Reader, record, reporting

router = APIRouter()


class LevelsBody(BaseModel):
    levels: int = Field(ge=1, le=3)


class GradeBody(BaseModel):
    grade: Literal["resident", "attending", "chief"]


@router.get("/settings")
def settings(request: Request, _user: Reader) -> dict[str, Any]:
    """lock_minutes, default_levels, critical_escalate_minutes; levels per department and
    doctors' grades."""
    service = reporting(request)
    return service.settings() | {
        "department_levels": service.department_levels(),
        "grades": service.grades(),
    }


@router.put("/settings")
def change_settings(request: Request, body: dict[str, int], user: Admin) -> dict[str, int]:
    changed = reporting(request).change_settings(body)
    record(request, user, "reporting.settings", "", **body)
    return changed


@router.put("/departments/{department}/levels")
def set_levels(request: Request, department: str, body: LevelsBody, user: Admin) -> dict[str, int]:
    """Two- or three-level review (1: a single signature) for a department's reports."""
    service = reporting(request)
    service.set_levels(department, body.levels)
    record(request, user, "reporting.levels", department, levels=body.levels)
    return service.department_levels()


@router.put("/doctors/{username}/grade")
def set_grade(request: Request, username: str, body: GradeBody, user: Admin) -> dict[str, str]:
    """住院医师 resident, 主治医师 attending, 主任医师 chief."""
    service = reporting(request)
    service.set_grade(username, body.grade)
    record(request, user, "reporting.grade", username, grade=body.grade)
    return service.grades()
