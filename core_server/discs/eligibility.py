"""Who and what may be burned: a scanned code (accession number, Study Instance UID, patient
ID or the report's QR URL) or an ID-card number with its birth date finds a patient; each of
the patient's exams says whether it may go on a disc (and the cloud film) and, if not, why.

An exam may be burned when it is complete (completed, reported or verified in the RIS), has
images in the archive, its report is signed (unless the hospital allows images alone,
``disc_images_without_report``) and no doctor has held it back (:mod:`.release`).

Finding nobody answers 404 ``discs.not_found`` whichever part was wrong: a wrong birth date
for a real ID card reads exactly like an unknown card, so the kiosk tells no stranger which
cards exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Connection, and_, func, select

from core_server import clock, i18n, names
from core_server.archive.tables import instances, series, studies
from core_server.discs.release import holds
from core_server.refusals import Conflict, NotFound
from core_server.reporting.output.models import NOT_PICTURES
from core_server.reporting.tables import reporting_reports
from core_server.ris.tables import ris_exam_studies, ris_exams, ris_patients

COMPLETE = ("completed", "reported", "verified")
NOT_LISTED = ("cancelled", "no_show")  # never performed: nothing to burn or to explain
# Why an exam may not be burned (catalogue keys), in the order they are reported.
NOT_COMPLETE = "discs.why.not_complete"
HELD = "discs.why.held"
NO_REPORT = "discs.why.no_report"
NO_IMAGES = "discs.why.no_images"


class NotReleasable(Conflict):
    """409 ``discs.eligibility.not_releasable``: ``why`` stays the catalogue key for clients
    and is worded in the message (not shown as a raw key)."""

    def shown_values(self, lang: str) -> dict[str, object]:
        shown = super().shown_values(lang)
        texts = i18n.catalogue().get(str(self.values.get("why", "")))
        if texts is not None:
            shown["why"] = texts[lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE]
        return shown


def scanned_accession(code: str) -> str:
    """The accession number a report's QR URL names (``.../reports/view?AccessionNumber=X``),
    else the code itself (a ticket's or report's barcode)."""
    code = code.strip()
    if "://" not in code and not code.startswith("/"):
        return code
    query = parse_qs(urlsplit(code).query)
    for key, values in query.items():
        if key.lower() == "accessionnumber" and values:
            return values[0].strip()
    return ""


def current_patient(conn: Connection, patient_fk: int) -> Any:
    """The patient row, following merges to the surviving record."""
    for _ in range(10):  # a merge chain is short; a loop in bad data must not hang
        row = conn.execute(select(ris_patients).where(ris_patients.c.id == patient_fk)).first()
        if row is None or row.merged_into_fk is None:
            return row
        patient_fk = row.merged_into_fk
    return row


def find_patient(
    conn: Connection, *, code: str = "", id_card: str = "", birth_date: str = ""
) -> Any:
    """The patient row the code or the ID card with its birth date names; NotFound otherwise."""
    row = None
    if code.strip():
        accession = scanned_accession(code)
        exam = (
            conn.execute(
                select(ris_exams.c.patient_fk).where(ris_exams.c.accession_number == accession)
            ).first()
            if accession
            else None
        )
        exam = exam or (_exam_of_study(conn, accession) if accession == code.strip() else None)
        if exam is not None:
            row = current_patient(conn, exam.patient_fk)
        elif accession == code.strip():
            found = conn.execute(
                select(ris_patients.c.id)
                .where(ris_patients.c.patient_id == accession)
                .order_by(ris_patients.c.id)
            ).first()
            row = current_patient(conn, found.id) if found is not None else None
    elif id_card.strip() and birth_date.strip():
        card = id_card.strip().upper()
        found = conn.execute(
            select(ris_patients.c.id)
            .where(ris_patients.c.id_card_number == card)
            .where(ris_patients.c.birth_date == _iso_date(birth_date))
            .where(ris_patients.c.merged_into_fk.is_(None))
            .order_by(ris_patients.c.id)
        ).first()
        row = current_patient(conn, found.id) if found is not None else None
    if row is None:
        raise NotFound("discs.not_found")
    return row


def _exam_of_study(conn: Connection, uid: str) -> Any:
    """The exam whose study (its own, or one linked to it) has this Study Instance UID."""
    exam = conn.execute(
        select(ris_exams.c.patient_fk).where(ris_exams.c.study_instance_uid == uid)
    ).first()
    if exam is None:
        exam = conn.execute(
            select(ris_exams.c.patient_fk)
            .join(ris_exam_studies, ris_exam_studies.c.exam_fk == ris_exams.c.id)
            .where(ris_exam_studies.c.study_instance_uid == uid)
        ).first()
    return exam


def _iso_date(text: str) -> str:
    text = text.strip()
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return "-"  # matches no stored date


def _study_uids(conn: Connection, exam_ids: list[int]) -> dict[int, list[str]]:
    uids: dict[int, list[str]] = {i: [] for i in exam_ids}
    for r in conn.execute(
        select(ris_exams.c.id, ris_exams.c.study_instance_uid).where(ris_exams.c.id.in_(exam_ids))
    ):
        uids[r.id].append(r.study_instance_uid)
    for r in conn.execute(
        select(ris_exam_studies.c.exam_fk, ris_exam_studies.c.study_instance_uid).where(
            ris_exam_studies.c.exam_fk.in_(exam_ids)
        )
    ):
        if r.study_instance_uid not in uids[r.exam_fk]:
            uids[r.exam_fk].append(r.study_instance_uid)
    return uids


def pictures() -> Any:
    """Instances that are pictures: not the report's own SR or PDF, nor presentation states."""
    return and_(*(instances.c.sop_class_uid.not_like(f"{prefix}%") for prefix in NOT_PICTURES))


def _archived(conn: Connection, uids: list[str]) -> tuple[int, str]:
    """Images the archive holds of these studies and the earliest study date (ISO or "")."""
    if not uids:
        return 0, ""
    count = conn.execute(
        select(func.count(instances.c.id))
        .join(series, series.c.id == instances.c.series_fk)
        .join(studies, studies.c.id == series.c.study_fk)
        .where(studies.c.study_instance_uid.in_(uids), pictures())
    ).scalar_one()
    day = conn.execute(
        select(func.min(studies.c.study_date)).where(
            studies.c.study_instance_uid.in_(uids), studies.c.study_date != ""
        )
    ).scalar_one()
    shown = f"{day[:4]}-{day[4:6]}-{day[6:8]}" if day and len(day) == 8 else ""
    return int(count), shown


def exam_entries(
    conn: Connection, exam_rows: list[Any], *, images_without_report: bool
) -> list[dict[str, Any]]:
    """The contract's exam entries (``may_burn``, ``why_not``) of these ``ris_exams`` rows."""
    ids = [r.id for r in exam_rows]
    uids = _study_uids(conn, ids)
    held = holds(conn, ids)
    signed = {
        r.exam_id
        for r in conn.execute(
            select(reporting_reports.c.exam_id).where(
                reporting_reports.c.exam_id.in_(ids),
                reporting_reports.c.signed_version.is_not(None),
            )
        )
    }
    out = []
    for r in exam_rows:
        count, study_day = _archived(conn, uids[r.id])
        reasons = [
            why
            for why, applies in (
                (NOT_COMPLETE, r.status not in COMPLETE),
                (HELD, r.id in held),
                (NO_REPORT, r.id not in signed and not images_without_report),
                (NO_IMAGES, count == 0),
            )
            if applies
        ]
        when = r.scheduled_at or r.created_at
        out.append(
            {
                "exam_id": r.id,
                "accession_number": r.accession_number,
                "exam_date": study_day or clock.local(when).date().isoformat(),
                "procedure": r.procedure_name,
                "modality": r.modality,
                "images": count,
                "study_instance_uids": uids[r.id],  # beyond the contract: make-iso --study-uid
                "report": r.id in signed,
                "may_burn": not reasons,
                "why_not": reasons[0] if reasons else "",
            }
        )
    return out


def identify(
    conn: Connection,
    *,
    code: str = "",
    id_card: str = "",
    birth_date: str = "",
    images_without_report: bool = False,
) -> dict[str, Any]:
    """The answer of ``POST /api/discs/identify``: the patient and every exam of theirs (newest
    first) with whether it may be burned."""
    patient = find_patient(conn, code=code, id_card=id_card, birth_date=birth_date)
    rows = list(
        conn.execute(
            select(ris_exams)
            .where(ris_exams.c.patient_fk == patient.id, ris_exams.c.status.not_in(NOT_LISTED))
            .order_by(ris_exams.c.created_at.desc(), ris_exams.c.id.desc())
        )
    )
    return {
        "patient": {
            "patient_id": patient.patient_id,
            "name": names.display(patient.name_shown or patient.name),
        },
        "exams": exam_entries(conn, rows, images_without_report=images_without_report),
    }


def burnable(
    conn: Connection, exam_ids: list[int], *, images_without_report: bool = False
) -> list[dict[str, Any]]:
    """The entries of ``exam_ids`` (all of one patient), if every one may be burned (or shown
    on the cloud film); otherwise 409 ``discs.not_releasable`` naming the first exam and why
    (404 ``discs.exam_not_found`` for an unknown exam)."""
    ids = list(dict.fromkeys(int(i) for i in exam_ids))
    rows = list(conn.execute(select(ris_exams).where(ris_exams.c.id.in_(ids))))
    found = {r.id for r in rows}
    for exam_id in ids:
        if exam_id not in found:
            raise NotFound("discs.eligibility.exam_unknown", exam_id=exam_id)
    if len({r.patient_fk for r in rows}) > 1:
        raise Conflict("discs.eligibility.several_patients")
    entries = exam_entries(conn, rows, images_without_report=images_without_report)
    for entry in entries:
        if not entry["may_burn"]:
            raise NotReleasable(
                "discs.eligibility.not_releasable",
                exam_id=entry["exam_id"],
                accession_number=entry["accession_number"],
                why=entry["why_not"],
            )
    return entries
