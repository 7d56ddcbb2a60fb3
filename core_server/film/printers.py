"""The department's laser imagers (激光相机): where film jobs go, what each one can print, and
what it last said about itself (Printer N-GET, N-EVENT-REPORT).

A printer serves some modalities and departments ("" = all); one with ``auto_forward`` gets
the sheets modalities print to the appliance's Print SCP. ``skip_cloud_film`` is the
department option "print only what the patient has not already got as cloud film": a sheet
of an exam marked "cloud film only" at the desk, or whose cloud-film link the patient has
opened, is not forwarded automatically (docs/film-printing.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.film.print_scu import Destination, PrinterState
from core_server.film.print_tables import film_printers as printers
from core_server.film.sheet import FILM_SIZES_MM
from core_server.refusals import Conflict, Invalid, NotFound

MEDIA = ("BLUE FILM", "CLEAR FILM", "PAPER")
DESTINATIONS = ("MAGAZINE", "PROCESSOR")
PRIORITIES = ("HIGH", "MED", "LOW")
KEEP_EVENTS = 20  # printer events kept for the admin page


@dataclass
class PrinterSettings:
    """What an administrator sets for a printer."""

    name: str
    ae_title: str
    host: str
    port: int
    color: bool = False
    film_sizes: list[str] = field(default_factory=lambda: ["14INX17IN"])
    media: list[str] = field(default_factory=lambda: ["BLUE FILM"])
    default_film_size: str = "14INX17IN"
    default_medium: str = "BLUE FILM"
    default_destination: str = "PROCESSOR"
    default_priority: str = "MED"
    modalities: list[str] = field(default_factory=list)  # empty: all
    departments: list[str] = field(default_factory=list)  # empty: all
    auto_forward: bool = False
    skip_cloud_film: bool = False
    active: bool = True

    def check(self) -> None:
        if not self.name.strip() or not self.ae_title.strip() or not self.host.strip():
            raise Invalid("film.printer.missing")
        if not 1 <= self.port <= 65535:
            raise Invalid("film.printer.port", port=self.port)
        for size in [*self.film_sizes, self.default_film_size]:
            if size not in FILM_SIZES_MM:
                raise Invalid("film.film_size", value=size)
        for medium in [*self.media, self.default_medium]:
            if medium not in MEDIA:
                raise Invalid("film.printer.medium", value=medium)
        if self.default_destination not in DESTINATIONS:
            raise Invalid("film.printer.destination", value=self.default_destination)
        if self.default_priority not in PRIORITIES:
            raise Invalid("film.printer.priority", value=self.default_priority)


@dataclass
class Printer(PrinterSettings):
    id: int = 0
    status: str = ""
    status_info: str = ""
    status_at: datetime | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def destination(self, calling_ae: str) -> Destination:
        return Destination(
            self.ae_title,
            self.host,
            self.port,
            calling_ae=calling_ae,
            medium=self.default_medium,
            destination=self.default_destination,
            priority=self.default_priority,
        )

    def serves(self, modality: str) -> bool:
        return not self.modalities or modality.upper() in self.modalities

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status_at"] = clock.iso(self.status_at) if self.status_at else None
        return out


def _split(text: str) -> list[str]:
    return [v for v in (p.strip() for p in text.split(",")) if v]


def _printer(row: Any) -> Printer:
    return Printer(
        id=row.id,
        name=row.name,
        ae_title=row.ae_title,
        host=row.host,
        port=row.port,
        color=bool(row.color),
        film_sizes=_split(row.film_sizes),
        media=_split(row.media),
        default_film_size=row.default_film_size,
        default_medium=row.default_medium,
        default_destination=row.default_destination,
        default_priority=row.default_priority,
        modalities=_split(row.modalities),
        departments=_split(row.departments),
        auto_forward=bool(row.auto_forward),
        skip_cloud_film=bool(row.skip_cloud_film),
        active=bool(row.active),
        status=row.status,
        status_info=row.status_info,
        status_at=row.status_at,
        events=json.loads(row.events or "[]"),
    )


def _values(s: PrinterSettings) -> dict[str, Any]:
    values = asdict(s)
    for name in ("film_sizes", "media", "modalities", "departments"):
        values[name] = ",".join(
            v.strip().upper() if name == "modalities" else v for v in values[name]
        )
    values["ae_title"] = s.ae_title.strip()
    return values


class Printers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self, *, active_only: bool = False) -> list[Printer]:
        query = select(printers).order_by(printers.c.name)
        if active_only:
            query = query.where(printers.c.active.is_(True))
        with db.read(self.engine) as conn:
            return [_printer(r) for r in conn.execute(query)]

    def get(self, printer_id: int) -> Printer:
        with db.read(self.engine) as conn:
            row = conn.execute(select(printers).where(printers.c.id == printer_id)).first()
        if row is None:
            raise NotFound("film.printer.not_found", printer_id=printer_id)
        return _printer(row)

    def create(self, settings: PrinterSettings) -> Printer:
        settings.check()
        now = clock.now()
        try:
            with db.write(self.engine) as conn:
                new_id = conn.execute(
                    insert(printers)
                    .values(**_values(settings), created_at=now, updated_at=now)
                    .returning(printers.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict("film.printer.name_taken", name=settings.name) from None
        return self.get(int(new_id))

    def update(self, printer_id: int, settings: PrinterSettings) -> Printer:
        settings.check()
        self.get(printer_id)
        try:
            with db.write(self.engine) as conn:
                conn.execute(
                    update(printers)
                    .where(printers.c.id == printer_id)
                    .values(**_values(settings), updated_at=clock.now())
                )
        except IntegrityError:
            raise Conflict("film.printer.name_taken", name=settings.name) from None
        return self.get(printer_id)

    def record_state(self, printer_id: int, state: PrinterState) -> Printer:
        """Keep what the printer said (its status and its newest events)."""
        current = self.get(printer_id)
        events = (current.events + state.events)[-KEEP_EVENTS:]
        values: dict[str, Any] = {"events": json.dumps(events, ensure_ascii=False)}
        if state.status:
            values.update(status=state.status, status_info=state.status_info or state.status)
            values["status_at"] = clock.now()
        with db.write(self.engine) as conn:
            conn.execute(update(printers).where(printers.c.id == printer_id).values(**values))
        return self.get(printer_id)

    def forwarding_for(self, modality: str) -> Printer | None:
        """The active auto-forwarding printer serving ``modality`` (the first by name)."""
        for printer in self.all(active_only=True):
            if printer.auto_forward and printer.serves(modality):
                return printer
        return None
