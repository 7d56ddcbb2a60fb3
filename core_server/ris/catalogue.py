"""Departments, exam items (procedures) and rooms, with the catalogue a new appliance starts
with: a sensible set of CT, MR, DR, ultrasound and endoscopy items of a Chinese county or city
hospital, which the administrator edits to the hospital's price list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.ris.base import RisCore
from core_server.ris.models import Department, NotFound, Procedure, RisError, Room
from core_server.ris.tables import ris_departments, ris_procedures, ris_rooms

DEPARTMENTS = (
    Department("RAD", "放射科", "Radiology"),
    Department("US", "超声科", "Ultrasound"),
    Department("ENDO", "内镜中心", "Endoscopy"),
)


def _p(code: str, zh: str, en: str, modality: str, part: str, dept: str, minutes: int) -> Procedure:
    return Procedure(code, zh, en, modality, part, dept, minutes)


PROCEDURES = (
    _p("CT-HEAD", "头颅CT平扫", "CT head, plain", "CT", "HEAD", "RAD", 10),
    _p("CT-HEAD-C", "头颅CT增强", "CT head, contrast", "CT", "HEAD", "RAD", 20),
    _p("CT-CHEST", "胸部CT平扫", "CT chest, plain", "CT", "CHEST", "RAD", 10),
    _p("CT-CHEST-LD", "胸部低剂量CT", "CT chest, low dose", "CT", "CHEST", "RAD", 10),
    _p("CT-ABD", "上腹部CT平扫", "CT upper abdomen, plain", "CT", "ABDOMEN", "RAD", 10),
    _p("CT-ABD-C", "全腹部CT增强", "CT abdomen, contrast", "CT", "ABDOMEN", "RAD", 25),
    _p("CT-CSPINE", "颈椎CT平扫", "CT cervical spine", "CT", "CSPINE", "RAD", 10),
    _p("CT-LSPINE", "腰椎CT平扫", "CT lumbar spine", "CT", "LSPINE", "RAD", 10),
    _p("CT-CTA-COR", "冠状动脉CTA", "Coronary CT angiography", "CT", "HEART", "RAD", 30),
    _p("MR-HEAD", "头颅MR平扫", "MR brain, plain", "MR", "HEAD", "RAD", 30),
    _p("MR-HEAD-C", "头颅MR增强", "MR brain, contrast", "MR", "HEAD", "RAD", 45),
    _p("MR-CSPINE", "颈椎MR平扫", "MR cervical spine", "MR", "CSPINE", "RAD", 30),
    _p("MR-LSPINE", "腰椎MR平扫", "MR lumbar spine", "MR", "LSPINE", "RAD", 30),
    _p("MR-KNEE", "膝关节MR平扫", "MR knee", "MR", "KNEE", "RAD", 30),
    _p("MR-ABD", "上腹部MR平扫", "MR upper abdomen", "MR", "ABDOMEN", "RAD", 40),
    _p("MR-PELVIS", "盆腔MR平扫", "MR pelvis", "MR", "PELVIS", "RAD", 40),
    _p("DR-CHEST-PA", "胸部正位片", "Chest X-ray PA", "DX", "CHEST", "RAD", 5),
    _p("DR-CHEST-2V", "胸部正侧位片", "Chest X-ray PA and lateral", "DX", "CHEST", "RAD", 5),
    _p("DR-CSPINE", "颈椎正侧位片", "Cervical spine X-ray", "DX", "CSPINE", "RAD", 5),
    _p("DR-LSPINE", "腰椎正侧位片", "Lumbar spine X-ray", "DX", "LSPINE", "RAD", 5),
    _p("DR-KNEE", "膝关节正侧位片", "Knee X-ray", "DX", "KNEE", "RAD", 5),
    _p("DR-ABD", "腹部立位平片", "Abdomen X-ray, erect", "DX", "ABDOMEN", "RAD", 5),
    _p("MG-BREAST", "乳腺钼靶摄影", "Mammography", "MG", "BREAST", "RAD", 15),
    _p("US-ABD", "腹部彩超（肝胆胰脾）", "Abdominal ultrasound", "US", "ABDOMEN", "US", 15),
    _p("US-THYROID", "甲状腺彩超", "Thyroid ultrasound", "US", "THYROID", "US", 10),
    _p("US-BREAST", "乳腺彩超", "Breast ultrasound", "US", "BREAST", "US", 10),
    _p("US-URINARY", "泌尿系彩超", "Urinary tract ultrasound", "US", "KIDNEY", "US", 10),
    _p("US-GYN", "妇科彩超（经腹）", "Gynaecological ultrasound", "US", "PELVIS", "US", 15),
    _p("US-OB", "产科彩超", "Obstetric ultrasound", "US", "PELVIS", "US", 20),
    _p("US-HEART", "心脏彩超", "Echocardiography", "US", "HEART", "US", 20),
    _p("US-CAROTID", "颈部血管彩超", "Carotid ultrasound", "US", "NECK", "US", 15),
    _p("ES-GASTRO", "胃镜检查", "Gastroscopy", "ES", "STOMACH", "ENDO", 20),
    _p("ES-GASTRO-P", "无痛胃镜检查", "Gastroscopy under sedation", "ES", "STOMACH", "ENDO", 30),
    _p("ES-COLON", "肠镜检查", "Colonoscopy", "ES", "COLON", "ENDO", 30),
    _p("ES-COLON-P", "无痛肠镜检查", "Colonoscopy under sedation", "ES", "COLON", "ENDO", 40),
    _p("ES-BRONCH", "支气管镜检查", "Bronchoscopy", "ES", "LUNG", "ENDO", 30),
)

ROOMS = (
    Room("CT1", "CT一室", "CT", "RAD", "CT01", 10, 1),
    Room("MR1", "MR一室", "MR", "RAD", "MR01", 30, 1),
    Room("DR1", "DR一室", "DX", "RAD", "DR01", 5, 1),
    Room("MG1", "钼靶室", "MG", "RAD", "MG01", 15, 1),
    Room("US1", "超声一室", "US", "US", "US01", 15, 1),
    Room("US2", "超声二室", "US", "US", "US02", 15, 1),
    Room("ES1", "胃镜室", "ES", "ENDO", "ES01", 20, 1),
    Room("ES2", "肠镜室", "ES", "ENDO", "ES02", 30, 1),
)


def seed(conn: Connection) -> bool:
    """Fill an empty catalogue; False when it had something already (a restart, an edit)."""
    if conn.execute(select(func.count()).select_from(ris_departments)).scalar_one():
        return False
    try:
        with conn.begin_nested():
            conn.execute(insert(ris_departments), [d.as_dict() for d in DEPARTMENTS])
            conn.execute(insert(ris_procedures), [p.as_dict() for p in PROCEDURES])
            conn.execute(insert(ris_rooms), [r.as_dict() for r in ROOMS])
    except IntegrityError:
        return False  # another process seeded it at the same moment
    return True


def departments(conn: Connection) -> list[Department]:
    rows = conn.execute(select(ris_departments).order_by(ris_departments.c.code))
    return [Department(r.code, r.name_zh, r.name_en) for r in rows]


def _procedure(row: Any) -> Procedure:
    return Procedure(
        row.code,
        row.name_zh,
        row.name_en,
        row.modality,
        row.body_part,
        row.department,
        row.duration_minutes,
        bool(row.active),
        row.price_fen,
    )


def procedures(conn: Connection, modality: str = "", active_only: bool = True) -> list[Procedure]:
    query = select(ris_procedures).order_by(ris_procedures.c.modality, ris_procedures.c.code)
    if modality:
        query = query.where(ris_procedures.c.modality == modality)
    if active_only:
        query = query.where(ris_procedures.c.active.is_(True))
    return [_procedure(r) for r in conn.execute(query)]


def procedure(conn: Connection, code: str) -> Procedure:
    row = conn.execute(select(ris_procedures).where(ris_procedures.c.code == code)).first()
    if row is None:
        raise NotFound("ris.catalogue.procedure_not_found", code=code)
    return _procedure(row)


def save_procedure(conn: Connection, item: Procedure) -> Procedure:
    if not item.code or not item.name_zh or not item.modality:
        raise RisError("ris.catalogue.procedure_incomplete")
    if item.price_fen < 0:
        raise RisError("ris.catalogue.negative_price")
    values = item.as_dict()
    if conn.execute(
        select(ris_procedures.c.code).where(ris_procedures.c.code == item.code)
    ).first():
        conn.execute(
            update(ris_procedures).where(ris_procedures.c.code == item.code).values(values)
        )
    else:
        conn.execute(insert(ris_procedures).values(values))
    return item


def _room(row: Any) -> Room:
    return Room(
        row.code,
        row.name,
        row.modality,
        row.department,
        row.station_ae,
        row.slot_minutes,
        row.slot_capacity,
        row.opens,
        row.closes,
    )


def rooms(conn: Connection, modality: str = "") -> list[Room]:
    query = select(ris_rooms).order_by(ris_rooms.c.code)
    if modality:
        query = query.where(ris_rooms.c.modality == modality)
    return [_room(r) for r in conn.execute(query)]


def room(conn: Connection, code: str) -> Room:
    row = conn.execute(select(ris_rooms).where(ris_rooms.c.code == code)).first()
    if row is None:
        raise NotFound("ris.catalogue.room_not_found", code=code)
    return _room(row)


def save_room(conn: Connection, item: Room) -> Room:
    if not item.code or not item.name or not item.modality:
        raise RisError("ris.catalogue.room_incomplete")
    if item.slot_minutes < 1 or item.slot_capacity < 1:
        raise RisError("ris.catalogue.slot_too_small")
    if not (_hhmm(item.opens) < _hhmm(item.closes)):
        raise RisError("ris.catalogue.opens_after_closing")
    values = item.as_dict()
    if conn.execute(select(ris_rooms.c.code).where(ris_rooms.c.code == item.code)).first():
        conn.execute(update(ris_rooms).where(ris_rooms.c.code == item.code).values(values))
    else:
        conn.execute(insert(ris_rooms).values(values))
    return item


def _hhmm(value: str) -> int:
    try:
        hours, minutes = value.split(":")
        total = int(hours) * 60 + int(minutes)
    except ValueError:
        raise RisError("ris.catalogue.bad_time", value=value) from None
    if not 0 <= total <= 24 * 60:
        raise RisError("ris.catalogue.bad_time", value=value)
    return total


def minutes_of_day(value: str) -> int:
    return _hhmm(value)


class Catalogue(RisCore):
    """The service's catalogue methods: departments, exam items, rooms."""

    def departments(self) -> list[Department]:
        with db.read(self.engine) as conn:
            return departments(conn)

    def procedures(self, *, modality: str = "", active_only: bool = True) -> list[Procedure]:
        with db.read(self.engine) as conn:
            return procedures(conn, modality, active_only)

    def save_procedure(self, procedure: Procedure, *, username: str) -> Procedure:
        with self._write() as conn:
            return save_procedure(conn, procedure)

    def rooms(self, *, modality: str = "") -> list[Room]:
        with db.read(self.engine) as conn:
            return rooms(conn, modality)

    def save_room(self, room: Room, *, username: str) -> Room:
        with self._write() as conn:
            return save_room(conn, room)
