"""Film print jobs: a durable job (:mod:`core_server.jobs` over ``film_print_jobs``) per film
sent to a laser imager, retried with back-off while the printer is down or busy, a dead letter
with the printer's reason (NO FILM, FILM JAM...) after ``retry.max_attempts`` tries, re-queued
or cancelled by staff.

A job holds either sheets (``film_sheets`` ids: a modality's print forwarded, a reprint), each
sent as its archived composed picture in ``STANDARD\\1,1`` (the sheet as archived and counted,
byte for byte the same picture), or a composition from the web composer (layout and image
references with window/level), sent as image boxes in its display format, so that the
imager scales each image at its own resolution.

Auto-forward polls ``film_sheets`` with a cursor (``film_print_cursor``): every sheet of
source ``modality`` after the cursor gets a job for the auto-forwarding printer that serves
its modality, once (``forwarded_sheet`` is unique), unless the printer's department prints
only what is not already cloud film. Polling rather than an event: nothing is lost while the
core is down, and several core processes agree through the unique key.

Each change is published on the bus as ``film.print_job`` (and ``film.printer`` for printer
state), which the web adapter relays to ``/api/ws``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db, jobs
from core_server.events import EventBus
from core_server.film import windowing
from core_server.film.print_scu import PrinterError, print_film
from core_server.film.print_tables import film_cloud_only as cloud_only
from core_server.film.print_tables import film_print_cursor as cursor
from core_server.film.print_tables import film_print_jobs as table
from core_server.film.printers import Printer, Printers
from core_server.film.sheet import FilmSheet, ImageBox, Photometric, layout
from core_server.film.tables import film_sheets
from core_server.periodic import Periodic
from core_server.refusals import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)

QUEUE = jobs.Jobs(table, claimed="running")
PRINTED, CANCELLED = "printed", "cancelled"
RETRY = jobs.Retry(first=30.0, longest=600.0, max_attempts=5)
LEASE = timedelta(minutes=5)
MAX_COPIES = 20
EVENT, PRINTER_EVENT = "film.print_job", "film.printer"
# Reasons no retry will change: given up at once.
FOR_GOOD = {"NOT_SUPPORTED", "SHEET_MISSING", "IMAGE_MISSING"}


@dataclass
class PrintJob:
    id: int
    printer_id: int
    printer: str
    copies: int
    kind: str
    sheet_ids: list[int]
    status: str
    attempts: int
    reason: str
    last_error: str
    requested_by: str
    study_instance_uid: str
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    printed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        for key in ("created_at", "updated_at", "next_attempt_at", "printed_at"):
            out[key] = clock.iso(out[key]) if out[key] else None
        return out


class PrintJobs:
    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        printers: Printers,
        locate: Callable[[str], Any],
        *,
        calling_ae: str = "PACS_FILM",
        retry: jobs.Retry = RETRY,
        cloud_film_opened: Callable[[int], bool] | None = None,
    ) -> None:
        """``locate(sop_instance_uid)`` gives an archived object's file path (or None);
        ``cloud_film_opened(exam_id)``: whether the patient has opened the exam's cloud film."""
        self.engine = engine
        self.bus = bus
        self.printers = printers
        self.locate = locate
        self.calling_ae = calling_ae
        self.retry = retry
        self.cloud_film_opened = cloud_film_opened
        self.owner = jobs.this_process()
        self._ticker = Periodic("film-print", 5.0, self._round, at_start=True)

    # -- reading -------------------------------------------------------------------------------

    def get(self, job_id: int) -> PrintJob:
        with db.read(self.engine) as conn:
            row = conn.execute(select(table).where(table.c.id == job_id)).first()
        if row is None:
            raise NotFound("film.job.not_found", job_id=job_id)
        return self._job(row)

    def recent(self, *, limit: int = 200) -> list[PrintJob]:
        with db.read(self.engine) as conn:
            rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(limit)).all()
        return [self._job(r) for r in rows]

    def _job(self, row: Any) -> PrintJob:
        names = {p.id: p.name for p in self.printers.all()}
        return PrintJob(
            id=row.id,
            printer_id=row.printer_id,
            printer=names.get(row.printer_id, ""),
            copies=row.copies,
            kind=row.kind,
            sheet_ids=json.loads(row.sheet_ids or "[]"),
            status=row.status,
            attempts=row.attempts,
            reason=row.reason,
            last_error=row.last_error,
            requested_by=row.requested_by,
            study_instance_uid=row.study_instance_uid,
            created_at=row.created_at,
            updated_at=row.updated_at,
            next_attempt_at=row.next_attempt_at,
            printed_at=row.printed_at,
        )

    # -- staff ---------------------------------------------------------------------------------

    def submit(
        self,
        printer_id: int,
        copies: int,
        by: str,
        *,
        sheet_ids: list[int] | None = None,
        composition: dict[str, Any] | None = None,
        study_instance_uid: str = "",
        forwarded_sheet: int | None = None,
    ) -> PrintJob:
        """A pending job: ``sheet_ids`` (sent as archived) and/or a web ``composition``."""
        printer = self.printers.get(printer_id)
        if not printer.active:
            raise Conflict("film.printer.inactive_refused", name=printer.name)
        if not 1 <= copies <= MAX_COPIES:
            raise Invalid("film.job.copies_refused", most=MAX_COPIES)
        if not sheet_ids and not composition:
            raise Invalid("film.job.empty")
        if composition is not None:
            _check_composition(composition)
        now = clock.now()
        with db.write(self.engine) as conn:
            new_id = conn.execute(
                insert(table)
                .values(
                    printer_id=printer_id,
                    copies=copies,
                    kind="composition" if composition else "sheets",
                    sheet_ids=json.dumps(sheet_ids or []),
                    composition=json.dumps(composition) if composition else "",
                    forwarded_sheet=forwarded_sheet,
                    study_instance_uid=study_instance_uid,
                    requested_by=by,
                    created_at=now,
                    updated_at=now,
                    status=jobs.PENDING,
                    next_attempt_at=now,
                )
                .returning(table.c.id)
            ).scalar_one()
        job = self._changed(int(new_id))
        self._ticker.wake()
        return job

    def requeue(self, job_id: int) -> PrintJob:
        """A dead or cancelled job tried again now, its tries starting over."""
        self.get(job_id)
        if not QUEUE.requeue(self.engine, job_id, (jobs.DEAD, jobs.PENDING, CANCELLED)):
            raise Conflict("film.job.not_requeueable", job_id=job_id)
        self._touch(job_id, reason="")
        self._ticker.wake()
        return self._changed(job_id)

    def cancel(self, job_id: int) -> PrintJob:
        """A waiting (or dead) job will not be sent; one being sent finishes its film."""
        job = self.get(job_id)
        if job.status == CANCELLED:
            return job
        with db.write(self.engine) as conn:
            done = conn.execute(
                update(table)
                .where(table.c.id == job_id, table.c.status.in_([jobs.PENDING, jobs.DEAD]))
                .values(status=CANCELLED, updated_at=clock.now())
            ).rowcount
        if done != 1:
            raise Conflict("film.job.not_cancellable", job_id=job_id, status=job.status)
        return self._changed(job_id)

    def set_cloud_only(self, exam_id: int, on: bool, by: str) -> None:
        """The desk's "cloud film only" mark on an exam (not printed automatically)."""
        with db.write(self.engine) as conn:
            conn.execute(cloud_only.delete().where(cloud_only.c.exam_id == exam_id))
            if on:
                conn.execute(
                    insert(cloud_only).values(exam_id=exam_id, set_by=by, set_at=clock.now())
                )

    def is_cloud_only(self, exam_id: int) -> bool:
        with db.read(self.engine) as conn:
            found = conn.execute(
                select(cloud_only.c.exam_id).where(cloud_only.c.exam_id == exam_id)
            )
            return found.first() is not None

    # -- the worker ----------------------------------------------------------------------------

    def run_due(self) -> int:
        """Send every due job this process can claim; how many printed."""
        printed = 0
        while not self._ticker.stopping:
            claimed = QUEUE.claim_next(
                self.engine, self.owner, LEASE, order_by=(table.c.next_attempt_at,)
            )
            if claimed is None:
                return printed
            self._changed(claimed.row.id)
            printed += self._send(claimed)
        return printed

    def _send(self, claimed: jobs.Claimed) -> int:
        row = claimed.row
        printer = self.printers.get(row.printer_id)
        try:
            sheets = self._sheets(row, printer)
            for sheet in sheets:
                state = print_film(printer.destination(self.calling_ae), sheet, row.copies)
                self._printer_said(printer.id, state)
        except PrinterError as exc:
            log.warning("film job %s on %s: %s", row.id, printer.name, exc)
            if exc.state is not None:
                self._printer_said(printer.id, exc.state)
            QUEUE.fail(
                self.engine,
                row.id,
                claimed.attempt,
                self.owner,
                self.retry,
                str(exc),
                give_up=exc.reason in FOR_GOOD,
                reason=exc.reason[:64],
                updated_at=clock.now(),
            )
            self._changed(row.id)
            return 0
        now = clock.now()
        QUEUE.succeed(
            self.engine, row.id, self.owner, PRINTED, printed_at=now, updated_at=now, reason=""
        )
        self._mark_printed(json.loads(row.sheet_ids or "[]"), printer.name, row.copies, now)
        self._changed(row.id)
        return 1

    def _sheets(self, row: Any, printer: Printer) -> list[FilmSheet]:
        if row.kind == "composition":
            return [self._composed(json.loads(row.composition), printer)]
        ids = json.loads(row.sheet_ids or "[]")
        with db.read(self.engine) as conn:
            found = conn.execute(select(film_sheets).where(film_sheets.c.id.in_(ids))).all()
        by_id = {r.id: r for r in found}
        out: list[FilmSheet] = []
        for sheet_id in ids:
            sheet = by_id.get(sheet_id)
            path = self.locate(sheet.sop_instance_uid) if sheet is not None else None
            if sheet is None or path is None:
                raise PrinterError("SHEET_MISSING", f"film sheet {sheet_id} is not archived")
            pixels = windowing.stored_picture(path, color=printer.color)
            out.append(
                FilmSheet(
                    display_format="STANDARD\\1,1",
                    film_size=sheet.film_size,
                    orientation=sheet.orientation,
                    color=printer.color,
                    images=[ImageBox(1, pixels, _photometric(pixels))],
                )
            )
        return out

    def _composed(self, composition: dict[str, Any], printer: Printer) -> FilmSheet:
        boxes = []
        for item in composition.get("images", []):
            path = self.locate(str(item["sop_instance_uid"]))
            if path is None:
                raise PrinterError("IMAGE_MISSING", str(item["sop_instance_uid"]))
            pixels = windowing.windowed(
                path,
                frame=int(item.get("frame", 1)),
                center=item.get("window_center"),
                width=item.get("window_width"),
                color=printer.color,
            )
            boxes.append(ImageBox(int(item["position"]), pixels, _photometric(pixels)))
        return FilmSheet(
            display_format=composition["display_format"],
            film_size=composition.get("film_size") or printer.default_film_size,
            orientation=composition.get("orientation", "PORTRAIT"),
            color=printer.color,
            images=boxes,
        )

    def _mark_printed(self, sheet_ids: list[int], printer: str, copies: int, at: datetime) -> None:
        """The register's print columns (this part owns them): printed by whom, how often."""
        if not sheet_ids:
            return
        with db.write(self.engine) as conn:
            conn.execute(
                update(film_sheets)
                .where(film_sheets.c.id.in_(sheet_ids))
                .values(
                    printed_at=at,
                    printer=printer[:64],
                    printed_copies=film_sheets.c.printed_copies + copies,
                )
            )

    def _printer_said(self, printer_id: int, state: Any) -> None:
        printer = self.printers.record_state(printer_id, state)
        self.bus.publish(PRINTER_EVENT, {"printer": printer.as_dict()})

    def _touch(self, job_id: int, **values: Any) -> None:
        with db.write(self.engine) as conn:
            conn.execute(
                update(table).where(table.c.id == job_id).values(**values, updated_at=clock.now())
            )

    def _changed(self, job_id: int) -> PrintJob:
        job = self.get(job_id)
        self.bus.publish(EVENT, {"job": job.as_dict()})
        return job

    # -- auto-forward --------------------------------------------------------------------------

    def forward_new(self, batch: int = 200) -> int:
        """Jobs for the modality sheets after the cursor; the cursor moved past them."""
        with db.read(self.engine) as conn:
            last = conn.execute(select(cursor.c.last_id).where(cursor.c.name == "forward")).scalar()
            rows = conn.execute(
                select(film_sheets)
                .where(film_sheets.c.id > (last or 0))
                .order_by(film_sheets.c.id)
                .limit(batch)
            ).all()
        made = 0
        for sheet in rows:
            made += self._forward(sheet)
        if rows:
            self._advance(last, rows[-1].id)
        return made

    def _forward(self, sheet: Any) -> int:
        if sheet.source != "modality":
            return 0
        printer = self.printers.forwarding_for(sheet.modality)
        if printer is None or self._skipped_as_cloud_film(printer, sheet.exam_id):
            return 0
        try:
            self.submit(
                printer.id,
                max(1, min(int(sheet.copies or 1), MAX_COPIES)),
                f"forward:{sheet.calling_ae}",
                sheet_ids=[sheet.id],
                study_instance_uid=sheet.study_instance_uid,
                forwarded_sheet=sheet.id,
            )
        except IntegrityError:
            return 0  # another core process forwarded it
        return 1

    def _skipped_as_cloud_film(self, printer: Printer, exam_id: int | None) -> bool:
        if not printer.skip_cloud_film or exam_id is None:
            return False
        if self.is_cloud_only(exam_id):
            return True
        return bool(self.cloud_film_opened and self.cloud_film_opened(exam_id))

    def _advance(self, last: int | None, to: int) -> None:
        with db.write(self.engine) as conn:
            if last is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(cursor).values(name="forward", last_id=to))
                    return
                except IntegrityError:
                    pass
            conn.execute(
                update(cursor)
                .where(cursor.c.name == "forward", cursor.c.last_id < to)
                .values(last_id=to)
            )

    # -- running -------------------------------------------------------------------------------

    def start(self, interval: float = 5.0) -> None:
        released = QUEUE.release_gone(self.engine)
        if released:
            log.warning("film printing: %d job(s) a stopped core held are due", released)
        self._ticker.interval = interval
        self._ticker.start()

    def wake(self) -> None:
        self._ticker.wake()

    def _round(self) -> None:
        self.forward_new()
        self.run_due()

    def stop(self) -> None:
        self._ticker.stop(timeout=30)


def _photometric(pixels: Any) -> Photometric:
    return "RGB" if pixels.ndim == 3 else "MONOCHROME2"


def _check_composition(composition: dict[str, Any]) -> None:
    fmt = str(composition.get("display_format", ""))
    boxes = len(layout(fmt, 1000, 1000))  # refuses an unknown format
    images = composition.get("images") or []
    if not images:
        raise Invalid("film.job.empty")
    for item in images:
        if not 1 <= int(item.get("position", 0)) <= boxes or not item.get("sop_instance_uid"):
            raise Invalid("film.job.box", position=item.get("position"), boxes=boxes)
