"""Filling a PostgreSQL index with COPY: patients, studies, series, instances as the core's
ingest writes them (the name keys from the same functions), and the RIS beside them (an exam
and order per study, and one day's worklist). See :mod:`bench.index_scale.distributions`.

The fill adds studies until the index holds the asked number of instances, in chunks of
studies each committed on its own (an interrupted fill continues where it stopped), then
sets the id sequences past the new rows and runs VACUUM ANALYZE. Instance rows name files
that do not exist: the index is for queries, not for retrieval.
"""

from __future__ import annotations

import time as timer
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import psycopg

from bench.index_scale import distributions as d
from core_server import clock, db

CHUNK_STUDIES = 2000
TABLES = (
    "patients", "studies", "series", "instances", "ris_patients", "ris_orders", "ris_exams",
)  # fmt: skip


@dataclass
class FillReport:
    added_instances: int = 0
    added_studies: int = 0
    added_patients: int = 0
    worklist_added: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def fill(
    url: str, instances: int, *, years: int = 3, day: date | None = None, seed: int = 16
) -> FillReport:
    """Grow the index at ``url`` (an SQLAlchemy PostgreSQL URL) to about ``instances``
    instances over the ``years`` before ``day`` (default: the hospital's today), and give
    ``day`` its worklist."""
    started = timer.monotonic()
    day = day or clock.today()
    engine = db.make_engine(url)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()
    report = FillReport()
    with psycopg.connect(_plain(url)) as conn:
        rng = np.random.default_rng(seed + _count(conn, "studies"))
        _catalogue(conn)
        first = day - timedelta(days=365 * years)
        while (have := _count(conn, "instances")) < instances:
            _chunk(conn, rng, instances - have, first, (day - first).days, report)
            conn.commit()
        report.worklist_added = _worklist(conn, rng, day)
        _sequences(conn)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        report.counts = {table: _count(conn, table) for table in TABLES}
    report.seconds = timer.monotonic() - started
    return report


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    # The planner's estimate is no good here: a fill must know exactly where it stopped.
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _next_id(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
    return int(row[0]) if row else 1


def _copy(conn: psycopg.Connection[Any], table: str, columns: str, lines: Iterable[str]) -> None:
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        block: list[str] = []
        for line in lines:
            block.append(line)
            if len(block) >= 20_000:
                copy.write("".join(block))
                block = []
        copy.write("".join(block))


def _line(*values: Any) -> str:
    """One COPY text row; the generated values hold no tab, newline or backslash."""
    return "\t".join("\\N" if v is None else str(v) for v in values) + "\n"


@dataclass
class _Chunk:
    patients: list[str] = field(default_factory=list)
    ris_patients: list[str] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    exams: list[str] = field(default_factory=list)


def _chunk(
    conn: psycopg.Connection[Any],
    rng: np.random.Generator,
    wanted: int,
    first: date,
    days: int,
    report: FillReport,
) -> None:
    """Up to CHUNK_STUDIES studies (fewer when ``wanted`` instances are reached first), their
    patients (geometric number of studies each), series and instances, and RIS rows."""
    ids = {t: _next_id(conn, t) for t in ("patients", "studies", "series", "instances")}
    ids["orders"] = _next_id(conn, "ris_orders")
    ids["exams"] = _next_id(conn, "ris_exams")
    ids["patients"] = max(ids["patients"], _next_id(conn, "ris_patients"))
    out = _Chunk()
    kinds = d.study_kinds(rng, CHUNK_STUDIES)
    added = 0
    left_for_patient = 0
    now = clock.now()
    for n in range(CHUNK_STUDIES):
        if added >= wanted:
            break
        if left_for_patient == 0:
            left_for_patient = int(rng.geometric(1 / d.STUDIES_PER_PATIENT))
            _patient(out, rng, ids["patients"], now)
            ids["patients"] += 1
            report.added_patients += 1
        left_for_patient -= 1
        kind = d.KINDS[int(kinds[n])]
        added += _study(out, rng, kind, ids, ids["patients"] - 1, first, days)
        report.added_studies += 1
    _copy(conn, "patients", _PATIENT_COLUMNS, out.patients)
    _copy(conn, "ris_patients", _RIS_PATIENT_COLUMNS, out.ris_patients)
    _copy(conn, "studies", _STUDY_COLUMNS, out.studies)
    _copy(conn, "series", _SERIES_COLUMNS, out.series)
    _copy(conn, "instances", _INSTANCE_COLUMNS, out.instances)
    _copy(conn, "ris_orders", _ORDER_COLUMNS, out.orders)
    _copy(conn, "ris_exams", _EXAM_COLUMNS, out.exams)
    report.added_instances += added


_PATIENT_COLUMNS = (
    "id, patient_id, issuer_of_patient_id, patient_name, patient_name_alpha, patient_name_ideo, "
    "patient_name_phon, patient_name_initials, patient_name_pinyin, birth_date, sex, created_at"
)
_RIS_PATIENT_COLUMNS = (
    "id, patient_id, issuer, name, name_pinyin, name_shown, name_spelled, name_initials, "
    "id_card_number, birth_date, sex, phone, address, created_at, updated_at"
)


def _patient(out: _Chunk, rng: np.random.Generator, pk: int, now: datetime) -> None:
    """The archive's patient (the name as a modality sent it) and the RIS's (as the HIS)."""
    chinese = d.chinese_name(rng)
    n = d.names(chinese, d.name_form(rng))
    born = date(1930, 1, 1) + timedelta(days=int(rng.integers(0, 90 * 365)))
    sex = "MF"[int(rng.integers(0, 2))]
    pid = d.patient_id(pk)
    out.patients.append(
        _line(pk, pid, "", n.dicom, n.alpha, n.ideo, n.phon, n.initials, n.spelled,
              born.strftime("%Y%m%d"), sex, now)
    )  # fmt: skip
    _ris_patient(out, pk, pid, n, born, sex, now)


def _ris_patient(
    out: _Chunk, pk: int, pid: str, n: d.Names, born: date, sex: str, now: datetime
) -> None:
    out.ris_patients.append(
        _line(pk, pid, "", n.ris_name, n.ris_pinyin, n.ris_shown, n.ris_spelled,
              n.ris_initials, "", born.isoformat(), sex, "", "", now, now)
    )  # fmt: skip


_STUDY_COLUMNS = (
    "id, patient_fk, study_instance_uid, study_date, study_time, accession_number, study_id, "
    "study_description, referring_physician_name, referring_physician_key, created_at"
)
_SERIES_COLUMNS = (
    "id, study_fk, series_instance_uid, modality, series_number, series_description, "
    "body_part_examined, series_date, series_time, station_name, source_ae_title"
)
_INSTANCE_COLUMNS = (
    "id, series_fk, sop_instance_uid, sop_class_uid, instance_number, transfer_syntax_uid, "
    "number_of_frames, rows, columns, path, size, received_at, source_ae_title"
)


def _study(
    out: _Chunk,
    rng: np.random.Generator,
    kind: d.Kind,
    ids: dict[str, int],
    patient: int,
    first: date,
    days: int,
) -> int:
    """One study with its series and instances; the instances added."""
    pk = ids["studies"]
    ids["studies"] += 1
    local = datetime.combine(
        first + timedelta(days=int(rng.integers(0, days + 1))),
        time(*divmod(int(rng.integers(7 * 60 + 30, 21 * 60)), 60)),
    )
    at = clock.from_local(local).astimezone(UTC)
    day, hhmmss = local.strftime("%Y%m%d"), local.strftime("%H%M%S")
    uid = f"{d.UID_ROOT}.1.{pk}"
    accession = d.accession(day, pk)
    part = int(rng.integers(0, len(kind.body_parts)))
    description = kind.descriptions[part % len(kind.descriptions)]
    doctor = d.DOCTORS[int(rng.integers(0, len(d.DOCTORS)))]
    out.studies.append(
        _line(pk, patient, uid, day, hhmmss, accession, str(pk % 10**8), description,
              doctor, doctor.upper(), at)
    )  # fmt: skip
    station = f"{kind.modality}01"
    sizes = d.series_sizes(rng, kind)
    classes = [kind.sop_class] * len(sizes)
    if kind.modality == "CT" and rng.random() < d.SR_SHARE:
        sizes.append(1)
        classes.append(d.SR_CLASS)
    added = 0
    for number, (size, sop_class) in enumerate(zip(sizes, classes, strict=True), start=1):
        series_pk = ids["series"]
        ids["series"] += 1
        modality = "SR" if sop_class == d.SR_CLASS else kind.modality
        out.series.append(
            _line(series_pk, pk, f"{d.UID_ROOT}.2.{series_pk}", modality, number,
                  f"{description} {number}", kind.body_parts[part], day, hhmmss, station, station)
        )  # fmt: skip
        first_instance = ids["instances"]
        ids["instances"] += size
        rows = None if modality == "SR" else kind.rows
        # NumberOfFrames only where the object has it (ingest stores None otherwise): a US
        # cine loop in every fourth US series.
        frames = 60 if modality == "US" and series_pk % 4 == 0 else None
        out.instances.extend(
            _line(i, series_pk, f"{d.UID_ROOT}.3.{i}", sop_class, i - first_instance + 1,
                  "1.2.840.10008.1.2.1", frames, rows, rows,
                  f"index-scale/{modality}.dcm", 600_000 if rows else 4_000, at, station)
            for i in range(first_instance, first_instance + size)
        )  # fmt: skip
        added += size
    _history_exam(out, ids, patient, kind, accession, uid, at, part)
    return added


_ORDER_COLUMNS = (
    "id, patient_fk, placer_order_number, placer_application, filler_order_number, "
    "referring_physician, referring_department, priority, status, created_by, created_at"
)
_EXAM_COLUMNS = (
    "id, order_fk, patient_fk, accession_number, requested_procedure_id, scheduled_step_id, "
    "study_instance_uid, procedure_code, procedure_name, modality, body_part, department, "
    "room, station_ae, scheduled_at, status, status_at, status_by, created_at"
)


def _exam(
    out: _Chunk,
    ids: dict[str, int],
    patient: int,
    kind: d.Kind,
    accession: str,
    uid: str,
    at: datetime,
    part: int,
    status: str,
) -> None:
    order, exam = ids["orders"], ids["exams"]
    ids["orders"] += 1
    ids["exams"] += 1
    department = "放射科" if kind.modality != "US" else "超声科"
    out.orders.append(
        _line(order, patient, f"HIS{order:09d}", "HIS", f"RIS{order:09d}", "李^医生", "内科",
              "ROUTINE", "active", "index-scale", at)
    )  # fmt: skip
    code = f"{kind.modality}{part + 1:02d}"
    out.exams.append(
        _line(exam, order, patient, accession, accession, accession, uid, code,
              kind.descriptions[part % len(kind.descriptions)], kind.modality,
              kind.body_parts[part], department, f"{kind.modality}1", f"{kind.modality}01",
              at, status, at, "index-scale", at)
    )  # fmt: skip


def _history_exam(
    out: _Chunk, ids: dict[str, int], patient: int, kind: d.Kind, accession: str, uid: str,
    at: datetime, part: int,
) -> None:  # fmt: skip
    _exam(out, ids, patient, kind, accession, uid, at, part, "verified")


def _catalogue(conn: psycopg.Connection[Any]) -> None:
    """The exam items and rooms the generated exams name (one room per modality, its station
    AE ``<MODALITY>01``), unless present."""
    for kind in d.KINDS:
        for part, body in enumerate(kind.body_parts):
            conn.execute(
                "INSERT INTO ris_procedures (code, name_zh, name_en, modality, body_part, "
                "department, duration_minutes, active, price_fen) VALUES "
                "(%s, %s, %s, %s, %s, 'RAD', 15, true, 10000) ON CONFLICT DO NOTHING",
                (f"{kind.modality}{part + 1:02d}", kind.descriptions[part % len(kind.descriptions)],
                 f"{kind.modality} {body}", kind.modality, body),
            )  # fmt: skip
        conn.execute(
            "INSERT INTO ris_rooms (code, name, modality, department, station_ae, slot_minutes,"
            " slot_capacity, opens, closes) VALUES (%s, %s, %s, 'RAD', %s, 15, 2, '08:00',"
            " '18:00') ON CONFLICT DO NOTHING",
            (f"{kind.modality}1", f"{kind.modality}一室", kind.modality, f"{kind.modality}01"),
        )


WORKLIST = {"CT": 110, "MR": 60, "DX": 100, "CR": 40, "US": 70, "MG": 20}  # 400 a day


def _worklist(conn: psycopg.Connection[Any], rng: np.random.Generator, day: date) -> int:
    """``day``'s worklist: exams booked 08:00-18:00 (70 % scheduled, 20 % arrived, 10 % in
    progress), half for patients the archive knows, half for new ones; none if ``day`` has
    one already (its first accession number is there)."""
    stamp = day.strftime("%Y%m%d")
    found = conn.execute(
        "SELECT 1 FROM ris_exams WHERE accession_number = %s", (f"{stamp}00001",)
    ).fetchone()
    if found is not None:
        return 0
    ids = {"orders": _next_id(conn, "ris_orders"), "exams": _next_id(conn, "ris_exams")}
    known = _next_id(conn, "ris_patients") - 1
    new_patient = known + 1
    out = _Chunk()
    now = clock.now()
    number = 0
    for kind in d.KINDS:
        for _ in range(WORKLIST[kind.modality]):
            number += 1
            if known and rng.random() < 0.5:
                patient = int(rng.integers(1, known + 1))
            else:
                patient, new_patient = new_patient, new_patient + 1
                n = d.names(d.chinese_name(rng), 1)
                born = date(1930, 1, 1) + timedelta(days=int(rng.integers(0, 90 * 365)))
                _ris_patient(out, patient, d.patient_id(patient), n, born, "MF"[number % 2], now)
            minute = int(rng.integers(8 * 60, 18 * 60))
            at = clock.from_local(datetime.combine(day, time(*divmod(minute, 60))))
            status = str(rng.choice(["scheduled", "arrived", "in_progress"], p=(0.7, 0.2, 0.1)))
            uid = f"{d.UID_ROOT}.4.{stamp}.{number}"
            part = int(rng.integers(0, len(kind.body_parts)))
            _exam(out, ids, patient, kind, f"{stamp}{number:05d}", uid, at.astimezone(UTC),
                  part, status)  # fmt: skip
    _copy(conn, "ris_patients", _RIS_PATIENT_COLUMNS, out.ris_patients)
    _copy(conn, "ris_orders", _ORDER_COLUMNS, out.orders)
    _copy(conn, "ris_exams", _EXAM_COLUMNS, out.exams)
    return number


def _sequences(conn: psycopg.Connection[Any]) -> None:
    """Each table's id sequence past the rows the COPY wrote with explicit ids, so that the
    core's own inserts (a C-STORE after the fill) take new ones."""
    for table in TABLES:
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
