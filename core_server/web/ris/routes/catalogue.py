"""The catalogue: departments, exam items, rooms and their appointment slots."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core_server.ris import Procedure, Room
from core_server.web.ris.routes.access import Admin, Reader, Staff, record, ris

router = APIRouter()


@router.get("/departments")
def departments(request: Request, _user: Reader) -> list[dict[str, Any]]:
    return [d.as_dict() for d in ris(request).departments()]


@router.get("/procedures")
def procedures(
    request: Request, _user: Reader, modality: str = "", all: bool = False
) -> list[dict[str, Any]]:
    return [p.as_dict() for p in ris(request).procedures(modality=modality, active_only=not all)]


class ProcedureItem(BaseModel):
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field("", max_length=128)
    modality: str = Field(min_length=1, max_length=16)
    body_part: str = Field("", max_length=16, description="DICOM Body Part Examined")
    department: str = Field(min_length=1, max_length=32)
    duration_minutes: int = Field(15, ge=1, le=480)
    active: bool = True
    price_fen: int = Field(0, ge=0, le=100_000_000, description="price in fen (1/100 yuan)")


@router.put("/procedures/{code}")
def save_procedure(request: Request, code: str, body: ProcedureItem, user: Admin) -> Any:
    """Add or change an exam item of the catalogue."""
    item = Procedure(code=code, **body.model_dump())
    saved = ris(request).save_procedure(item, username=user.username)
    record(request, user, "ris.catalogue.procedure", code)
    return saved.as_dict()


@router.get("/rooms")
def rooms(request: Request, _user: Reader, modality: str = "") -> list[dict[str, Any]]:
    return [r.as_dict() for r in ris(request).rooms(modality=modality)]


class RoomItem(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    modality: str = Field(min_length=1, max_length=16)
    department: str = Field(min_length=1, max_length=32)
    station_ae: str = Field("", max_length=16, description="AE title of the room's device")
    slot_minutes: int = Field(15, ge=1, le=480)
    slot_capacity: int = Field(1, ge=1, le=100)
    opens: str = Field("08:00", pattern=r"^\d{2}:\d{2}$")
    closes: str = Field("17:00", pattern=r"^\d{2}:\d{2}$")


@router.put("/rooms/{code}")
def save_room(request: Request, code: str, body: RoomItem, user: Admin) -> Any:
    """Add or change an exam room, its station AE and its appointment slots."""
    saved = ris(request).save_room(Room(code=code, **body.model_dump()), username=user.username)
    record(request, user, "ris.catalogue.room", code)
    return saved.as_dict()


@router.get("/rooms/{code}/slots")
def slots(request: Request, code: str, day: date, _user: Staff) -> list[dict[str, Any]]:
    """The room's slots of the hospital's day ``day``, starts and ends with their offset."""
    return [s.as_dict() | {"free": s.free} for s in ris(request).slots(code, day)]
