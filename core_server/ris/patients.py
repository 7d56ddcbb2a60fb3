"""The patient master and visits: registration, update, merge (A40), search."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from core_server import db, pinyin
from core_server.ris import records, validation
from core_server.ris.models import (
    Conflict,
    NotFound,
    PatientClass,
    PatientIn,
    RisError,
    Visit,
    VisitIn,
)
from core_server.ris.tables import (
    ris_exams,
    ris_orders,
    ris_patients,
    ris_visits,
)


def clean(patient: PatientIn) -> dict[str, Any]:
    """Checked, normalised column values of a patient; an ID card number fills in (or must
    agree with) the birth date and sex."""
    patient_id = patient.patient_id.strip()
    name = patient.name.strip()
    if not patient_id or len(patient_id) > 64 or "\\" in patient_id:
        raise RisError("患者ID为1到64个字符 / a patient ID has 1 to 64 characters, no backslash")
    if not name or len(name) > 64:
        raise RisError(
            "请填写患者姓名（最多64字） / a patient name is required (up to 64 characters)"
        )
    born = patient.birth_date
    sex = validation.normalize_sex(patient.sex)
    card = patient.id_card_number.strip().upper()
    if card:
        parsed = validation.parse_id_card(card)
        if born is not None and born != parsed.birth_date:
            raise RisError(
                f"出生日期与身份证号不符 / birth date {born.isoformat()} differs from the "
                f"ID card's {parsed.birth_date.isoformat()}"
            )
        if sex in ("M", "F") and sex != parsed.sex:
            raise RisError("性别与身份证号不符 / sex differs from the ID card number")
        born, sex = parsed.birth_date, sex or parsed.sex
    validation.check_birth_date(born)
    name_pinyin = (patient.name_pinyin.strip().upper() or pinyin.to_pinyin(name))[:128]
    if not name_pinyin.isascii():
        raise RisError("拼音姓名只能包含ASCII字母 / the pinyin name must be ASCII")
    return {
        "patient_id": patient_id,
        "issuer": patient.issuer.strip(),
        "name": name,
        "name_pinyin": name_pinyin,
        "name_initials": pinyin.initials(name, name_pinyin)[:32],
        "id_card_number": card,
        "birth_date": born.isoformat() if born else None,
        "sex": sex,
        "phone": validation.normalize_phone(patient.phone),
        "address": patient.address.strip()[:255],
    }


def upsert(conn: Connection, values: dict[str, Any]) -> tuple[Any, Any | None]:
    """Insert the patient or update the one with that ID and issuer: (new row, old row)."""
    old = conn.execute(
        select(ris_patients)
        .where(
            ris_patients.c.patient_id == values["patient_id"],
            ris_patients.c.issuer == values["issuer"],
        )
        .with_for_update()
    ).first()
    stamp = records.now()
    if old is None:
        conn.execute(insert(ris_patients).values(**values, created_at=stamp, updated_at=stamp))
    else:
        if old.merged_into_fk is not None:
            raise Conflict(
                f"患者 {values['patient_id']} 已被合并 / patient {values['patient_id']!r} was "
                "merged into another and cannot change"
            )
        conn.execute(
            update(ris_patients)
            .where(ris_patients.c.id == old.id)
            .values(**values, updated_at=stamp)
        )
    new = records.patient_row(conn, values["patient_id"], values["issuer"])
    return new, old


def merge(conn: Connection, surviving: Any, merged: Any) -> None:
    if surviving.id == merged.id:
        raise Conflict("不能将患者合并到其自身 / a patient cannot be merged into itself")
    if merged.merged_into_fk is not None:
        raise Conflict(f"患者 {merged.patient_id} 已被合并 / patient was merged already")
    if surviving.merged_into_fk is not None:
        raise Conflict(
            f"目标患者 {surviving.patient_id} 已被合并 / the surviving patient was itself merged"
        )
    for table in (ris_visits, ris_orders, ris_exams):
        conn.execute(
            update(table).where(table.c.patient_fk == merged.id).values(patient_fk=surviving.id)
        )
    conn.execute(
        update(ris_patients)
        .where(ris_patients.c.id == merged.id)
        .values(merged_into_fk=surviving.id, updated_at=records.now())
    )


def search(
    conn: Connection,
    *,
    patient_id: str = "",
    id_card_number: str = "",
    name: str = "",
    birth_date: date | None = None,
    text: str = "",
    limit: int = 50,
) -> list[Any]:
    query = select(ris_patients).where(ris_patients.c.merged_into_fk.is_(None))
    if patient_id:
        query = query.where(ris_patients.c.patient_id == patient_id.strip())
    if id_card_number:
        query = query.where(ris_patients.c.id_card_number == id_card_number.strip().upper())
    if name:
        name = name.strip()
        if pinyin.is_chinese(name):
            query = query.where(ris_patients.c.name == name)
        else:
            query = query.where(ris_patients.c.name_pinyin == pinyin.to_pinyin(name))
    if birth_date is not None:
        query = query.where(ris_patients.c.birth_date == birth_date.isoformat())
    if text:
        value = text.strip()
        upper = value.upper()
        query = query.where(
            or_(
                ris_patients.c.patient_id == value,
                ris_patients.c.id_card_number == upper,
                ris_patients.c.phone == value,
                db.starts_with(ris_patients.c.name, value),
                db.starts_with(ris_patients.c.name_initials, upper),
                db.starts_with(ris_patients.c.name_pinyin, upper),
            )
        )
    query = query.order_by(ris_patients.c.updated_at.desc()).limit(limit)
    return list(conn.execute(query))


def upsert_visit(conn: Connection, patient_row: Any, visit: VisitIn) -> Visit:
    number = visit.visit_number.strip()
    if not number or len(number) > 64:
        raise RisError("就诊号为1到64个字符 / a visit number has 1 to 64 characters")
    try:
        PatientClass(visit.patient_class)
    except ValueError:
        known = ", ".join(c.value for c in PatientClass)
        raise RisError(
            f"未知的就诊类型 / unknown patient class {visit.patient_class!r}; {known}"
        ) from None
    values = {
        "patient_fk": patient_row.id,
        "patient_class": str(visit.patient_class),
        "department": visit.department,
        "ward": visit.ward,
        "bed": visit.bed,
        "attending_doctor": visit.attending_doctor,
        "admitted_at": visit.admitted_at,
    }
    row = conn.execute(select(ris_visits).where(ris_visits.c.visit_number == number)).first()
    if row is None:
        conn.execute(
            insert(ris_visits).values(
                visit_number=number, status="active", created_at=records.now(), **values
            )
        )
    else:
        if row.patient_fk != patient_row.id:
            raise Conflict(
                f"就诊号 {number} 属于其他患者 / visit {number!r} belongs to another patient"
            )
        conn.execute(update(ris_visits).where(ris_visits.c.id == row.id).values(**values))
    return visit_by_number(conn, number)


def visit_row(conn: Connection, number: str) -> Any:
    row = conn.execute(
        select(ris_visits).where(ris_visits.c.visit_number == number).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"就诊不存在 / no visit {number!r}")
    return row


def visit_by_number(conn: Connection, number: str) -> Visit:
    row = visit_row(conn, number)
    owner = conn.execute(select(ris_patients).where(ris_patients.c.id == row.patient_fk)).one()
    return records.visit(row, owner)


def set_visit(conn: Connection, number: str, **values: Any) -> Visit:
    row = visit_row(conn, number)
    conn.execute(update(ris_visits).where(ris_visits.c.id == row.id).values(**values))
    return visit_by_number(conn, number)
