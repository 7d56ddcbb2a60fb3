"""The index-scale bench at a tiny size, so that it does not rot: the generator's rows are the
ones ingest writes, every query kind of the bench finds what it should through a real core
(C-FIND, MWL, QIDO-RS, the web study list), and the core's own ingest still works after the
COPY (the id sequences were moved past the generated rows)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench.index_scale import fill, queries, run
from core_server import clock
from core_server.archive import ingest
from core_server.archive.objects import person_name_keys, pinyin_columns
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct
from tests.postgres import Cluster

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def filled(
    postgres: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, RunningCore]]:
    """A database filled with about 3,000 instances (a couple of dozen studies), and a core
    on it."""
    url = postgres.new_database()
    fill.fill(url, 3000, years=1)
    core = RunningCore(tmp_path_factory.mktemp("core") / "data", url).start()
    try:
        yield url, core
    finally:
        core.stop()


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(sql).fetchall()


def test_generated_rows_are_what_ingest_writes(filled: tuple[str, RunningCore]) -> None:
    url, _ = filled
    patients = _rows(
        url,
        "SELECT patient_name, patient_name_alpha, patient_name_ideo, patient_name_phon, "
        "patient_name_initials, patient_name_pinyin FROM patients",
    )
    assert len(patients) >= 5
    for name, alpha, ideo, phon, initials, spelled in patients:
        assert (alpha, ideo, phon) == person_name_keys(name)
        assert {"patient_name_initials": initials, "patient_name_pinyin": spelled} == (
            pinyin_columns(name)
        )
    counts = dict(
        _rows(
            url,
            "SELECT s.id, count(i.id) FROM studies s JOIN series se ON se.study_fk = s.id "
            "JOIN instances i ON i.series_fk = se.id GROUP BY s.id",
        )
    )
    assert sum(counts.values()) >= 3000
    # Every study has an exam with its accession number and UID, as a RIS-driven site has.
    unmatched = _rows(
        url,
        "SELECT count(*) FROM studies s LEFT JOIN ris_exams e ON "
        "e.study_instance_uid = s.study_instance_uid AND e.accession_number = s.accession_number"
        " WHERE e.id IS NULL",
    )
    assert unmatched == [(0,)]
    worklist = _rows(
        url, "SELECT count(*) FROM ris_exams WHERE status IN ('scheduled','arrived','in_progress')"
    )
    assert worklist == [(sum(fill.WORKLIST.values()),)]


@pytest.fixture(scope="module")
def registered(filled: tuple[str, RunningCore]) -> tuple[str, RunningCore]:
    """The filled core with the bench's AE title registered (once per module)."""
    filled[1].register(run.BENCH_AE, "127.0.0.1", 11112)
    return filled


def test_every_query_kind_finds_through_the_core(registered: tuple[str, RunningCore]) -> None:
    url, core = registered
    client = run.Client("127.0.0.1", core.dicom_port, core.ae_title, core.base_url, core.token())
    try:
        keys = queries.sample(url, clock.today())
        for kind in queries.kinds(keys):
            found = client.ask(kind, 0)
            if kind.name == "web_list_day_page2":
                assert found == 0, kind.name  # a day of the tiny index fits on one page
            else:
                assert found >= 1, kind.name
    finally:
        client.close()


def test_the_core_ingests_after_the_fill(filled: tuple[str, RunningCore]) -> None:
    url, core = filled
    before = _rows(url, "SELECT max(id) FROM instances")[0][0]
    stored = core.core.archive.store_instance(
        encode(make_ct(patient_id="AFTER-FILL")), ingest.Origin("test")
    )
    assert stored.outcome == "stored"
    assert _rows(url, "SELECT max(id) FROM instances")[0][0] == before + 1


def test_an_interrupted_fill_continues_where_it_stopped(postgres: Cluster, tmp_path: Path) -> None:
    url = postgres.new_database()
    first = fill.fill(url, 500, years=1)
    again = fill.fill(url, 500, years=1)
    assert again.added_instances == 0 and again.worklist_added == 0
    grown = fill.fill(url, 1500, years=1)
    assert grown.added_instances > 0
    assert grown.counts["instances"] >= 1500 > first.counts["instances"]


def test_archive_matching_plans_with_the_values(filled: tuple[str, RunningCore]) -> None:
    """The archive's matching asks PostgreSQL for custom plans in its transaction: a generic
    plan of a prepared statement walked the primary key for a day's StudyDate range."""
    from core_server import db
    from core_server.archive import query

    url, _ = filled
    engine = db.make_engine(url)
    try:
        with db.read(engine) as conn:
            list(query.find(conn, "STUDY", {"StudyDate": "20200101-20301231"}, limit=1))
            mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
        with db.read(engine) as conn:  # SET LOCAL: the next transaction has the default
            default = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
    finally:
        engine.dispose()
    assert (mode, default) == ("force_custom_plan", "auto")


def test_the_raw_requestor_counts_what_pynetdicom_finds(
    registered: tuple[str, RunningCore],
) -> None:
    """The bench's light C-FIND requestor (``--client raw``) counts as many answers as
    pynetdicom's for every C-FIND and MWL kind, on the same association each."""
    url, core = registered
    peer = ("127.0.0.1", core.dicom_port, core.ae_title, core.base_url, core.token())
    plain, raw = run.Client(*peer), run.Client(*peer, raw=True)
    try:
        keys = queries.sample(url, clock.today())
        for kind in queries.kinds(keys):
            if kind.service != "http":
                for i in range(3):
                    assert raw.ask(kind, i) == plain.ask(kind, i), kind.name
    finally:
        plain.close()
        raw.close()
