"""Report templates (system, department, a doctor's private ones; typed fields after IHE
MRRT), the default template of each exam item, and the word rules checked before a report
moves on (forbidden words, mutually exclusive pairs)."""

from __future__ import annotations

import json

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from core_server import clock, db
from core_server.reporting import records, text
from core_server.reporting.base import ServiceBase
from core_server.reporting.models import (
    FIELD_TYPES,
    TEMPLATE_SCOPES,
    Forbidden,
    NotFound,
    ReportingError,
    Template,
    TemplateField,
    WordRule,
)
from core_server.reporting.tables import (
    reporting_default_templates,
    reporting_templates,
    reporting_word_rules,
)

RULE_KINDS = ("forbidden", "exclusive")


def rules_for(conn: Connection, modality: str) -> list[WordRule]:
    """The word rules of a modality (and those of every modality)."""
    query = select(reporting_word_rules).order_by(reporting_word_rules.c.id)
    if modality:
        query = query.where(reporting_word_rules.c.modality.in_([modality, ""]))
    return [records.word_rule(r) for r in conn.execute(query)]


class Templates(ServiceBase):
    def templates(
        self,
        username: str,
        *,
        modality: str = "",
        body_part: str = "",
        keyword: str = "",
        department: str = "",
        include_inactive: bool = False,
    ) -> list[Template]:
        """System templates, the department's, and the doctor's own private ones."""
        t = reporting_templates.c
        query = select(reporting_templates).where(
            or_(
                t.scope == "system",
                and_(
                    t.scope == "department",
                    t.department == department if department else t.scope == "department",
                ),
                and_(t.scope == "private", t.owner == username),
            )
        )
        if not include_inactive:
            query = query.where(t.active)
        if modality:
            query = query.where(t.modality.in_([modality, ""]))
        if body_part:
            query = query.where(t.body_part.in_([body_part.upper(), ""]))
        if keyword:
            like = f"%{keyword}%"
            query = query.where(
                or_(
                    t.name.like(like),
                    t.keywords.like(like),
                    t.findings.like(like),
                    t.impression.like(like),
                )
            )
        query = query.order_by(t.modality, t.body_part, t.name)
        with db.read(self.engine) as conn:
            return [records.template(r) for r in conn.execute(query)]

    def template(self, template_id: int) -> Template:
        with db.read(self.engine) as conn:
            return records.template(records.template_row(conn, template_id))

    def save_template(
        self, username: str, template: Template, *, template_id: int | None = None
    ) -> Template:
        """Create (or replace) a template. Who may write which scope is the caller's check
        (administrators: system and department; a doctor: their private ones)."""
        _check_template(template)
        now = clock.now()
        values = {
            "name": template.name.strip(),
            "scope": template.scope,
            "owner": username if template.scope == "private" else "",
            "department": template.department,
            "modality": template.modality.upper(),
            "body_part": template.body_part.upper(),
            "keywords": template.keywords,
            "findings": text.sanitize(template.findings),
            "impression": text.sanitize(template.impression),
            "fields": json.dumps([f.as_dict() for f in template.fields], ensure_ascii=False),
            "active": template.active,
            "updated_at": now,
        }
        with self._write() as conn:
            if template_id is None:
                key = conn.execute(
                    insert(reporting_templates).values(
                        **values, created_by=username, created_at=now
                    )
                ).inserted_primary_key
                assert key is not None
                template_id = int(key[0])
            else:
                existing = records.template(records.template_row(conn, template_id))
                if existing.scope == "private" and existing.owner != username:
                    raise Forbidden("reporting.template.private")
                conn.execute(
                    update(reporting_templates)
                    .where(reporting_templates.c.id == template_id)
                    .values(values)
                )
        return self.template(template_id)

    def save_as_template(
        self, report_id: int, username: str, name: str, keywords: str = ""
    ) -> Template:
        """A doctor keeps a report's text as a private template."""
        with db.read(self.engine) as conn:
            report = records.report(records.report_row(conn, report_id))
        fields: tuple[TemplateField, ...] = ()
        if report.template_id is not None:
            fields = self.template(report.template_id).fields
        return self.save_template(
            username,
            Template(
                id=0,
                name=name,
                scope="private",
                owner=username,
                department=report.department,
                modality=report.modality,
                body_part=report.body_part,
                keywords=keywords,
                findings=report.findings,
                impression=report.impression,
                fields=fields,
            ),
        )

    def delete_template(self, template_id: int, username: str, *, admin: bool) -> None:
        """Templates are deactivated, never deleted: reports refer to them."""
        with self._write() as conn:
            existing = records.template(records.template_row(conn, template_id))
            if existing.scope == "private" and existing.owner != username and not admin:
                raise Forbidden("reporting.template.private")
            if existing.scope != "private" and not admin:
                raise Forbidden("reporting.template.shared")
            conn.execute(
                update(reporting_templates)
                .where(reporting_templates.c.id == template_id)
                .values(active=False, updated_at=clock.now())
            )

    def set_default_template(self, procedure_code: str, template_id: int | None) -> None:
        defaults = reporting_default_templates
        with self._write() as conn:
            conn.execute(delete(defaults).where(defaults.c.procedure_code == procedure_code))
            if template_id is not None:
                records.template_row(conn, template_id)
                conn.execute(
                    insert(defaults).values(procedure_code=procedure_code, template_id=template_id)
                )

    def default_templates(self) -> dict[str, int]:
        with db.read(self.engine) as conn:
            return {
                r.procedure_code: r.template_id
                for r in conn.execute(select(reporting_default_templates))
            }

    # -- word rules ---------------------------------------------------------------------------

    def word_rules(self, *, modality: str = "") -> list[WordRule]:
        with db.read(self.engine) as conn:
            return rules_for(conn, modality)

    def add_word_rule(
        self, kind: str, word: str, *, other: str = "", message: str = "", modality: str = ""
    ) -> WordRule:
        word, other = word.strip(), other.strip()
        if kind not in RULE_KINDS:
            raise ReportingError("reporting.word_rule.kind", kind=kind)
        if not word or (kind == "exclusive" and not other):
            raise ReportingError("reporting.word_rule.two_words")
        with self._write() as conn:
            key = conn.execute(
                insert(reporting_word_rules).values(
                    kind=kind,
                    word=word,
                    other=other if kind == "exclusive" else "",
                    message=message,
                    modality=modality.upper(),
                )
            ).inserted_primary_key
            assert key is not None
            row = conn.execute(
                select(reporting_word_rules).where(reporting_word_rules.c.id == key[0])
            ).one()
        return records.word_rule(row)

    def delete_word_rule(self, rule_id: int) -> None:
        with self._write() as conn:
            gone = conn.execute(
                delete(reporting_word_rules).where(reporting_word_rules.c.id == rule_id)
            ).rowcount
        if not gone:
            raise NotFound("reporting.word_rule.not_found", rule_id=rule_id)


def _check_template(template: Template) -> None:
    if template.scope not in TEMPLATE_SCOPES:
        raise ReportingError(
            "reporting.template.scope", scope=template.scope, scopes=", ".join(TEMPLATE_SCOPES)
        )
    if not template.name.strip():
        raise ReportingError("reporting.template.name_required")
    ids = [f.id for f in template.fields]
    if len(set(ids)) != len(ids):
        raise ReportingError("reporting.template.field_ids_repeat")
    for f in template.fields:
        if f.type not in FIELD_TYPES:
            raise ReportingError(
                "reporting.template.field_type", type=f.type, types=", ".join(FIELD_TYPES)
            )
        if f.type == "choice" and not f.choices:
            raise ReportingError("reporting.template.choices_required", field=f.id)
