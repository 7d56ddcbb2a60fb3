"""Signed reports archived as DICOM (SR, encapsulated PDF, and a Key Object Selection when the
report has key images): a durable job per signed version and kind.

When a report is signed (the "reporting.report_signed" event, and at every start-up and every
few minutes for signed versions without their rows, in case the process stopped between the
signature's commit and the event) a row per kind is written with the object's UIDs fixed. A
background worker stores due rows through ``Archive.store_instance`` by the rules of
:mod:`core_server.jobs` over the table ``report_output_objects`` (claimed ``running`` with a
lease; a failure waits 10 s doubling up to an hour, never given up: a report once signed always
reaches the archive; a restarted core takes back at once what its dead predecessor held). Of
several core processes only one stores an object at a time; should two ever store it, the
fixed UIDs make the second replace the first, not add a copy.

The worker is a loop that a signature wakes (so an archived copy follows within moments),
not a plain ticker: without a wake-up it looks every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from core_server import clock, db, jobs
from core_server.archive import Archive, Origin
from core_server.periodic import Periodic
from core_server.reporting.models import ReportingError
from core_server.reporting.output import dicom_objects, rendering, source
from core_server.reporting.output.models import (
    KEY_IMAGES,
    KINDS,
    LEASE,
    RETRY,
    SWEEP_SECONDS,
    WARM_UP_AFTER,
    ArchivedObject,
    archived,
)
from core_server.reporting.output.tables import report_output_objects as objects
from core_server.ris import Ris

log = logging.getLogger(__name__)

QUEUE = jobs.Jobs(objects, claimed="running")


class Archiving:
    """The archiving half of :class:`~core_server.reporting.output.ReportOutput`."""

    engine: Engine
    archive: Archive
    ris: Ris | None
    hospital: str
    ae_title: str
    site_dir: Path | None

    def _init_archiving(self) -> None:
        self._ticker = Periodic("report-output", 30.0, self._round, at_start=True)
        self._started = self._swept = 0.0
        self._warm = False
        self.owner = jobs.this_process()

    # Rendering, given by ReportOutput.
    def render(
        self, signed: source.SignedReport, *, copy_note: str = "", base_url: str = ""
    ) -> bytes:
        raise NotImplementedError

    def display_name(self, username: str) -> str:
        raise NotImplementedError

    def on_report_signed(self, _topic: str, payload: dict[str, Any]) -> None:
        """Bus subscriber: the signature is committed; note its objects, wake the worker."""
        version = payload.get("version")
        self.enqueue(int(payload["report_id"]), int(version) if version is not None else None)
        self._ticker.wake()

    def enqueue(self, report_id: int, version: int | None = None) -> list[ArchivedObject]:
        """The rows of one signed version (default: the newest), created if missing."""
        signed = source.load(self.engine, self.ris, report_id, version)
        study = signed.study_instance_uid or generate_uid(
            entropy_srcs=["report-study", signed.report.accession_number]
        )
        now = clock.now()
        # The key images' row first: the sweep looks only for versions missing SR or PDF rows.
        kinds = (KEY_IMAGES, *KINDS) if signed.report.key_images else KINDS
        for kind in kinds:
            try:
                with db.write(self.engine) as conn:
                    conn.execute(
                        insert(objects).values(
                            report_id=report_id,
                            version=signed.version.number,
                            kind=kind,
                            study_instance_uid=study,
                            series_instance_uid=dicom_objects.series_uid(study, kind),
                            sop_instance_uid=generate_uid(),
                            status=jobs.PENDING,
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
        missing = source.signed_without(self.engine, objects, KINDS)
        for report_id, version in missing:
            try:
                self.enqueue(report_id, version)
            except ReportingError:
                log.exception("report %s version %s cannot be archived", report_id, version)
        return len(missing)

    def objects(self, report_id: int) -> list[ArchivedObject]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(objects)
                .where(objects.c.report_id == report_id)
                .order_by(objects.c.version, objects.c.kind)
            ).all()
        return [archived(r) for r in rows]

    def pending(self, limit: int = 200) -> list[tuple[ArchivedObject, datetime | None]]:
        """Objects not yet in the archive (waiting or being stored), oldest first, with when
        they are tried next."""
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(objects)
                .where(objects.c.status.in_([jobs.PENDING, QUEUE.claimed]))
                .order_by(objects.c.id)
                .limit(limit)
            ).all()
        return [(archived(r), r.next_attempt_at) for r in rows]

    def retry_now(self) -> int:
        """Every waiting object is due now (after the administrator fixed the cause)."""
        count = QUEUE.due_now(self.engine)
        self._ticker.wake()
        return count

    def run_due(self) -> int:
        """Store every due row this process can claim; the number stored."""
        stored = 0
        while not self._ticker.stopping:
            claimed = QUEUE.claim_next(
                self.engine, self.owner, LEASE, order_by=(objects.c.next_attempt_at,)
            )
            if claimed is None:
                return stored
            row = claimed.row
            try:
                done = self._store(row)
            except Exception as exc:
                log.exception("archiving report %s (%s) failed", row.report_id, row.kind)
                error = f"{type(exc).__name__}: {exc}"
                QUEUE.fail(self.engine, row.id, claimed.attempt, self.owner, RETRY, error)
            else:
                stored += done
        return stored

    def _store(self, row: Any) -> bool:
        """Store the row's object; False when there was nothing to store (skipped)."""
        signed = source.load(self.engine, self.ris, row.report_id, row.version)
        pictures = self._key_image_headers(signed, row.study_instance_uid)
        study_images = pictures or self._any_image_header(row.study_instance_uid)
        header = dicom_objects.study_header(signed, study_images)
        header.StudyInstanceUID = row.study_instance_uid
        common = {"sop_instance_uid": row.sop_instance_uid, "institution": self.hospital}
        if row.kind == KEY_IMAGES:
            if not pictures:  # none of them is in the archive (any more): nothing to select
                self._done(row.id, "skipped", "no key image is in the archive")
                return False
            ds = dicom_objects.build_kos(signed, header, pictures, **common)
        elif row.kind == "sr":
            ds = dicom_objects.build_sr(
                signed,
                header,
                pictures,
                **common,
                signer_name=self.display_name(signed.version.username),
                previous=self._previous_srs(row),
            )
        else:
            pdf = self.render(signed, copy_note="电子存档")
            title = f"{signed.report.modality} 报告 {signed.report.accession_number}"
            ds = dicom_objects.build_pdf(signed, header, pdf, **common, title=title)
        self.archive.store_instance(
            dicom_objects.encode(ds), Origin("report", ae_title=self.ae_title)
        )
        self._done(row.id, "stored")
        return True

    def _done(self, row_id: int, status: str, note: str = "") -> None:
        QUEUE.succeed(
            self.engine, row_id, self.owner, status, stored_at=clock.now(), last_error=note
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
            path = self.archive.online_file(found["SOPInstanceUID"], found["_path"])
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
        """The start-up sweep and the background worker (woken by each signature)."""
        released = QUEUE.release_gone(self.engine)
        if released:
            log.warning("report archiving: %d object(s) a stopped core held are due", released)
        self.sweep()
        self._started = self._swept = time.monotonic()
        self._warm = False
        self._ticker.interval = interval
        self._ticker.start()

    def _round(self) -> None:
        if time.monotonic() - self._swept > SWEEP_SECONDS:
            self._swept = time.monotonic()
            self.sweep()
        self.run_due()
        if not self._warm and time.monotonic() - self._started > WARM_UP_AFTER:
            # weasyprint's first document loads fonts for seconds: done here, a minute after
            # start, rather than at the first user's print.
            self._warm = True
            rendering.render_pdf("<p>预热 warm-up</p>")

    def stop(self) -> None:
        self._ticker.stop(timeout=30)
