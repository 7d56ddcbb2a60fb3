"""Report templates over REST (system and department ones are the administrators', private
ones a doctor's), the default template of each exam item, and the word rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from core_server import auth
from core_server.reporting import (
    Forbidden,
    NotFound,
    ReportingError,
    Template,
    TemplateField,
    WordRule,
)
from core_server.web.reporting.routes.access import (
    Admin,
    Reader,
    TemplateWriter,
    record,
    reporting,
)

router = APIRouter()


class FieldBody(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=128)
    type: Literal["text", "choice", "number", "date"]
    choices: list[str] = []
    unit: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None


class TemplateBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    scope: Literal["system", "department", "private"] = "private"
    department: str = ""
    modality: str = ""
    body_part: str = ""
    keywords: str = ""
    findings: str = ""
    impression: str = ""
    fields: list[FieldBody] = []
    active: bool = True

    def domain(self) -> Template:
        values = self.model_dump(exclude={"fields"})
        return Template(
            id=0,
            owner="",
            fields=tuple(
                TemplateField(**f.model_dump() | {"choices": tuple(f.choices)}) for f in self.fields
            ),
            **values,
        )


class WordRuleBody(BaseModel):
    kind: Literal["forbidden", "exclusive"]
    word: str = Field(min_length=1, max_length=64)
    other: str = Field("", max_length=64)
    message: str = Field("", max_length=255)
    modality: str = Field("", max_length=16)


class DefaultTemplateBody(BaseModel):
    template_id: int | None


@router.get("/templates", response_model=list[Template])
def templates(
    request: Request,
    user: Reader,
    modality: str = "",
    body_part: str = "",
    keyword: str = "",
    department: str = "",
    include_inactive: Annotated[bool, Query(description="retired ones too (setup page)")] = False,
) -> list[dict[str, Any]]:
    """System, department and the doctor's own private templates."""
    found = reporting(request).templates(
        user.username,
        modality=modality,
        body_part=body_part,
        keyword=keyword,
        department=department,
        include_inactive=include_inactive,
    )
    return [t.as_dict() for t in found]


@router.get("/templates/{template_id}", response_model=Template)
def template(request: Request, template_id: int, user: Reader) -> dict[str, Any]:
    found = reporting(request).template(template_id)
    if found.scope == "private" and found.owner != user.username and user.role != "admin":
        raise NotFound("reporting.template.not_found", template_id=template_id)
    return found.as_dict()


def _may_write_scope(user: auth.User, scope: str) -> None:
    if scope != "private" and user.role != "admin":
        raise Forbidden("reporting.template.shared")
    if scope == "private" and user.role == "admin":
        raise ReportingError("reporting.template.admin_private")


@router.post("/templates", status_code=201, response_model=Template)
def create_template(request: Request, body: TemplateBody, user: TemplateWriter) -> dict[str, Any]:
    _may_write_scope(user, body.scope)
    return reporting(request).save_template(user.username, body.domain()).as_dict()


@router.put("/templates/{template_id}", response_model=Template)
def update_template(
    request: Request, template_id: int, body: TemplateBody, user: TemplateWriter
) -> dict[str, Any]:
    _may_write_scope(user, body.scope)
    service = reporting(request)
    _may_write_scope(user, service.template(template_id).scope)
    return service.save_template(user.username, body.domain(), template_id=template_id).as_dict()


@router.delete("/templates/{template_id}", status_code=204)
def delete_template(request: Request, template_id: int, user: TemplateWriter) -> Response:
    reporting(request).delete_template(template_id, user.username, admin=user.role == "admin")
    return Response(status_code=204)


@router.get("/default-templates")
def default_templates(request: Request, _user: Reader) -> dict[str, int]:
    """Exam item code -> the template its reports open with."""
    return reporting(request).default_templates()


@router.put("/default-templates/{procedure_code}")
def set_default_template(
    request: Request, procedure_code: str, body: DefaultTemplateBody, user: Admin
) -> dict[str, int]:
    service = reporting(request)
    service.set_default_template(procedure_code, body.template_id)
    record(request, user, "reporting.default_template", procedure_code, id=body.template_id)
    return service.default_templates()


@router.get("/word-rules", response_model=list[WordRule])
def word_rules(request: Request, _user: Reader, modality: str = "") -> list[dict[str, Any]]:
    return [r.as_dict() for r in reporting(request).word_rules(modality=modality)]


@router.post("/word-rules", status_code=201, response_model=WordRule)
def add_word_rule(request: Request, body: WordRuleBody, user: Admin) -> dict[str, Any]:
    """A forbidden word, or a mutually exclusive pair (``word`` with ``other``)."""
    rule = reporting(request).add_word_rule(
        body.kind, body.word, other=body.other, message=body.message, modality=body.modality
    )
    record(request, user, "reporting.word_rule.add", str(rule.id), word=rule.word)
    return rule.as_dict()


@router.delete("/word-rules/{rule_id}", status_code=204)
def delete_word_rule(request: Request, rule_id: int, user: Admin) -> Response:
    reporting(request).delete_word_rule(rule_id)
    record(request, user, "reporting.word_rule.delete", str(rule_id))
    return Response(status_code=204)
