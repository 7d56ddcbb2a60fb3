"""The report output service on each database (SQLite and PostgreSQL): archiving rows claimed
and stored once, enqueueing twice changes nothing, the print log and reprint grants."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import delete, update

from core_server import auth, db
from core_server.archive import Archive
from core_server.archive.tables import instances
from core_server.events import EventBus
from core_server.reporting import REPORT_SIGNED, Forbidden, NotFound, Reporting, ReportingError
from core_server.reporting.output import ReportOutput, report_print_log
from core_server.ris import Ris
from tests.core_server.reporting.output_data import signed_report


def build(database_url: str, tmp_path: Path) -> Iterator[Any]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "storage", bus)
    ris = Ris(engine, bus, archive)
    ris.start()
    reporting = Reporting(engine, bus, ris, archive)
    output = ReportOutput(engine, archive, ris, hospital="测试医院", public_url="https://pacs.test")
    bus.subscribe(REPORT_SIGNED, output.on_report_signed)
    try:
        yield SimpleNamespace(
            core=SimpleNamespace(
                engine=engine, ris=ris, reporting=reporting, archive=archive, report_output=output
            )
        )
    finally:
        engine.dispose()


@pytest.fixture
def parts(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """On SQLite and PostgreSQL in turn."""
    yield from build(database_url, tmp_path)


@pytest.fixture
def sqlite_parts(tmp_path: Path) -> Iterator[Any]:
    """SQLite only: for what does not depend on the database."""
    yield from build(f"sqlite:///{tmp_path / 'core.db'}", tmp_path)


def test_archiving_and_printing_on_each_database(parts: Any) -> None:
    signed = signed_report(parts, "P-SVC-1")
    output: ReportOutput = parts.core.report_output
    pending = output.objects(signed.report.id)
    # noted by the event: SR, PDF and the key image's Key Object Selection
    assert sorted((o.kind, o.status) for o in pending) == [
        ("ko", "pending"),
        ("pdf", "pending"),
        ("sr", "pending"),
    ]
    assert output.enqueue(signed.report.id) == pending  # again: nothing new
    assert output.sweep() == 0
    assert output.run_due() == 3 and output.run_due() == 0
    stored = output.objects(signed.report.id)
    assert {o.status for o in stored} == {"stored"}
    for obj in stored:
        assert parts.core.archive.locate(
            {"StudyInstanceUID": obj.study_instance_uid, "SOPInstanceUID": obj.sop_instance_uid}
        )

    engine = parts.core.engine
    registrar = auth.get_user(engine, "wang.registrar")
    other = auth.get_user(engine, "zhou.registrar")
    clinician = auth.get_user(engine, "liu.clinician")
    pdf, first = output.print_report(signed.report.id, registrar, copies=2)
    assert pdf.startswith(b"%PDF-") and not first.reprint and first.copies == 2
    assert output.url(signed.exam.accession_number).startswith("https://pacs.test/reports/view?")
    with pytest.raises(Forbidden):
        output.print_report(signed.report.id, other, reason="遗失")
    with pytest.raises(Forbidden):
        output.print_report(signed.report.id, clinician)
    with pytest.raises(ReportingError):
        output.print_report(signed.report.id, registrar, copies=0)
    output.grant_reprint("zhou.registrar", by="admin", note="组长")
    assert [g.username for g in output.reprint_grants()] == ["zhou.registrar"]
    with pytest.raises(ReportingError):
        output.print_report(signed.report.id, other)  # a reprint says why
    _pdf, again = output.print_report(signed.report.id, other, reason="遗失")
    assert again.reprint and again.reason == "遗失"
    assert [(p.username, p.reprint) for p in output.print_log(signed.report.id)] == [
        ("wang.registrar", False),
        ("zhou.registrar", True),
    ]
    output.revoke_reprint("zhou.registrar", by="admin")
    assert output.reprint_grants() == []

    # A browser logs the print first and then fetches its PDF: only its own, only shortly.
    admin = auth.create_user(engine, "it.admin", "Admin-password-1", "admin")
    empty, logged = output.print_report(signed.report.id, admin, reason="破损", render=False)
    assert empty == b"" and logged.reprint
    assert output.printed_pdf(logged.id, admin).startswith(b"%PDF-")
    with pytest.raises(NotFound):
        output.printed_pdf(logged.id, registrar)
    with db.write(engine) as conn:
        conn.execute(
            update(report_print_log)
            .where(report_print_log.c.id == logged.id)
            .values(printed_at=datetime.now(UTC) - timedelta(minutes=11))
        )
    with pytest.raises(Forbidden):
        output.printed_pdf(logged.id, admin)


def test_a_site_layout_and_logo_for_a_department(sqlite_parts: Any, tmp_path: Path) -> None:
    parts = sqlite_parts
    site = tmp_path / "report_layouts"
    site.mkdir()
    (site / "RAD.html").write_text(
        '{% extends "base.html" %}\n{% set title = "放射科影像诊断报告书" %}\n', encoding="utf-8"
    )
    logo = Image.new("RGB", (120, 120), (200, 30, 30))
    logo.save(site / "logo.png")
    output: ReportOutput = parts.core.report_output
    output.site_dir = site
    signed = signed_report(parts, "P-SVC-2", name="冯十二")
    registrar = auth.get_user(parts.core.engine, "wang.registrar")
    pdf, _record = output.print_report(signed.report.id, registrar)
    (tmp_path / "site.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "site.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "放射科影像诊断报告书" in text and "冯十二" in text and "CT 检查报告单" not in text
    listing = subprocess.run(
        ["pdfimages", "-list", str(tmp_path / "site.pdf")], capture_output=True, text=True
    ).stdout
    sizes = {(row.split()[3], row.split()[4]) for row in listing.splitlines()[2:] if row.strip()}
    assert ("120", "120") in sizes  # the logo, beside the key image


def test_key_images_gone_from_the_archive_are_skipped_not_retried(sqlite_parts: Any) -> None:
    """A Key Object Selection needs its images: when none is in the archive any more, its job
    ends as skipped (said why) and the SR and PDF are stored all the same."""
    output: ReportOutput = sqlite_parts.core.report_output
    signed = signed_report(sqlite_parts, "P-SVC-KO")
    with db.write(sqlite_parts.core.engine) as conn:
        conn.execute(delete(instances).where(instances.c.sop_instance_uid == signed.image_uids[0]))
    assert output.run_due() == 2
    done = {o.kind: o for o in output.objects(signed.report.id)}
    assert (done["ko"].status, done["ko"].last_error) == (
        "skipped",
        "no key image is in the archive",
    )
    assert done["sr"].status == done["pdf"].status == "stored"
    assert output.run_due() == 0


def test_objects_a_dead_process_was_storing_are_stored_after_a_restart(parts: Any) -> None:
    """A core killed while storing an archived object held its row with a 5-minute lease: the
    restarted core takes it back at start, not 5 minutes later."""
    from core_server.jobs import owners
    from core_server.reporting.output.archiving import QUEUE
    from core_server.reporting.output.models import LEASE

    output: ReportOutput = parts.core.report_output
    signed = signed_report(parts, "P-SVC-DEAD")
    child = subprocess.Popen(["true"])
    child.wait()
    dead = f"{owners._host()}:{child.pid}:1:0000dead"
    held = QUEUE.claim_next(parts.core.engine, dead, LEASE)
    assert held is not None and owners.is_gone(dead)
    assert output.run_due() == 2  # the held one waits for its lease
    output.start(interval=3600)  # releases what the dead process held; its worker stores it
    try:
        deadline = time.monotonic() + 30
        while {o.status for o in output.objects(signed.report.id)} != {"stored"}:
            assert time.monotonic() < deadline, output.objects(signed.report.id)
            time.sleep(0.05)
    finally:
        output.stop()
