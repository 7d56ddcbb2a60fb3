"""Filling the core's index with synthetic patients, studies, series and instances.

Written straight into the database with SQLAlchemy Core bulk inserts while the server is
stopped. Spreads: one patient per 100 instances, one study per 50 (so two studies per patient
on average), one series per 40 with at least one per study, instances per series drawn from a
skewed distribution, study dates uniform over three years (2022-2024). The instance rows name
files that do not exist: the fill is for C-FIND, never for retrieval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, create_engine, func, insert, select

from core_server.archive import tables as t

UID_ROOT = "1.2.826.0.1.3680043.8.498.77"
FIRST_DAY = date(2022, 1, 1)
DAYS = 3 * 365
CHUNK = 20_000


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = _words(
    "WANG LI ZHANG LIU CHEN YANG HUANG ZHAO WU ZHOU XU SUN MA ZHU HU GUO HE GAO LIN LUO "
    "ZHENG LIANG XIE SONG TANG XU HAN FENG DENG CAO PENG ZENG XIAO TIAN DONG YUAN PAN YU "
    "JIANG CAI YU DU YE CHENG SU WEI LU DING REN SHEN YAO LU JIANG CUI ZHONG TAN LU WANG "
    "FAN JIN SHI LIAO JIA XIA WEI FU FANG BAI ZOU MENG XIONG QIN QIU JIANG YIN XUE YAN "
    "DUAN LEI HOU LONG SHI TAO LI HE GU MAO HAO GONG SHAO WAN QIAN YAN TAN WU DAI MO KONG "
    "XIANG TANG SMITH JONES MILLER GARCIA MUELLER DUPONT ROSSI SATO SUZUKI KIM PARK NGUYEN"
)
SYLLABLES = _words(
    "WEI FANG NA XIU YING MIN JING LI QIANG LEI JUN YANG YONG YAN JIE JUAN TAO MING CHAO XIA "
    "PING GANG GUI HUA LAN HONG HUI LING BIN BO DAN FENG HAO JIAN KAI LONG MEI NING PENG QING "
    "RUI SHAN TING WEN XIN YU YUN ZHEN ZHI ZI AN CHEN DE FEI GUANG HAI HENG KUN LIANG"
)
MODALITIES = (("CT", 0.3), ("MR", 0.2), ("CR", 0.15), ("DX", 0.15), ("US", 0.12), ("MG", 0.08))
SOP_CLASS = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
}


@dataclass
class FillReport:
    """What was added, and keys that the large-index queries pick from."""

    patients: int = 0
    studies: int = 0
    series: int = 0
    instances: int = 0
    seconds: float = 0.0
    total_instances: int = 0
    patient_ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "added_patients": self.patients,
            "added_studies": self.studies,
            "added_series": self.series,
            "added_instances": self.instances,
            "total_instances": self.total_instances,
            "seconds": round(self.seconds, 1),
        }


def fill(database: Path, total_instances: int, seed: int = 7) -> FillReport:
    """Add synthetic rows until the index holds ``total_instances`` instances."""
    started = time.monotonic()
    engine = create_engine(f"sqlite:///{database}")
    rng = np.random.default_rng(seed)
    report = FillReport()
    try:
        with engine.connect() as conn:
            for pragma in ("synchronous=OFF", "foreign_keys=OFF", "cache_size=-262144"):
                conn.exec_driver_sql(f"PRAGMA {pragma}")
            wanted = max(0, total_instances - _count(conn, t.instances))
            if wanted:
                _fill(conn, wanted, rng, report)
            conn.commit()  # one transaction: SQLAlchemy began it with the first statement
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            report.total_instances = _count(conn, t.instances)
    finally:
        engine.dispose()
    report.seconds = time.monotonic() - started
    return report


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _fill(conn: Connection, wanted: int, rng: np.random.Generator, report: FillReport) -> None:
    n_patients = max(1, wanted // 100)
    n_studies = max(n_patients, wanted // 50)
    n_series = max(n_studies, wanted // 40)
    now = datetime.now(UTC)
    patient_ids = _patients(conn, n_patients, rng, now, report)
    study_ids, study_days = _studies(conn, patient_ids, n_studies, rng, now, report)
    series_ids, modalities = _series(conn, study_ids, study_days, n_series, rng, report)
    _instances(conn, series_ids, modalities, wanted, rng, now, report)


def _spread(children: int, parents: int, rng: np.random.Generator) -> np.ndarray:
    """Parent index of each child: every parent gets at least one, the rest at random."""
    extra = rng.integers(0, parents, size=children - parents)
    return np.sort(np.concatenate([np.arange(parents), extra]))


def _bulk(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows and not set(rows[0]) <= set(table.c.keys()):
        # the schema dropped a column this fill knows: leave it out rather than fail
        rows = [{k: v for k, v in row.items() if k in table.c} for row in rows]
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start : start + CHUNK])


def _patients(
    conn: Connection, count: int, rng: np.random.Generator, now: datetime, report: FillReport
) -> list[int]:
    first = _next_id(conn, t.patients)
    surnames = rng.integers(0, len(SURNAMES), size=count)
    given = rng.integers(0, len(SYLLABLES), size=(count, 2))
    births = rng.integers(0, 80 * 365, size=count)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        name = f"{SURNAMES[surnames[i]]}^{SYLLABLES[given[i, 0]]}{SYLLABLES[given[i, 1]]}"
        pid = f"SYN{first + i:08d}"
        rows.append(
            {
                "id": first + i,
                "patient_id": pid,
                "issuer_of_patient_id": "",
                "patient_name": name.title(),
                "patient_name_alpha": name,
                "patient_name_ideo": "",
                "patient_name_phon": "",
                "birth_date": _day(date(1940, 1, 1), int(births[i])),
                "sex": "MF"[i % 2],
                "created_at": now,
            }
        )
    _bulk(conn, t.patients, rows)
    report.patients = count
    picks = rng.choice(count, size=min(count, 1000), replace=False)
    report.patient_ids = [rows[i]["patient_id"] for i in picks]
    report.names = [rows[i]["patient_name_alpha"] for i in picks]
    return [row["id"] for row in rows]


def _studies(
    conn: Connection,
    patient_ids: list[int],
    count: int,
    rng: np.random.Generator,
    now: datetime,
    report: FillReport,
) -> tuple[list[int], np.ndarray]:
    first = _next_id(conn, t.studies)
    owners = rng.permutation(_spread(count, len(patient_ids), rng))
    days = rng.integers(0, DAYS, size=count)
    minutes = rng.integers(7 * 60, 20 * 60, size=count)
    rows = [
        {
            "id": first + i,
            "patient_fk": patient_ids[owners[i]],
            "study_instance_uid": f"{UID_ROOT}.1.{first + i}",
            "study_date": _day(FIRST_DAY, int(days[i])),
            "study_time": f"{minutes[i] // 60:02d}{minutes[i] % 60:02d}00",
            "accession_number": f"SYNACC{first + i:08d}",
            "study_id": str(first + i),
            "study_description": "SYNTHETIC STUDY",
            "referring_physician_name": "Referrer^Synthetic",
            "referring_physician_key": "REFERRER^SYNTHETIC",
            "created_at": now,
        }
        for i in range(count)
    ]
    _bulk(conn, t.studies, rows)
    report.studies = count
    report.dates = sorted({_day(FIRST_DAY, int(d)) for d in rng.choice(days, size=200)})
    return [row["id"] for row in rows], days


def _series(
    conn: Connection,
    study_ids: list[int],
    study_days: np.ndarray,
    count: int,
    rng: np.random.Generator,
    report: FillReport,
) -> tuple[list[int], list[str]]:
    first = _next_id(conn, t.series)
    owners = _spread(count, len(study_ids), rng)
    names = [m for m, _ in MODALITIES]
    weights = np.array([w for _, w in MODALITIES])
    study_modality = rng.choice(len(names), size=len(study_ids), p=weights / weights.sum())
    rows, modalities = [], []
    number = 0
    for i, owner in enumerate(owners):
        number = 1 if i == 0 or owners[i - 1] != owner else number + 1
        modality = names[study_modality[owner]]
        modalities.append(modality)
        rows.append(
            {
                "id": first + i,
                "study_fk": study_ids[owner],
                "series_instance_uid": f"{UID_ROOT}.2.{first + i}",
                "modality": modality,
                "series_number": number,
                "series_description": f"{modality} SERIES {number}",
                "body_part_examined": "CHEST",
                "series_date": _day(FIRST_DAY, int(study_days[owner])),
                "series_time": "090000",
                "station_name": f"{modality}01",
                "source_ae_title": "SYNTH",
            }
        )
    _bulk(conn, t.series, rows)
    report.series = count
    return [row["id"] for row in rows], modalities


def _instances(
    conn: Connection,
    series_ids: list[int],
    modalities: list[str],
    count: int,
    rng: np.random.Generator,
    now: datetime,
    report: FillReport,
) -> None:
    first = _next_id(conn, t.instances)
    weights = rng.gamma(1.5, size=len(series_ids))
    per_series = rng.multinomial(count - len(series_ids), weights / weights.sum()) + 1
    next_id = first
    batch: list[dict[str, Any]] = []
    for series_id, modality, size in zip(series_ids, modalities, per_series, strict=True):
        for number in range(1, int(size) + 1):
            batch.append(_instance_row(next_id, series_id, modality, number, now))
            next_id += 1
        if len(batch) >= CHUNK:
            _bulk(conn, t.instances, batch)
            batch = []
    _bulk(conn, t.instances, batch)
    report.instances = count


def _instance_row(
    row_id: int, series_id: int, modality: str, number: int, now: datetime
) -> dict[str, Any]:
    return {
        "id": row_id,
        "series_fk": series_id,
        "sop_instance_uid": f"{UID_ROOT}.3.{row_id}",
        "sop_class_uid": SOP_CLASS[modality],
        "instance_number": number,
        "transfer_syntax_uid": "1.2.840.10008.1.2.1",
        "number_of_frames": None,
        "rows": 512,
        "columns": 512,
        "path": f"synthetic/{row_id}.dcm",
        "size": 526_000,
        "sha256": "0" * 64,
        "received_at": now,
        "source_ae_title": "SYNTH",
    }


def _day(start: date, offset: int) -> str:
    return (start + timedelta(days=offset)).strftime("%Y%m%d")
