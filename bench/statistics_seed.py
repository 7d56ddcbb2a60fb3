"""A year of a busy imaging department, written straight into the database for the statistics
benchmark (bulk inserts, like ``fill.py`` does for the archive index: fast, not through the
services, so the rows are what the services would have written but nothing is checked).

What it makes, for ``exams`` exams spread evenly over ``days`` hospital days from ``first``:
one patient per two exams, one visit and one order per exam (patient types: 55 % 门诊, 25 %
住院, 12 % 急诊, 8 % 体检), the exam with its catalogue item (weighted toward DR, CT and
ultrasound), room, fee and its whole history (scheduled -> arrived -> in progress -> completed
-> reported -> verified, or cancelled / no-show for about 5 %), a report for every reported
exam (submitted or signed, positive for about 40 %, critical for 0.5 % with its acknowledged
alert, rejected once for 3 %: its history and its versions), and in the archive one study,
one series and ``images`` instances per performed exam. Quality grades and follow-up are not
seeded (their own domains write them)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, select, update

from bench.fill import UID_ROOT, _bulk, _instance_row
from core_server import clock, db
from core_server.archive import tables as archive
from core_server.reporting import tables as reporting
from core_server.ris import catalogue
from core_server.ris import tables as ris

CLASSES = (("outpatient", 0.55), ("inpatient", 0.25), ("emergency", 0.12), ("physical_exam", 0.08))
# Exam items by how often a county hospital does them (the catalogue's codes).
WEIGHTS = {"DX": 30, "CT": 25, "US": 25, "MR": 8, "MG": 3, "ES": 9}
PRICE_FEN = {"DX": 8_000, "CT": 28_000, "US": 12_000, "MR": 65_000, "MG": 18_000, "ES": 35_000}
REFERRING = (
    "呼吸内科",
    "心内科",
    "神经内科",
    "消化内科",
    "普外科",
    "骨科",
    "泌尿外科",
    "妇产科",
    "儿科",
    "急诊科",
    "体检中心",
    "肾内科",
    "内分泌科",
    "肿瘤科",
    "耳鼻喉科",
    "眼科",
    "康复科",
    "中医科",
)
SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
GIVEN = (
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
)
REGISTRARS = tuple(f"reg{n}" for n in range(1, 6))
TECHNICIANS = tuple(f"tech{n}" for n in range(1, 13))
DOCTORS = tuple(f"doc{n}" for n in range(1, 11))
REVIEWERS = tuple(f"chief{n}" for n in range(1, 5))
# Final statuses and their shares.
FINAL = (
    ("verified", 0.86),
    ("reported", 0.05),
    ("completed", 0.03),
    ("in_progress", 0.005),
    ("arrived", 0.005),
    ("cancelled", 0.03),
    ("no_show", 0.02),
)
_TABLES = (ris.ris_patients, ris.ris_visits, ris.ris_orders, ris.ris_exams)
PATH = ("scheduled", "arrived", "in_progress", "completed", "reported", "verified")


@dataclass
class Seeded:
    exams: int = 0
    patients: int = 0
    history: int = 0
    reports: int = 0
    instances: int = 0
    seconds: float = 0.0


def seed(
    engine: Engine, exams: int, first: date, days: int, images: int = 2, rng_seed: int = 15
) -> Seeded:
    """Migrate, seed the catalogue (with prices), then add the department's year."""
    started = time.monotonic()
    db.migrate(engine)
    rng = np.random.default_rng(rng_seed)
    done = Seeded(exams=exams)
    with engine.begin() as conn:
        catalogue.seed(conn)
        for modality, fen in PRICE_FEN.items():
            conn.execute(
                update(ris.ris_procedures)
                .where(ris.ris_procedures.c.modality == modality)
                .values(price_fen=fen)
            )
        _department(conn, exams, first, days, images, rng, done)
    done.seconds = time.monotonic() - started
    return done


def _next_id(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _department(
    conn: Connection,
    exams: int,
    first: date,
    days: int,
    images: int,
    rng: np.random.Generator,
    done: Seeded,
) -> None:
    items = [p for p in catalogue.PROCEDURES]
    weights = np.array(
        [WEIGHTS[p.modality] / sum(1 for q in items if q.modality == p.modality) for p in items]
    )
    rooms = {m: [r for r in catalogue.ROOMS if r.modality == m] for m in WEIGHTS}
    prices = {p.code: PRICE_FEN[p.modality] + 1_000 * (len(p.code) % 5) for p in items}
    for code, fen in prices.items():
        conn.execute(
            update(ris.ris_procedures)
            .where(ris.ris_procedures.c.code == code)
            .values(price_fen=fen)
        )
    plan = _plan(exams, first, days, len(items), weights / weights.sum(), rng)
    ids = {t.name: _next_id(conn, t) for t in (ris.ris_patients, ris.ris_exams, archive.patients)}
    patients = _patients(conn, plan, ids, rng, done)
    rows = _exam_rows(conn, plan, ids, patients, items, rooms, prices, rng)
    _history(conn, rows, rng, done)  # inserts the exams, then their history
    _reports(conn, rows, rng, done)
    _archive(conn, rows, ids, images, done)
    if conn.dialect.name == "postgresql":  # ids were given: move the sequences past them
        for table in (*_TABLES, archive.patients, archive.studies, archive.series):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
            )


def _plan(
    exams: int, first: date, days: int, n_items: int, p: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per exam: its day, minute of the day (local), item, patient type, final status."""
    day = np.sort(np.arange(exams) % days)
    classes = rng.choice(len(CLASSES), size=exams, p=[w for _, w in CLASSES])
    working = rng.integers(8 * 60, 18 * 60, size=exams)
    any_time = rng.integers(0, 24 * 60, size=exams)
    emergency = classes == 2
    final = rng.choice(len(FINAL), size=exams, p=[w for _, w in FINAL])
    return {
        "day": day,
        "minute": np.where(emergency, any_time, working),
        "item": rng.choice(n_items, size=exams, p=p),
        "class": classes,
        "final": final,
        "patient": rng.integers(0, max(1, exams // 2), size=exams),
        "first": np.array([first.toordinal()]),
    }


def _patients(
    conn: Connection,
    plan: dict[str, np.ndarray],
    ids: dict[str, int],
    rng: np.random.Generator,
    done: Seeded,
) -> list[int]:
    count = int(plan["patient"].max()) + 1
    stamp = datetime(2024, 12, 1, tzinfo=UTC)
    first, first_archive = ids["ris_patients"], ids["patients"]
    surname = rng.integers(0, len(SURNAMES), size=count)
    given = rng.integers(0, len(GIVEN), size=count)
    rows, archived = [], []
    for i in range(count):
        name = f"{SURNAMES[surname[i]]}^{GIVEN[given[i]]}"
        pid = f"B{first + i:09d}"
        rows.append(
            {
                "id": first + i,
                "patient_id": pid,
                "issuer": "",
                "name": name,
                "name_shown": name.replace("^", ""),
                "sex": "MF"[i % 2],
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        archived.append(
            {
                "id": first_archive + i,
                "patient_id": pid,
                "issuer_of_patient_id": "",
                "patient_name": name,
                "patient_name_alpha": "",
                "patient_name_ideo": name,
                "patient_name_phon": "",
                "birth_date": "19700101",
                "sex": "MF"[i % 2],
                "created_at": stamp,
            }
        )
    _bulk(conn, ris.ris_patients, rows)
    _bulk(conn, archive.patients, archived)
    done.patients = count
    return [row["id"] for row in rows]


def _exam_rows(
    conn: Connection,
    plan: dict[str, np.ndarray],
    ids: dict[str, int],
    patients: list[int],
    items: list[Any],
    rooms: dict[str, list[Any]],
    prices: dict[str, int],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Visits, orders and exams (one of each per exam; ids shared), returned for the rest."""
    first_day = date.fromordinal(int(plan["first"][0]))
    midnights = {
        d: clock.local_day_bounds(first_day + timedelta(days=int(d)))[0]
        for d in np.unique(plan["day"])
    }
    first = ids["ris_exams"]
    booked_ahead = rng.integers(0, 3 * 24 * 60, size=len(plan["day"]))
    referring = rng.integers(0, len(REFERRING), size=len(plan["day"]))
    visits, orders, exams = [], [], []
    for i in range(len(plan["day"])):
        n = first + i
        item = items[int(plan["item"][i])]
        klass = CLASSES[int(plan["class"][i])][0]
        at = midnights[plan["day"][i]] + timedelta(minutes=int(plan["minute"][i]))
        made = at if klass == "emergency" else at - timedelta(minutes=int(booked_ahead[i]))
        room = rooms[item.modality][i % len(rooms[item.modality])]
        patient = patients[int(plan["patient"][i])]
        status = FINAL[int(plan["final"][i])][0]
        registrar = REGISTRARS[i % len(REGISTRARS)]
        visits.append(
            {
                "id": n,
                "patient_fk": patient,
                "visit_number": f"BV{n:09d}",
                "patient_class": klass,
                "department": REFERRING[referring[i]],
                "status": "open",
                "created_at": made,
            }
        )
        orders.append(
            {
                "id": n,
                "patient_fk": patient,
                "visit_fk": n,
                "placer_order_number": f"BO{n:09d}",
                "placer_application": "HIS",
                "filler_order_number": f"BF{n:09d}",
                "referring_physician": "医生^某",
                "referring_department": REFERRING[referring[i]],
                "priority": "STAT" if klass == "emergency" else "ROUTINE",
                "emergency": klass == "emergency",
                "status": "cancelled" if status == "cancelled" else "in_progress",
                "created_by": registrar,
                "created_at": made,
            }
        )
        accession = f"B{n:09d}"
        exams.append(
            {
                "id": n,
                "order_fk": n,
                "patient_fk": patient,
                "accession_number": accession,
                "requested_procedure_id": accession,
                "scheduled_step_id": accession,
                "study_instance_uid": f"{UID_ROOT}.15.{n}",
                "procedure_code": item.code,
                "procedure_name": item.name_zh,
                "modality": item.modality,
                "body_part": item.body_part,
                "department": item.department,
                "room": room.code,
                "station_ae": room.station_ae,
                "scheduled_at": at,
                "status": status,
                "status_at": at,  # corrected by the history below
                "status_by": registrar,
                "fee_fen": prices[item.code],
                "fee_confirmed": status not in ("scheduled", "cancelled", "no_show"),
                "created_at": made,
                # for the reports and studies below (not columns: the insert leaves them out)
                "patient_code": f"B{patient:09d}",
                "patient_name": "",
                "emergency": klass == "emergency",
                "referring": REFERRING[referring[i]],
            }
        )
    _bulk(conn, ris.ris_visits, visits)
    _bulk(conn, ris.ris_orders, orders)
    return exams  # inserted with their history


def _history(
    conn: Connection, exams: list[dict[str, Any]], rng: np.random.Generator, done: Seeded
) -> None:
    """Each exam's steps to its final status, minutes apart (inserted after the exams); the
    exam row's status time and author follow its last step, and each step's time is kept on
    the row (``_<status>``) for the reports."""
    gaps = rng.integers((0, 2, 5, 20, 10), (30, 30, 40, 24 * 60, 12 * 60), size=(len(exams), 5))
    rows: list[dict[str, Any]] = []
    for i, exam in enumerate(exams):
        tech = TECHNICIANS[i % len(TECHNICIANS)]
        who = (exam["status_by"], exam["status_by"], tech, tech, DOCTORS[i % 10], REVIEWERS[i % 4])
        at = exam["created_at"]
        rows.append(_step(exam["id"], None, "scheduled", who[0], at))
        final = exam["status"]
        if final in ("cancelled", "no_show"):
            at = exam["scheduled_at"] + timedelta(hours=10)
            rows.append(_step(exam["id"], "scheduled", final, who[0], at))
        else:
            at = exam["scheduled_at"]
            for k in range(1, PATH.index(final) + 1):
                at = at + timedelta(minutes=int(gaps[i, k - 1]))
                rows.append(_step(exam["id"], PATH[k - 1], PATH[k], who[k], at))
                exam["_" + PATH[k]] = at
        exam["status_at"], exam["status_by"] = at, rows[-1]["username"]
    _bulk(conn, ris.ris_exams, exams)
    _bulk(conn, ris.ris_exam_history, rows)
    done.history = len(rows)


def _step(exam: int, old: str | None, new: str, username: str, at: datetime) -> dict[str, Any]:
    return {"exam_fk": exam, "old_status": old, "new_status": new, "username": username, "at": at}


FINDINGS = "双肺纹理清晰，未见明显实质性病变。心影大小形态正常。"
IMPRESSION = ("未见明显异常。", "考虑炎性病变，建议复查。")


def _reports(
    conn: Connection, exams: list[dict[str, Any]], rng: np.random.Generator, done: Seeded
) -> None:
    """A report for every reported or verified exam: created when the exam was completed,
    submitted when it became reported, signed when verified; 3 % rejected once on the way."""
    first = _next_id(conn, reporting.reporting_reports)
    reported = [e for e in exams if "_reported" in e]
    positive = rng.random(len(reported)) < 0.4
    critical = rng.random(len(reported)) < 0.005
    rejected = rng.random(len(reported)) < 0.03
    reports, history, versions, alerts = [], [], [], []
    for i, exam in enumerate(reported):
        rid = first + i
        signed = "_verified" in exam
        author, reviewer = DOCTORS[i % 10], REVIEWERS[i % 4]
        created, submitted = exam["_completed"], exam["_reported"]
        steps = [("create", author, created, "", "draft")]
        if rejected[i]:
            back = created + (submitted - created) / 3
            steps += [
                ("submit", author, back, "draft", "submitted"),
                ("reject", reviewer, back + (submitted - back) / 2, "submitted", "draft"),
            ]
        steps.append(("submit", author, submitted, "draft", "submitted"))
        if signed:
            steps.append(("sign", reviewer, exam["_verified"], "submitted", "signed"))
        number = 0
        for action, who, at, old, new in steps:
            if action in ("submit", "sign"):
                number += 1
                versions.append(_version(rid, number, action, who, new, at, bool(positive[i])))
            history.append(
                {
                    "report_id": rid,
                    "action": action,
                    "username": who,
                    "at": at,
                    "old_status": old,
                    "new_status": new,
                    "version": number,
                }
            )
        reports.append(
            _report(
                rid,
                exam,
                author,
                reviewer,
                signed,
                number,
                steps[-1][2],
                bool(positive[i]),
                bool(critical[i]),
            )
        )
        if critical[i]:
            alerts.append(_alert(rid, author, submitted, exam["referring"], rng))
    _bulk(conn, reporting.reporting_reports, reports)
    _bulk(conn, reporting.reporting_history, history)
    _bulk(conn, reporting.reporting_versions, versions)
    _bulk(conn, reporting.reporting_critical_alerts, alerts)
    _outputs(conn, reports)
    done.reports = len(reports)


def _outputs(conn: Connection, reports: list[dict[str, Any]]) -> None:
    """The signed versions' archived SR/PDF objects, as stored: else the core's start-up sweep
    would make a year of them first."""
    from core_server.reporting.output.models import KINDS
    from core_server.reporting.output.tables import report_output_objects

    rows = [
        {
            "report_id": r["id"],
            "version": r["signed_version"],
            "kind": kind,
            "study_instance_uid": f"{UID_ROOT}.15.{r['exam_id']}",
            "series_instance_uid": f"{UID_ROOT}.15.{r['exam_id']}.{n + 9}",
            "sop_instance_uid": f"{UID_ROOT}.15.{r['exam_id']}.{n + 9}.1",
            "status": "stored",
            "next_attempt_at": r["signed_at"],
            "created_at": r["signed_at"],
            "stored_at": r["signed_at"],
        }
        for r in reports
        if r["signed_at"] is not None
        for n, kind in enumerate(KINDS)
    ]
    _bulk(conn, report_output_objects, rows)


def _version(
    rid: int, number: int, action: str, who: str, status: str, at: datetime, positive: bool
) -> dict[str, Any]:
    return {
        "report_id": rid,
        "number": number,
        "action": action,
        "username": who,
        "status": status,
        "findings": FINDINGS,
        "impression": IMPRESSION[positive] + ("" if number == 1 else "（已修改）"),
        "created_at": at,
    }


def _report(
    rid: int,
    exam: dict[str, Any],
    author: str,
    reviewer: str,
    signed: bool,
    version: int,
    last: datetime,
    positive: bool,
    critical: bool,
) -> dict[str, Any]:
    return {
        "id": rid,
        "exam_id": exam["id"],
        "accession_number": exam["accession_number"],
        "patient_id": exam["patient_code"],
        "patient_name": exam["patient_name"],
        "department": exam["department"],
        "modality": exam["modality"],
        "body_part": exam["body_part"],
        "procedure_code": exam["procedure_code"],
        "emergency": exam["emergency"],
        "status": "signed" if signed else "submitted",
        "version": version,
        "findings": FINDINGS,
        "impression": IMPRESSION[positive],
        "positive": positive,
        "critical": critical,
        "author": author,
        "reviewed_by": reviewer if signed else "",
        "signed_by": reviewer if signed else "",
        "signed_at": last if signed else None,
        "signed_version": version if signed else None,
        "levels": 2,
        "created_at": exam["_completed"],
        "updated_at": last,
    }


def _alert(
    rid: int, author: str, raised: datetime, referring: str, rng: np.random.Generator
) -> dict[str, Any]:
    return {
        "report_id": rid,
        "description": "危急值：大面积肺栓塞可能",
        "raised_by": author,
        "raised_at": raised,
        "status": "acknowledged",
        "acknowledged_by": f"{referring}医生",
        "acknowledged_at": raised + timedelta(minutes=int(rng.integers(3, 90))),
        "acknowledgement": "已知晓",
    }


def _archive(
    conn: Connection, exams: list[dict[str, Any]], ids: dict[str, int], images: int, done: Seeded
) -> None:
    """One study with one series and ``images`` instances for every performed exam."""
    studies, series, instances = [], [], []
    study_id = _next_id(conn, archive.studies)
    series_id = _next_id(conn, archive.series)
    instance_id = _next_id(conn, archive.instances)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for exam in exams:
        if "_in_progress" not in exam:
            continue
        day = clock.local(exam["_in_progress"]).strftime("%Y%m%d")
        studies.append(
            {
                "id": study_id,
                "patient_fk": ids["patients"] + exam["patient_fk"] - ids["ris_patients"],
                "study_instance_uid": exam["study_instance_uid"],
                "study_date": day,
                "study_time": "090000",
                "accession_number": exam["accession_number"],
                "study_id": str(study_id),
                "created_at": now,
            }
        )
        series.append(
            {
                "id": series_id,
                "study_fk": study_id,
                "series_instance_uid": f"{exam['study_instance_uid']}.1",
                "modality": exam["modality"],
                "series_number": 1,
                "body_part_examined": exam["body_part"],
                "series_date": day,
                "station_name": exam["station_ae"],
                "source_ae_title": exam["station_ae"],
            }
        )
        for number in range(1, images + 1):
            row = _instance_row(
                instance_id, series_id, _SOP_MODALITY.get(exam["modality"], "CT"), number, now
            )
            instances.append(row)
            instance_id += 1
        study_id += 1
        series_id += 1
    _bulk(conn, archive.studies, studies)
    _bulk(conn, archive.series, series)
    _bulk(conn, archive.instances, instances)
    done.instances = len(instances)


# The fill's SOP classes by modality (ultrasound and endoscopy images as secondary captures
# would be more exact; the statistics only count them).
_SOP_MODALITY = {"CT": "CT", "MR": "MR", "DX": "DX", "MG": "MG", "US": "US", "ES": "CT"}
