"""Report output: signed reports archived as DICOM (SR and encapsulated PDF), printing with its
log and reprint permission.

Archiving is a durable job: when a report is signed (the "reporting.report_signed" event, and
at every start-up for signed versions without their rows, in case the process stopped between
the signature's commit and the event) a row per kind is written with the object's UIDs fixed;
a background thread stores due rows through ``Archive.store_instance`` and retries a failure
with a growing pause (10 s doubling up to an hour), never giving up: a report once signed
always reaches the archive. Rows are claimed with a conditional UPDATE (a lease), so several
core processes never store one object twice at once; should they, the fixed UIDs make the
second store replace the first, not add a copy.

Printing: the first print of a signed version is open to the report's department (registrar,
technician, doctors, administrator); printing it again (补打) needs the reprint permission,
which administrators have and give to named users (``report_reprint_grants``). Every print and
every refused reprint is in the print log / audit trail.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid
from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.archive import Archive, Origin
from core_server.auth import User, get_user, record_audit
from core_server.reporting.models import Forbidden, NotFound, ReportingError
from core_server.reporting.output import dicom_objects, images, rendering, source
from core_server.reporting.output.tables import (
    report_output_objects,
    report_print_log,
    report_reprint_grants,
)
from core_server.ris import Ris

log = logging.getLogger(__name__)
KINDS = ("sr", "pdf")  # every signed version
KEY_IMAGES = "ko"  # a signed version whose report has key images
PRINT_ROLES = ("admin", "registrar", "technician", "reporting_doctor", "reviewing_doctor")
REPRINT_ROLES = ("admin",)
FIRST_RETRY = 10.0  # seconds; doubled after each failure
LAST_RETRY = 3600.0
LEASE = timedelta(minutes=5)  # how long a claimed row is left to its process
MAX_COPIES = 10
PRINT_FETCH_WINDOW = timedelta(minutes=10)  # a logged print's PDF can be fetched this long
WARM_UP_AFTER = 60.0  # seconds after start: a quiet moment to warm the PDF renderer up
SWEEP_SECONDS = 300.0  # how often the worker looks for signed versions without rows
# Modalities whose pictures are photographs: without chosen key images the first ones print.
PHOTO_MODALITIES = ("US", "ES", "XC", "GM", "OP")
# SOP classes that are no pictures: SR documents, encapsulated documents, presentation states
# and key object selections (the report's own archived objects among them).
NOT_PICTURES = (
    "1.2.840.10008.5.1.4.1.1.88.",
    "1.2.840.10008.5.1.4.1.1.104.",
    "1.2.840.10008.5.1.4.1.1.11.",
)


@dataclass(frozen=True)
class ArchivedObject:
    report_id: int
    version: int
    kind: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    status: str  # pending, stored
    attempts: int
    last_error: str
    stored_at: datetime | None


@dataclass(frozen=True)
class PrintRecord:
    id: int
    report_id: int
    version: int
    accession_number: str
    username: str
    printed_at: datetime
    copies: int
    reprint: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "printed_at": self.printed_at.isoformat()}


@dataclass(frozen=True)
class ReprintGrant:
    username: str
    granted_by: str
    granted_at: datetime
    note: str


def default_public_url(host: str, port: int) -> str:
    """Where this server is probably reached when no ``public_url`` is set."""
    name = socket.getfqdn() if host in ("", "0.0.0.0", "::") else host
    return f"http://{name}:{port}"


def _archived(r: Any) -> ArchivedObject:
    return ArchivedObject(
        r.report_id,
        r.version,
        r.kind,
        r.study_instance_uid,
        r.series_instance_uid,
        r.sop_instance_uid,
        r.status,
        r.attempts,
        r.last_error,
        _utc(r.stored_at),
    )


def _print_note(reprint: bool, number: int) -> str:
    return f"补打（第 {number} 次打印） / reprint" if reprint else ""


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class ReportOutput:
    def __init__(
        self,
        engine: Engine,
        archive: Archive,
        ris: Ris | None,
        *,
        hospital: str,
        public_url: str = "",
        fallback_url: str = "",
        site_dir: Path | None = None,
        ae_title: str = "PACS",
    ) -> None:
        self.engine = engine
        self.archive = archive
        self.ris = ris
        self.hospital = hospital
        self.public_url = public_url.rstrip("/")
        self.fallback_url = fallback_url.rstrip("/")
        self.site_dir = site_dir
        self.ae_title = ae_title
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- archiving -------------------------------------------------------------------------

    def on_report_signed(self, _topic: str, payload: dict[str, Any]) -> None:
        """Bus subscriber: the signature is committed; note its objects, wake the worker."""
        version = payload.get("version")
        self.enqueue(int(payload["report_id"]), int(version) if version is not None else None)
        self._wake.set()

    def enqueue(self, report_id: int, version: int | None = None) -> list[ArchivedObject]:
        """The rows of one signed version (default: the newest), created if missing."""
        signed = source.load(self.engine, self.ris, report_id, version)
        study = signed.study_instance_uid or generate_uid(
            entropy_srcs=["report-study", signed.report.accession_number]
        )
        now = _now()
        # The key images' row first: the sweep looks only for versions missing SR or PDF rows.
        kinds = (KEY_IMAGES, *KINDS) if signed.report.key_images else KINDS
        for kind in kinds:
            try:
                with db.write(self.engine) as conn:
                    conn.execute(
                        insert(report_output_objects).values(
                            report_id=report_id,
                            version=signed.version.number,
                            kind=kind,
                            study_instance_uid=study,
                            series_instance_uid=dicom_objects.series_uid(study, kind),
                            sop_instance_uid=generate_uid(),
                            status="pending",
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
            except IntegrityError:
                pass  # already there (event and start-up sweep, or two processes)
        return [o for o in self.objects(report_id) if o.version == signed.version.number]

    def sweep(self) -> int:
        """Rows for every signed version that lacks one (the process stopped between a
        signature's commit and its event, or the event's handler failed). Run at start and
        every few minutes by the worker."""
        missing = source.signed_without(self.engine, report_output_objects, KINDS)
        for report_id, version in missing:
            try:
                self.enqueue(report_id, version)
            except ReportingError:
                log.exception("report %s version %s cannot be archived", report_id, version)
        return len(missing)

    def objects(self, report_id: int) -> list[ArchivedObject]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(report_output_objects)
                .where(report_output_objects.c.report_id == report_id)
                .order_by(report_output_objects.c.version, report_output_objects.c.kind)
            ).all()
        return [_archived(r) for r in rows]

    def pending(self, limit: int = 200) -> list[tuple[ArchivedObject, datetime | None]]:
        """Objects not yet in the archive, oldest first, with when they are tried next."""
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(report_output_objects)
                .where(report_output_objects.c.status == "pending")
                .order_by(report_output_objects.c.id)
                .limit(limit)
            ).all()
        return [(_archived(r), _utc(r.next_attempt_at)) for r in rows]

    def retry_now(self) -> int:
        """Every waiting object is due now (after the administrator fixed the cause)."""
        with db.write(self.engine) as conn:
            count = conn.execute(
                update(report_output_objects)
                .where(report_output_objects.c.status == "pending")
                .values(next_attempt_at=_now())
            ).rowcount
        self._wake.set()
        return int(count)

    def run_due(self) -> int:
        """Store every due row this process can claim; the number stored."""
        stored = 0
        while not self._stop.is_set():
            row = self._claim()
            if row is None:
                return stored
            try:
                done = self._store(row)
            except Exception as exc:
                attempts = row.attempts + 1
                pause = min(FIRST_RETRY * 2 ** (attempts - 1), LAST_RETRY)
                log.exception("archiving report %s (%s) failed", row.report_id, row.kind)
                with db.write(self.engine) as conn:
                    conn.execute(
                        update(report_output_objects)
                        .where(report_output_objects.c.id == row.id)
                        .values(
                            attempts=attempts,
                            last_error=f"{type(exc).__name__}: {exc}"[:2000],
                            next_attempt_at=_now() + timedelta(seconds=pause),
                        )
                    )
            else:
                stored += done
        return stored

    def _claim(self) -> Any:
        now = _now()
        with db.write(self.engine) as conn:
            row = conn.execute(
                select(report_output_objects)
                .where(
                    and_(
                        report_output_objects.c.status == "pending",
                        report_output_objects.c.next_attempt_at <= now,
                    )
                )
                .order_by(report_output_objects.c.next_attempt_at, report_output_objects.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            claimed = conn.execute(
                update(report_output_objects)
                .where(
                    and_(
                        report_output_objects.c.id == row.id,
                        report_output_objects.c.status == "pending",
                        report_output_objects.c.next_attempt_at == row.next_attempt_at,
                    )
                )
                .values(next_attempt_at=now + LEASE)
            ).rowcount
        return row if claimed else self._claim()

    def _store(self, row: Any) -> bool:
        """Store the row's object; False when there was nothing to store (skipped)."""
        signed = source.load(self.engine, self.ris, row.report_id, row.version)
        pictures = self._key_image_headers(signed, row.study_instance_uid)
        study_images = pictures or self._any_image_header(row.study_instance_uid)
        header = dicom_objects.study_header(signed, study_images)
        header.StudyInstanceUID = row.study_instance_uid
        signer = self.display_name(signed.version.username)
        if row.kind == KEY_IMAGES:
            if not pictures:  # none of them is in the archive (any more): nothing to select
                self._mark(row.id, "skipped", "no key image is in the archive")
                return False
            ds = dicom_objects.build_kos(
                signed,
                header,
                pictures,
                sop_instance_uid=row.sop_instance_uid,
                institution=self.hospital,
            )
        elif row.kind == "sr":
            ds = dicom_objects.build_sr(
                signed,
                header,
                pictures,
                sop_instance_uid=row.sop_instance_uid,
                institution=self.hospital,
                signer_name=signer,
                previous=self._previous_srs(row),
            )
        else:
            pdf = self.render(signed, copy_note="电子存档 / archived copy")
            ds = dicom_objects.build_pdf(
                signed,
                header,
                pdf,
                sop_instance_uid=row.sop_instance_uid,
                institution=self.hospital,
                title=f"{signed.report.modality} 报告 {signed.report.accession_number}",
            )
        self.archive.store_instance(
            dicom_objects.encode(ds), Origin("report", ae_title=self.ae_title)
        )
        self._mark(row.id, "stored")
        return True

    def _mark(self, row_id: int, status: str, note: str = "") -> None:
        with db.write(self.engine) as conn:
            conn.execute(
                update(report_output_objects)
                .where(report_output_objects.c.id == row_id)
                .values(status=status, stored_at=_now(), last_error=note)
            )

    def _key_image_headers(self, signed: source.SignedReport, study_uid: str) -> list[Dataset]:
        out: list[Dataset] = []
        for key in signed.report.key_images:
            for found in self.archive.locate(
                {"StudyInstanceUID": study_uid, "SOPInstanceUID": key.get("sop_instance_uid", "")}
            ):
                out.append(dcmread(found.path, stop_before_pixels=True))
        return out

    def _any_image_header(self, study_uid: str) -> list[Dataset]:
        for found in self.archive.find("IMAGE", {"StudyInstanceUID": study_uid}, limit=1):
            path = self.archive.storage.absolute(found["_path"])
            return [dcmread(path, stop_before_pixels=True)]
        return []

    def _previous_srs(self, row: Any) -> list[Dataset]:
        earlier = [
            o
            for o in self.objects(row.report_id)
            if o.kind == "sr" and o.version < row.version and o.status == "stored"
        ]
        out: list[Dataset] = []
        for obj in earlier:
            for found in self.archive.locate(
                {"StudyInstanceUID": obj.study_instance_uid, "SOPInstanceUID": obj.sop_instance_uid}
            ):
                out.append(dcmread(found.path, stop_before_pixels=True))
        return out

    def start(self, interval: float = 30.0) -> None:
        """The start-up sweep and the background thread (woken by each signature)."""
        self.sweep()
        self._stop.clear()

        def run() -> None:
            started = swept = time.monotonic()
            warm = False
            while not self._stop.is_set():
                try:
                    if time.monotonic() - swept > SWEEP_SECONDS:
                        swept = time.monotonic()
                        self.sweep()
                    self.run_due()
                    if not warm and time.monotonic() - started > WARM_UP_AFTER:
                        # weasyprint's first document loads fonts for seconds: done here, a
                        # minute after start, rather than at the first user's print.
                        warm = True
                        rendering.render_pdf("<p>预热 warm-up</p>")
                except Exception:
                    log.exception("report archiving round failed")
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=run, name="report-output", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._stop.clear()  # rounds run by hand (tests, the CLI) still work

    # ---- rendering -------------------------------------------------------------------------

    def display_name(self, username: str) -> str:
        """A user's display name (陈主任), the username if none is set."""
        user = get_user(self.engine, username) if username else None
        return (user.display_name or user.username) if user is not None else username

    def _department(self, code: str) -> str:
        if self.ris is None or not code:
            return code
        names = {d.code: d.name_zh for d in self.ris.departments()}
        return names.get(code, code)

    def url(self, accession_number: str, base_url: str = "") -> str:
        # The configured address, else the one the request came to (a browser printing),
        # else this machine's name (archived copies, made without a request).
        base = self.public_url or base_url.rstrip("/") or self.fallback_url
        return f"{base}/reports/view?AccessionNumber={accession_number}"

    def pictures(self, signed: source.SignedReport) -> list[rendering.KeyImagePicture]:
        """The report's key images rendered for paper (photos: the study's first ones if none
        were chosen)."""
        study = signed.study_instance_uid
        chosen = [
            (k.get("sop_instance_uid", ""), int(k.get("frame", 1) or 1), k.get("note", ""))
            for k in signed.report.key_images
        ]
        if not chosen and signed.report.modality.upper() in PHOTO_MODALITIES and study:
            chosen = [
                (a["SOPInstanceUID"], 1, "")
                for a in self.archive.find("IMAGE", {"StudyInstanceUID": study}, limit=8)
                if not str(a.get("SOPClassUID", "")).startswith(NOT_PICTURES)
            ]
        out = []
        for uid, frame, note in chosen:
            for found in self.archive.locate({"StudyInstanceUID": study, "SOPInstanceUID": uid}):
                try:
                    out.append(
                        rendering.KeyImagePicture(images.render_png(found.path, frame), note)
                    )
                except Exception:
                    log.exception("key image %s cannot be rendered for print", uid)
        return out

    def render(
        self, signed: source.SignedReport, *, copy_note: str = "", base_url: str = ""
    ) -> bytes:
        context = rendering.PrintContext(
            hospital=self.hospital,
            url=self.url(signed.report.accession_number, base_url),
            author_name=self.display_name(signed.report.author),
            signer_name=self.display_name(signed.version.username),
            copy_note=copy_note,
            department_name=self._department(signed.report.department),
        )
        html = rendering.render_html(signed, context, self.pictures(signed), self.site_dir)
        return rendering.render_pdf(html)

    def signed(self, report_id: int, version: int | None = None) -> source.SignedReport:
        """A signed version (default the newest) with its exam and patient."""
        return source.load(self.engine, self.ris, report_id, version)

    def electronic_copy(
        self, report_id: int, version: int | None = None, base_url: str = ""
    ) -> bytes:
        """The PDF to read on screen or download: marked as an electronic copy, not logged as a
        print (its viewing is audited by the caller)."""
        signed = source.load(self.engine, self.ris, report_id, version)
        return self.render(
            signed, copy_note="电子版，仅供浏览 / electronic copy", base_url=base_url
        )

    # ---- printing --------------------------------------------------------------------------

    def may_reprint(self, user: User) -> bool:
        if user.role in REPRINT_ROLES:
            return True
        with db.read(self.engine) as conn:
            return (
                conn.execute(
                    select(report_reprint_grants.c.username).where(
                        report_reprint_grants.c.username == user.username
                    )
                ).first()
                is not None
            )

    def print_report(
        self,
        report_id: int,
        user: User,
        *,
        copies: int = 1,
        reason: str = "",
        address: str = "",
        base_url: str = "",
        render: bool = True,
    ) -> tuple[bytes, PrintRecord]:
        """The official print of the newest signed version, logged; a second print of the same
        version is a reprint and needs the permission (and a reason). With ``render`` False
        only the log entry is made (the PDF then comes from :meth:`printed_pdf`)."""
        if user.role not in PRINT_ROLES:
            raise Forbidden("无打印报告权限 / not permitted to print reports")
        if not 1 <= copies <= MAX_COPIES:
            raise ReportingError(f"份数须为 1-{MAX_COPIES} / copies must be 1-{MAX_COPIES}")
        signed = source.load(self.engine, self.ris, report_id)
        number = signed.version.number
        with db.read(self.engine) as conn:
            printed = conn.execute(
                select(func.count())
                .select_from(report_print_log)
                .where(
                    and_(
                        report_print_log.c.report_id == report_id,
                        report_print_log.c.version == number,
                    )
                )
            ).scalar_one()
        reprint = printed > 0
        if reprint and not self.may_reprint(user):
            record_audit(
                self.engine,
                username=user.username,
                action="report.reprint_refused",
                target=f"report:{report_id}",
                detail={"accession": signed.report.accession_number, "version": number},
                address=address,
            )
            raise Forbidden("报告已打印，补打需授权 / already printed: reprinting needs permission")
        if reprint and not reason.strip():
            raise ReportingError("补打须填写原因 / a reprint needs a reason")
        note = _print_note(reprint, printed + 1)
        pdf = self.render(signed, copy_note=note, base_url=base_url) if render else b""
        with db.write(self.engine) as conn:
            at = _now()
            new_id = conn.execute(
                insert(report_print_log)
                .values(
                    report_id=report_id,
                    version=number,
                    accession_number=signed.report.accession_number,
                    username=user.username,
                    printed_at=at,
                    copies=copies,
                    reprint=reprint,
                    reason=reason.strip()[:1000],
                    address=address[:64],
                )
                .returning(report_print_log.c.id)
            ).scalar_one()
            record_audit(
                conn,
                username=user.username,
                action="report.reprint" if reprint else "report.print",
                target=f"report:{report_id}",
                detail={
                    "accession": signed.report.accession_number,
                    "version": number,
                    "copies": copies,
                    "reason": reason.strip()[:200],
                },
                address=address,
            )
        record = PrintRecord(
            new_id,
            report_id,
            number,
            signed.report.accession_number,
            user.username,
            at,
            copies,
            reprint,
            reason.strip(),
        )
        return pdf, record

    def printed_pdf(self, print_id: int, user: User, base_url: str = "") -> bytes:
        """The PDF of a logged print, for the user who printed it and only shortly after (a
        browser fetches it to print; it is no way around the reprint permission)."""
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(report_print_log).where(report_print_log.c.id == print_id)
            ).first()
        if row is None or row.username != user.username:
            raise NotFound(f"没有这次打印 / no print {print_id} of yours")
        if _now() - _utc(row.printed_at) > PRINT_FETCH_WINDOW:  # type: ignore[operator]
            raise Forbidden("打印已过期，请重新打印 / this print has expired: print again")
        with db.read(self.engine) as conn:
            before = conn.execute(
                select(func.count())
                .select_from(report_print_log)
                .where(
                    and_(
                        report_print_log.c.report_id == row.report_id,
                        report_print_log.c.version == row.version,
                        report_print_log.c.id < row.id,
                    )
                )
            ).scalar_one()
        signed = source.load(self.engine, self.ris, row.report_id, row.version)
        note = _print_note(bool(row.reprint), before + 1)
        return self.render(signed, copy_note=note, base_url=base_url)

    def print_log(self, report_id: int) -> list[PrintRecord]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(report_print_log)
                .where(report_print_log.c.report_id == report_id)
                .order_by(report_print_log.c.id)
            ).all()
        return [
            PrintRecord(
                r.id,
                r.report_id,
                r.version,
                r.accession_number,
                r.username,
                _utc(r.printed_at),  # type: ignore[arg-type]
                r.copies,
                bool(r.reprint),
                r.reason,
            )
            for r in rows
        ]

    def grant_reprint(self, username: str, *, by: str, note: str = "") -> ReprintGrant:
        if get_user(self.engine, username) is None:
            raise NotFound(f"用户不存在 / no user {username!r}")
        at = _now()
        with db.write(self.engine) as conn:
            conn.execute(
                delete(report_reprint_grants).where(report_reprint_grants.c.username == username)
            )
            conn.execute(
                insert(report_reprint_grants).values(
                    username=username, granted_by=by, granted_at=at, note=note[:255]
                )
            )
            record_audit(
                conn,
                username=by,
                action="report.reprint_granted",
                target=f"user:{username}",
                detail={"note": note[:200]},
            )
        return ReprintGrant(username, by, at, note[:255])

    def revoke_reprint(self, username: str, *, by: str) -> None:
        with db.write(self.engine) as conn:
            gone = conn.execute(
                delete(report_reprint_grants).where(report_reprint_grants.c.username == username)
            ).rowcount
            if not gone:
                raise NotFound(f"该用户无补打授权 / {username!r} has no reprint grant")
            record_audit(
                conn, username=by, action="report.reprint_revoked", target=f"user:{username}"
            )

    def reprint_grants(self) -> list[ReprintGrant]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(report_reprint_grants).order_by(report_reprint_grants.c.username)
            ).all()
        return [
            ReprintGrant(r.username, r.granted_by, _utc(r.granted_at), r.note)  # type: ignore[arg-type]
            for r in rows
        ]
