"""What a cloud-film page shows once the check question is answered: the patient, the link's
exams that may still be released (a hold set after the disc was burned hides an exam at once),
each exam's film sheets (``core_server.film.cloud``: phone-sized progressive JPEGs, each view
audited), each signed report's text, and, for an exam without sheets, one JPEG preview per
series, rendered on demand for that link only."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import Connection, Engine, func, select

from core_server import clock, db, names
from core_server.archive import Archive
from core_server.archive.tables import instances, series, studies
from core_server.discs.cloud import Link
from core_server.discs.cloud_check import patient_of
from core_server.discs.eligibility import _study_uids, exam_entries, pictures
from core_server.film import cloud as film_cloud
from core_server.refusals import NotFound
from core_server.reporting.output.images import render_png
from core_server.reporting.tables import reporting_reports, reporting_versions
from core_server.ris.tables import ris_exams

PREVIEW_SIZE = (1024, 1024)  # a phone's screen, sharp on a high-density display


def shown_exams(conn: Connection, link: Link, *, images_without_report: bool) -> list[dict]:
    rows = list(
        conn.execute(
            select(ris_exams)
            .where(ris_exams.c.id.in_(link.exam_ids))
            .order_by(ris_exams.c.created_at.desc())
        )
    )
    entries = exam_entries(conn, rows, images_without_report=images_without_report)
    return [e for e in entries if e["may_burn"]]


def _report(conn: Connection, exam_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(
            reporting_reports.c.id,
            reporting_reports.c.signed_at,
            reporting_versions.c.findings,
            reporting_versions.c.impression,
        )
        .join(reporting_versions, reporting_versions.c.report_id == reporting_reports.c.id)
        .where(
            reporting_reports.c.exam_id == exam_id,
            reporting_versions.c.number == reporting_reports.c.signed_version,
        )
    ).first()
    if row is None:
        return None
    return {
        "report_id": row.id,
        "signed_at": clock.shown(row.signed_at),
        "findings": row.findings,
        "impression": row.impression,
    }


def _series(conn: Connection, uids: list[str]) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            series.c.series_instance_uid,
            series.c.series_number,
            series.c.series_description,
            series.c.modality,
            func.count(instances.c.id).label("images"),
        )
        .join(studies, studies.c.id == series.c.study_fk)
        .join(instances, instances.c.series_fk == series.c.id)
        .where(studies.c.study_instance_uid.in_(uids), pictures())
        .group_by(series.c.id)
        .order_by(series.c.series_number, series.c.id)
    )
    return [
        {
            "series_instance_uid": r.series_instance_uid,
            "number": r.series_number,
            "description": r.series_description,
            "modality": r.modality,
            "images": int(r.images),
        }
        for r in rows
    ]


def film(engine: Engine, link: Link, *, images_without_report: bool = False) -> dict[str, Any]:
    with db.read(engine) as conn:
        patient = patient_of(conn, link)
        exams = shown_exams(conn, link, images_without_report=images_without_report)
        uids = _study_uids(conn, [e["exam_id"] for e in exams])
        for exam in exams:
            exam["report_text"] = _report(conn, exam["exam_id"])
            sheets = film_cloud.sheets_of_exam(conn, exam["exam_id"], uids[exam["exam_id"]])
            exam["sheets"] = [s.as_dict() for s in sheets]
            # The film sheets are the exam's pictures when there are any (a lighter page).
            exam["series"] = [] if sheets else _series(conn, uids[exam["exam_id"]])
    return {
        "patient": {
            "patient_id": patient.patient_id,
            "name": names.display(patient.name_shown or patient.name),
        },
        "exams": exams,
        "expires_at": clock.shown(link.expires_at, "%Y-%m-%d"),
    }


def report_id(engine: Engine, link: Link, exam_id: int, *, images_without_report: bool) -> int:
    """The signed report of one of the link's shown exams; NotFound otherwise."""
    with db.read(engine) as conn:
        shown = {
            e["exam_id"]
            for e in shown_exams(conn, link, images_without_report=images_without_report)
        }
        report = _report(conn, exam_id) if exam_id in shown else None
    if report is None:
        raise NotFound("discs.cloud.nothing_here")
    return int(report["report_id"])


def preview(
    engine: Engine,
    archive: Archive,
    link: Link,
    series_uid: str,
    *,
    images_without_report: bool = False,
) -> bytes:
    """A JPEG of the series' middle image, if the series belongs to a shown exam."""
    with db.read(engine) as conn:
        exams = shown_exams(conn, link, images_without_report=images_without_report)
        uids = [
            u for found in _study_uids(conn, [e["exam_id"] for e in exams]).values() for u in found
        ]
        rows = conn.execute(
            select(instances.c.sop_instance_uid, studies.c.study_instance_uid)
            .join(series, series.c.id == instances.c.series_fk)
            .join(studies, studies.c.id == series.c.study_fk)
            .where(
                series.c.series_instance_uid == series_uid,
                studies.c.study_instance_uid.in_(uids),
                pictures(),
            )
            .order_by(instances.c.instance_number, instances.c.id)
        ).all()
    if not rows:
        raise NotFound("discs.cloud.nothing_here")
    middle = rows[len(rows) // 2]
    files = archive.locate(
        {
            "StudyInstanceUID": middle.study_instance_uid,
            "SeriesInstanceUID": series_uid,
            "SOPInstanceUID": middle.sop_instance_uid,
        }
    )
    if not files:
        raise NotFound("discs.cloud.nothing_here")
    image = Image.open(BytesIO(render_png(files[0].path, 1, PREVIEW_SIZE))).convert("RGB")
    out = BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def sheet(
    engine: Engine,
    archive: Archive,
    link: Link,
    sheet_id: int,
    width: int,
    *,
    cache_dir: Path,
    address: str,
    images_without_report: bool = False,
) -> bytes:
    """A film sheet of one of the link's shown exams as a JPEG (NotFound otherwise); each
    view is on the audit trail (``film.sheet.view`` via ``cloud_link:<id>``)."""
    with db.read(engine) as conn:
        exams = shown_exams(conn, link, images_without_report=images_without_report)
        uids = _study_uids(conn, [e["exam_id"] for e in exams])
        allowed = {
            s.id: s
            for exam_id, found in uids.items()
            for s in film_cloud.sheets_of_exam(conn, exam_id, found)
        }
    ref = allowed.get(sheet_id)
    if ref is None:
        raise NotFound("discs.cloud.nothing_here")
    data = film_cloud.jpeg(archive, ref, width, cache_dir)
    film_cloud.log_view(
        engine,
        ref,
        width=width,
        username=None,
        address=address,
        via=f"cloud_link:{link.id}",
        detail={"patient_id": link.patient_id},
    )
    return data
