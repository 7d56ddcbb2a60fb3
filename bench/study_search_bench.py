"""Benchmark of the study list's search (``core_server.archive.search_studies``).

    .venv/bin/python -m bench.study_search_bench [--patients 50000] [--database-url URL]

Fills an empty database with patients (random Chinese names, pinyin keys as ingest computes
them) and two studies each, one series per study, then times each kind of search: the best
of three runs of one page of 50 with its total. Without ``--database-url``, a temporary
SQLite file. Figures: ``docs/web.md``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from core_server import db
from core_server.archive import StudyFilter, search_studies
from core_server.archive import tables as t
from core_server.archive.objects import pinyin_columns

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾田董袁潘于蒋蔡余杜"
FAMILY += "叶程苏魏吕丁任沈姚卢单"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文海燕鹏辉"
SEARCHES = (
    StudyFilter(),
    StudyFilter(text="zs"),
    StudyFilter(text="zhangw"),
    StudyFilter(text="张伟"),
    StudyFilter(text="P00123"),
    StudyFilter(text="A0000999"),
    StudyFilter(modality="MR"),
    StudyFilter(date_from="20260301", date_to="20260307"),
    StudyFilter(text="wf", modality="CT", date_from="20260601"),
)


def fill(engine: Engine, patients: int) -> None:
    rng = random.Random(1)
    names = [
        rng.choice(FAMILY) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        for _ in range(patients)
    ]
    started = time.perf_counter()
    keys = [pinyin_columns(name) for name in names]
    per_name = (time.perf_counter() - started) / patients
    print(f"pinyin keys: {per_name * 1e6:.0f} µs per name")
    now = datetime.now(UTC)
    with db.write(engine) as conn:
        conn.execute(
            t.patients.insert(),
            [
                {"patient_id": f"P{i:07d}", "patient_name": name, "created_at": now, **key}
                for i, (name, key) in enumerate(zip(names, keys, strict=True))
            ],
        )
        ids = list(conn.execute(t.patients.select().with_only_columns(t.patients.c.id)).scalars())
        conn.execute(
            t.studies.insert(),
            [
                {
                    "patient_fk": ids[i % patients],
                    "study_instance_uid": f"1.2.{i}",
                    "study_date": f"2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                    "accession_number": f"A{i:08d}",
                    "created_at": now,
                }
                for i in range(2 * patients)
            ],
        )
        studies = conn.execute(t.studies.select().with_only_columns(t.studies.c.id)).scalars()
        conn.execute(
            t.series.insert(),
            [
                {
                    "study_fk": study,
                    "series_instance_uid": f"1.3.{study}",
                    "modality": rng.choice(("CT", "MR", "DX", "US")),
                }
                for study in studies
            ],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/search.db"
    engine = db.make_engine(url)
    db.migrate(engine)
    fill(engine, args.patients)
    print(f"{args.patients} patients, {2 * args.patients} studies on {engine.dialect.name}")
    for search in SEARCHES:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            total, page = search_studies(engine, search)
            times.append(time.perf_counter() - started)
        label = " ".join(
            f"{name}={value}"
            for name, value in (
                ("q", search.text),
                ("modality", search.modality),
                ("from", search.date_from),
                ("to", search.date_to),
            )
            if value
        )
        print(
            f"  {label or '(none)':<40} {total:>7} found, {len(page):>2} shown, "
            f"{min(times) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
