"""The migrations 0003_ris, 0012_ris_search, 0050_ris_names_and_times and
0008_modalities_charset create exactly what ``core_server.ris.tables`` and the modality
registry's table declare, on both databases; 0050 converts what was there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event

from core_server import db
from core_server.modalities import tables as modality_tables  # noqa: F401  (compared)
from core_server.ris import (
    patients,
    tables,
)


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                difference
                for difference in compare_metadata(context, db.metadata)
                if "ris_" in repr(difference) or "ascii_only" in repr(difference)
            ]
    finally:
        engine.dispose()
    assert differences == []


def test_patient_search_walks_indexes_not_the_whole_table(tmp_path: Path) -> None:
    """Every term of the registrars' search (ID, ID card, phone, name/pinyin/initials prefix)
    is answered from an index: SQLite's plan has no full scan of the patients."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    executed: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:  # before_cursor_execute(conn, cursor, statement, params...)
        executed.append((args[2], args[3]))

    event.listen(engine, "before_cursor_execute", capture)
    with db.read(engine) as conn:
        patients.search(conn, text="zhang_s%")
        statement, parameters = next(e for e in executed if "FROM ris_patients" in e[0])
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    engine.dispose()
    details = [str(row[-1]) for row in plan]
    assert not any(d.startswith("SCAN ris_patients") for d in details), details
    for index in ("name", "name_pinyin", "name_initials", "phone", "id_card_number"):
        assert any(f"ix_ris_patients_{index} " in d for d in details), (index, details)


def test_search_by_display_name_and_spelled_pinyin_walks_indexes(tmp_path: Path) -> None:
    """The name and pinyin prefixes added for patients registered by HL7 (单^雪梅 found by
    单雪, shanx) are answered from their indexes too."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    executed: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute", lambda *a: executed.append((a[2], a[3])))
    plans = {}
    with db.read(engine) as conn:
        for text in ("单雪", "shan xue"):
            executed.clear()
            patients.search(conn, text=text)
            statement, parameters = next(e for e in executed if "FROM ris_patients" in e[0])
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plans[text] = [str(row[-1]) for row in rows]
    engine.dispose()
    for text, details in plans.items():
        assert not any(d.startswith("SCAN ris_patients") for d in details), (text, details)
    assert any("ix_ris_patients_name_shown " in d for d in plans["单雪"]), plans
    assert any("ix_ris_patients_name_spelled " in d for d in plans["shan xue"]), plans


def test_names_and_wall_clock_times_are_migrated(database_url: str) -> None:
    """0050: a DICOM-shaped name becomes components + pinyin, every patient gets its search
    columns, and the naive hospital wall-clock times become UTC moments."""
    from alembic import command
    from sqlalchemy import MetaData, insert, select

    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0012_ris_search")
    old = MetaData()
    old.reflect(engine, only=["ris_patients", "ris_orders", "ris_exams", "ris_appointments"])
    wall = datetime(2026, 12, 8, 14, 30)  # the hospital's 14:30
    stamp = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
    t = old.tables
    with engine.begin() as conn:
        conn.execute(
            insert(t["ris_patients"]),
            [
                _patient(1, "SHAN^XUEMEI=单^雪梅", "", stamp),
                _patient(2, "王^建国", "WANG^JIANGUO", stamp),
            ],
        )
        conn.execute(
            insert(t["ris_orders"]).values(
                id=1,
                patient_fk=1,
                placer_order_number="O1",
                filler_order_number="F1",
                priority="ROUTINE",
                status="active",
                created_by="t",
                created_at=stamp,
            )
        )
        conn.execute(
            insert(t["ris_exams"]).values(
                id=1,
                order_fk=1,
                patient_fk=1,
                accession_number="A1",
                requested_procedure_id="A1",
                scheduled_step_id="A1",
                study_instance_uid="1.2.3",
                procedure_code="CT-CHEST",
                procedure_name="胸部CT平扫",
                modality="CT",
                scheduled_at=wall,
                status="scheduled",
                status_at=stamp,
                status_by="t",
                created_at=stamp,
            )
        )
        conn.execute(
            insert(t["ris_appointments"]).values(
                exam_fk=1, room="CT1", start=wall, booked_by="t", booked_at=stamp
            )
        )
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            names = conn.execute(
                select(
                    tables.ris_patients.c.name,
                    tables.ris_patients.c.name_pinyin,
                    tables.ris_patients.c.name_shown,
                    tables.ris_patients.c.name_spelled,
                    tables.ris_patients.c.name_initials,
                ).order_by(tables.ris_patients.c.id)
            ).all()
            scheduled = conn.execute(select(tables.ris_exams.c.scheduled_at)).scalar_one()
            start = conn.execute(select(tables.ris_appointments.c.start)).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(n) for n in names] == [
        ("单^雪梅", "SHAN^XUEMEI", "单雪梅", "SHANXUEMEI", "SXM"),
        ("王^建国", "WANG^JIANGUO", "王建国", "WANGJIANGUO", "WJG"),
    ]
    assert scheduled == start == datetime(2026, 12, 8, 6, 30, tzinfo=UTC)


def _patient(key: int, name: str, spelled: str, stamp: datetime) -> dict[str, Any]:
    return {
        "id": key,
        "patient_id": f"P{key}",
        "issuer": "",
        "name": name,
        "name_pinyin": spelled,
        "name_initials": "",
        "created_at": stamp,
        "updated_at": stamp,
    }
