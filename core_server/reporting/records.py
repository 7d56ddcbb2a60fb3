"""Rows to dataclasses, JSON columns, and the small table helpers the service shares. Times
come back aware (UTC) from the ``UtcDateTime`` columns."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select

from core_server import clock, names
from core_server.reporting.models import (
    AlertEvent,
    CriticalAlert,
    HistoryEntry,
    NotFound,
    Report,
    Template,
    TemplateField,
    Version,
    WordRule,
)
from core_server.reporting.tables import (
    reporting_alert_events,
    reporting_critical_alerts,
    reporting_history,
    reporting_reports,
    reporting_templates,
    reporting_versions,
)


def report(row: Any) -> Report:
    m = row._mapping
    return Report(
        id=m["id"],
        exam_id=m["exam_id"],
        accession_number=m["accession_number"],
        patient_id=m["patient_id"],
        issuer=m["issuer"],
        patient_name=m["patient_name"],
        department=m["department"],
        modality=m["modality"],
        body_part=m["body_part"],
        procedure_code=m["procedure_code"],
        emergency=bool(m["emergency"]),
        status=m["status"],
        version=m["version"],
        findings=m["findings"],
        impression=m["impression"],
        fields=json.loads(m["fields"] or "{}"),
        template_id=m["template_id"],
        positive=None if m["positive"] is None else bool(m["positive"]),
        critical=bool(m["critical"]),
        infectious=bool(m["infectious"]),
        teaching=bool(m["teaching"]),
        teaching_note=m["teaching_note"],
        key_images=json.loads(m["key_images"] or "[]"),
        author=m["author"],
        reviewed_by=m["reviewed_by"],
        signed_by=m["signed_by"],
        signed_at=m["signed_at"],
        signed_version=m["signed_version"],
        amendments=m["amendments"],
        report_quality=m["report_quality"],
        report_quality_by=m["report_quality_by"],
        image_quality=m["image_quality"],
        image_quality_by=m["image_quality_by"],
        pathology_result=m["pathology_result"],
        clinical_outcome=m["clinical_outcome"],
        pathology_agreement=m["pathology_agreement"],
        agreement_by=m["agreement_by"],
        lock_holder=m["lock_holder"],
        lock_expires_at=m["lock_expires_at"],
        levels=m["levels"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        draft_saved_at=m["draft_saved_at"],
        amending=m["signed_version"] is not None and m["status"] != "signed",
        patient_display_name=names.display(m["patient_name"]),
    )


def report_row(conn: Connection, report_id: int, *, for_update: bool = False) -> Any:
    query = select(reporting_reports).where(reporting_reports.c.id == report_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("reporting.report.not_found", report_id=report_id)
    return row


def version(row: Any) -> Version:
    m = row._mapping
    return Version(
        report_id=m["report_id"],
        number=m["number"],
        action=m["action"],
        username=m["username"],
        status=m["status"],
        findings=m["findings"],
        impression=m["impression"],
        fields=json.loads(m["fields"] or "{}"),
        created_at=m["created_at"],
        reason=m["reason"],
    )


def history_entry(row: Any) -> HistoryEntry:
    m = row._mapping
    return HistoryEntry(
        action=m["action"],
        username=m["username"],
        at=m["at"],
        old_status=m["old_status"],
        new_status=m["new_status"],
        version=m["version"],
        reason=m["reason"],
    )


def template(row: Any) -> Template:
    m = row._mapping
    return Template(
        id=m["id"],
        name=m["name"],
        scope=m["scope"],
        owner=m["owner"],
        department=m["department"],
        modality=m["modality"],
        body_part=m["body_part"],
        keywords=m["keywords"],
        findings=m["findings"],
        impression=m["impression"],
        fields=tuple(
            TemplateField(**{**f, "choices": tuple(f.get("choices", ()))})
            for f in json.loads(m["fields"] or "[]")
        ),
        active=bool(m["active"]),
    )


def template_row(conn: Connection, template_id: int) -> Any:
    row = conn.execute(
        select(reporting_templates).where(reporting_templates.c.id == template_id)
    ).first()
    if row is None:
        raise NotFound("reporting.template.not_found", template_id=template_id)
    return row


def word_rule(row: Any) -> WordRule:
    m = row._mapping
    return WordRule(
        id=m["id"],
        kind=m["kind"],
        word=m["word"],
        other=m["other"],
        message=m["message"],
        modality=m["modality"],
    )


def alert(
    row: Any, report_row: Any, chain: list[AlertEvent], name: tuple[str, str]
) -> CriticalAlert:
    """An alert with the report's identity; ``name``: the patient's as the RIS has it now
    (stored, and as a person reads it)."""
    m, r = row._mapping, report_row._mapping
    return CriticalAlert(
        id=m["id"],
        report_id=m["report_id"],
        exam_id=r["exam_id"],
        accession_number=r["accession_number"],
        patient_id=r["patient_id"],
        patient_name=name[0],
        department=r["department"],
        description=m["description"],
        raised_by=m["raised_by"],
        raised_at=m["raised_at"],
        status=m["status"],
        escalation_level=m["escalation_level"],
        acknowledged_by=m["acknowledged_by"],
        acknowledged_at=m["acknowledged_at"],
        acknowledgement=m["acknowledgement"],
        chain=tuple(chain),
        patient_display_name=name[1],
    )


def alert_event(row: Any) -> AlertEvent:
    m = row._mapping
    return AlertEvent(
        kind=m["kind"],
        at=m["at"],
        username=m["username"],
        detail=m["detail"],
        ref=m["ref"],
    )


def add_history(
    conn: Connection,
    report_id: int,
    action: str,
    username: str,
    old_status: str,
    new_status: str,
    version_number: int,
    reason: str = "",
) -> None:
    conn.execute(
        insert(reporting_history).values(
            report_id=report_id,
            action=action,
            username=username,
            at=clock.now(),
            old_status=old_status,
            new_status=new_status,
            version=version_number,
            reason=reason,
        )
    )


def add_version(
    conn: Connection,
    row: Any,
    number: int,
    action: str,
    username: str,
    status: str,
    reason: str = "",
) -> None:
    m = row._mapping
    conn.execute(
        insert(reporting_versions).values(
            report_id=m["id"],
            number=number,
            action=action,
            username=username,
            status=status,
            findings=m["findings"],
            impression=m["impression"],
            fields=m["fields"],
            reason=reason,
            created_at=clock.now(),
        )
    )


def add_alert_event(
    conn: Connection, alert_id: int, kind: str, username: str = "", detail: str = "", ref: str = ""
) -> None:
    conn.execute(
        insert(reporting_alert_events).values(
            alert_id=alert_id, kind=kind, at=clock.now(), username=username, detail=detail, ref=ref
        )
    )


def alert_chain(conn: Connection, alert_id: int) -> list[AlertEvent]:
    rows = conn.execute(
        select(reporting_alert_events)
        .where(reporting_alert_events.c.alert_id == alert_id)
        .order_by(reporting_alert_events.c.id)
    )
    return [alert_event(r) for r in rows]


def alert_row(conn: Connection, alert_id: int) -> Any:
    row = conn.execute(
        select(reporting_critical_alerts).where(reporting_critical_alerts.c.id == alert_id)
    ).first()
    if row is None:
        raise NotFound("reporting.critical.not_found", alert_id=alert_id)
    return row
