"""What goes on a job's disc, as the kiosk fetches it: the manifest (patient, exams, the signed
reports' text, the cloud-film link), the archive's stored files of the exams' studies (byte for
byte: no recompression, the archive's own file is sent) and each signed report's PDF.

The manifest has the field names of ``kiosk_burner.contract.Manifest.as_json()`` (device
programs never import the core, nor the core them: the contract is the JSON)."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom

from core_server import clock, names
from core_server.archive import Archive
from core_server.discs.models import DiscJob
from core_server.refusals import NotFound
from core_server.reporting import Reporting
from core_server.reporting.output import ReportOutput
from core_server.reporting.text import sanitize
from core_server.ris import Exam, Ris, RisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredInstance:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    size: int
    path: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "study_instance_uid": self.study_instance_uid,
            "series_instance_uid": self.series_instance_uid,
            "sop_instance_uid": self.sop_instance_uid,
            "size": self.size,
        }


class DiscContents:
    def __init__(
        self,
        engine: Any,
        ris: Ris,
        archive: Archive,
        reporting: Reporting | None,
        output: ReportOutput | None,
        *,
        hospital_name: str,
    ) -> None:
        self.engine = engine
        self.ris = ris
        self.archive = archive
        self.reporting = reporting
        self.output = output
        self.hospital_name = hospital_name

    # -- the manifest --------------------------------------------------------------------------

    def manifest(self, job: DiscJob) -> dict[str, Any]:
        exams = [self.ris.exam(e) for e in job.exam_ids]
        first = exams[0]
        try:
            patient = self.ris.patient(first.patient_id, first.issuer)
            person = patient.person_name
            birth = patient.birth_date.isoformat() if patient.birth_date else ""
            sex = patient.sex if patient.sex in ("M", "F", "O") else ""
        except RisError:  # merged away meanwhile: the exam's own copy of the name
            person, birth, sex = first.patient_person_name, "", ""
        qr_url, qr_expires = self._cloud_link(job)
        return {
            "job_id": job.id,
            "copies": job.copies,
            "hospital_name": self.hospital_name,
            "patient_id": first.patient_id,
            "patient_name": names.display(person),
            "patient_name_latin": person.latin(),
            "birth_date": birth,
            "sex": sex,
            "exams": [self._exam(job, e) for e in exams],
            "qr_url": qr_url,
            "qr_expires": qr_expires,
        }

    def _exam(self, job: DiscJob, exam: Exam) -> dict[str, Any]:
        html = self.report_html(exam.id)
        at = exam.scheduled_at or exam.created_at
        return {
            "exam_id": exam.id,
            "accession_number": exam.accession_number,
            "study_instance_uids": list(_studies(exam)),
            "procedure": exam.procedure_name,
            "modality": exam.modality,
            "exam_date": clock.local(at).date().isoformat(),
            "images": exam.images,
            "report_pdf_url": f"/api/discs/{job.id}/reports/{exam.id}.pdf" if html else "",
            "report_html": html,
        }

    def report_html(self, exam_id: int) -> str:
        """The signed version's findings and impression as sanitised HTML; "" if unsigned."""
        if self.reporting is None:
            return ""
        report = self.reporting.report_for_exam(exam_id)
        if report is None or report.signed_version is None:
            return ""
        findings, impression = report.findings, report.impression
        if self.output is not None:  # the signed version, not a correction under way
            signed = self.output.signed(report.id)
            findings, impression = signed.version.findings, signed.version.impression
        parts = [("影像所见", findings), ("诊断意见", impression)]
        html = "".join(f"<p><b>{title}</b></p><div>{text}</div>" for title, text in parts if text)
        return sanitize(html)

    def _cloud_link(self, job: DiscJob) -> tuple[str, str]:
        """The cloud-film helper's link (``discs/cloud.py``) when it is there."""
        try:
            cloud = importlib.import_module("core_server.discs.cloud")
        except ImportError:
            return "", ""
        issue = getattr(cloud, "issue_link", None)
        if issue is None:
            return "", ""
        url, expires = issue(self.engine, job)
        shown = clock.iso(expires) if isinstance(expires, datetime) else str(expires or "")
        return str(url), shown or ""

    # -- the files -----------------------------------------------------------------------------

    def instances(self, job: DiscJob) -> list[StoredInstance]:
        found: dict[str, StoredInstance] = {}
        for exam in (self.ris.exam(e) for e in job.exam_ids):
            for study in _studies(exam):
                answers = list(self.archive.find("IMAGE", {"StudyInstanceUID": study}))
                # Objects moved off the online area come back first (docs/storage-tiers.md).
                self.archive.recall(
                    [a["SOPInstanceUID"] for a in answers], study_instance_uid=study
                )
                for a in answers:
                    uid = a["SOPInstanceUID"]
                    found[uid] = StoredInstance(
                        study,
                        a.get("SeriesInstanceUID", ""),
                        uid,
                        int(a["_size"]),
                        self.archive.storage.absolute(a["_path"]),
                    )
        return list(found.values())

    def instance(self, job: DiscJob, sop_instance_uid: str) -> Path:
        """The archived file, only if it belongs to one of the job's exams."""
        for exam in (self.ris.exam(e) for e in job.exam_ids):
            for study in _studies(exam):
                keys = {"StudyInstanceUID": study, "SOPInstanceUID": sop_instance_uid}
                for stored in self.archive.locate(keys, retrieve=True):
                    return stored.path
        raise NotFound("discs.instance_not_found", sop_instance_uid=sop_instance_uid)

    def report_pdf(self, job: DiscJob, exam_id: int) -> bytes:
        """The signed report's archived PDF (its encapsulated PDF object), else rendered now
        from the signed version (the archiving worker may not have run yet)."""
        if exam_id not in job.exam_ids or self.reporting is None:
            raise NotFound("discs.report_not_found", exam_id=exam_id)
        report = self.reporting.report_for_exam(exam_id)
        if report is None or report.signed_version is None or self.output is None:
            raise NotFound("discs.report_not_found", exam_id=exam_id)
        stored = [
            o
            for o in self.output.objects(report.id)
            if o.kind == "pdf" and o.status == "stored" and o.version == report.signed_version
        ]
        for obj in stored:
            keys = {
                "StudyInstanceUID": obj.study_instance_uid,
                "SOPInstanceUID": obj.sop_instance_uid,
            }
            for found in self.archive.locate(keys):
                ds = pydicom.dcmread(found.path)
                data = bytes(ds.get("EncapsulatedDocument") or b"")
                if data:  # padded to an even length; the length says how long the PDF is
                    return data[: int(ds.get("EncapsulatedDocumentLength") or len(data))]
        return self.output.render(self.output.signed(report.id))


def _studies(exam: Exam) -> tuple[str, ...]:
    return exam.studies or ((exam.study_instance_uid,) if exam.study_instance_uid else ())
