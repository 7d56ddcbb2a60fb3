"""What each filter of the figures can be set to: the RIS's departments, rooms and exam items,
the modalities of the catalogue, the patient types, and the referring departments seen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from core_server.ris.tables import ris_departments, ris_orders, ris_procedures, ris_rooms

PATIENT_CLASSES = ("outpatient", "inpatient", "emergency", "physical_exam")
REFERRING_SHOWN = 300  # the most referring departments a picker lists


def choices(conn: Connection, lang: str) -> dict[str, list[dict[str, Any]]]:
    """``dimension -> [{"value", "label"}]`` (labels in ``lang``; a code is its own label)."""
    zh = lang == "zh"
    departments = conn.execute(select(ris_departments).order_by(ris_departments.c.code)).all()
    rooms = conn.execute(select(ris_rooms).order_by(ris_rooms.c.code)).all()
    procedures = conn.execute(select(ris_procedures).order_by(ris_procedures.c.code)).all()
    referring = conn.execute(
        select(ris_orders.c.referring_department)
        .distinct()
        .where(ris_orders.c.referring_department != "")
        .order_by(ris_orders.c.referring_department)
        .limit(REFERRING_SHOWN)
    ).scalars()
    return {
        "department": [
            {"value": d.code, "label": d.name_zh if zh else d.name_en} for d in departments
        ],
        "modality": [{"value": m, "label": m} for m in sorted({p.modality for p in procedures})],
        "room": [{"value": r.code, "label": r.name} for r in rooms],
        "procedure_code": [
            {"value": p.code, "label": p.name_zh if zh else p.name_en} for p in procedures
        ],
        "referring_department": [{"value": name, "label": name} for name in referring],
        "patient_class": [{"value": c, "label": ""} for c in PATIENT_CLASSES],
    }
