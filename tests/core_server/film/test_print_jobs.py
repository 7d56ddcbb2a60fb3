"""Film print jobs on SQLite and PostgreSQL: printed once to a real (pynetdicom) Print SCP,
retried and then failed with the printer's NO FILM, re-queued, cancelled; auto-forward of a
modality's sheet once, not when the exam is cloud film only; two workers print a job once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
from sqlalchemy import Engine, insert, select

from core_server import clock, db, jobs
from core_server.events import EventBus
from core_server.film.print_jobs import PRINTED, PrintJobs
from core_server.film.printers import Printers, PrinterSettings
from core_server.film.tables import film_sheets
from tests.core_server.film.print_peers import OwnPrinter, own_printer

FAST = jobs.Retry(first=0.0, longest=0.0, max_attempts=2)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def _sheet_file(folder: Path, pixels: np.ndarray) -> tuple[str, Path]:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = uid = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    path = folder / f"{uid}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return uid, path


def _add_sheet(engine: Engine, uid: str, *, modality: str = "CT", exam_id: int | None = 7) -> int:
    with db.write(engine) as conn:
        return int(
            conn.execute(
                insert(film_sheets)
                .values(
                    exam_id=exam_id,
                    modality=modality,
                    study_instance_uid="1.2.3",
                    series_instance_uid="1.2.3.4",
                    sop_instance_uid=uid,
                    source="modality",
                    calling_ae="CT1",
                    film_size="14INX17IN",
                    display_format="STANDARD\\2,2",
                    copies=1,
                    images=4,
                    created_at=clock.now(),
                )
                .returning(film_sheets.c.id)
            ).scalar_one()
        )


class World:
    def __init__(self, engine: Engine, folder: Path, port: int) -> None:
        self.engine = engine
        self.files: dict[str, Path] = {}
        self.events: list[dict[str, Any]] = []
        bus = EventBus()
        bus.subscribe("film.print_job", lambda _t, p: self.events.append(p["job"]))
        self.printers = Printers(engine)
        self.printer = self.printers.create(
            PrinterSettings("Laser 1", "OWNPRINTER", "127.0.0.1", port, modalities=["CT"])
        )
        self.jobs = PrintJobs(engine, bus, self.printers, self.files.get, retry=FAST)
        self.folder = folder

    def sheet(self, **kw: Any) -> int:
        pixels = (np.arange(30 * 40, dtype=np.uint32).reshape(30, 40) % 256).astype(np.uint8)
        uid, path = _sheet_file(self.folder, pixels)
        self.files[uid] = path
        return _add_sheet(self.engine, uid, **kw)


@pytest.fixture
def printer() -> Iterator[tuple[OwnPrinter, int]]:
    own = OwnPrinter()
    with own_printer(own) as port:
        yield own, port


def test_a_sheet_job_prints_and_marks_the_sheet_printed(
    engine: Engine, tmp_path: Path, printer: tuple[OwnPrinter, int]
) -> None:
    own, port = printer
    world = World(engine, tmp_path, port)
    sheet_id = world.sheet()
    job = world.jobs.submit(world.printer.id, 2, "doctor", sheet_ids=[sheet_id])
    assert job.status == jobs.PENDING
    assert world.jobs.run_due() == 1
    assert world.jobs.get(job.id).status == PRINTED
    assert own.printed == 1 and own.sessions[0].NumberOfCopies == 2
    sent = own.image_boxes[0].BasicGrayscaleImageSequence[0]
    assert (sent.Rows, sent.Columns) == (30, 40)
    assert own.film_boxes[0].ImageDisplayFormat == "STANDARD\\1,1"
    with db.read(engine) as conn:
        row = conn.execute(select(film_sheets).where(film_sheets.c.id == sheet_id)).one()
    assert (row.printer, row.printed_copies) == ("Laser 1", 2) and row.printed_at is not None
    assert [e["status"] for e in world.events][-2:] == ["running", PRINTED]
    assert world.printers.get(world.printer.id).status == "NORMAL"


def test_no_film_is_retried_then_failed_with_the_reason_and_requeued(
    engine: Engine, tmp_path: Path, printer: tuple[OwnPrinter, int]
) -> None:
    own, port = printer
    own.out_of_film = "event"
    world = World(engine, tmp_path, port)
    job = world.jobs.submit(world.printer.id, 1, "doctor", sheet_ids=[world.sheet()])
    world.jobs.run_due()  # first try fails, retried at once (FAST), second try gives up
    failed = world.jobs.get(job.id)
    assert (failed.status, failed.reason, failed.attempts) == (jobs.DEAD, "NO FILM", 2)
    assert "NO FILM" in failed.last_error
    said = world.printers.get(world.printer.id)
    assert (said.status, said.status_info) == ("FAILURE", "NO FILM")
    assert said.events[-1]["info"] == "NO FILM"
    own.out_of_film = ""  # film loaded
    again = world.jobs.requeue(job.id)
    assert (again.status, again.attempts, again.reason) == (jobs.PENDING, 0, "")
    assert world.jobs.run_due() == 1
    assert world.jobs.get(job.id).status == PRINTED


def test_cancel_and_refusals(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, 1)
    job = world.jobs.submit(world.printer.id, 1, "doctor", sheet_ids=[world.sheet()])
    assert world.jobs.cancel(job.id).status == "cancelled"
    assert world.jobs.run_due() == 0
    from core_server.refusals import Invalid

    with pytest.raises(Invalid):
        world.jobs.submit(world.printer.id, 0, "doctor", sheet_ids=[1])
    with pytest.raises(Invalid):
        world.jobs.submit(
            world.printer.id,
            1,
            "doctor",
            composition={
                "display_format": "STANDARD\\2,1",
                "images": [{"position": 3, "sop_instance_uid": "1.2"}],
            },
        )


def test_auto_forward_once_and_not_when_cloud_film_only(
    engine: Engine, tmp_path: Path, printer: tuple[OwnPrinter, int]
) -> None:
    own, port = printer
    world = World(engine, tmp_path, port)
    settings = PrinterSettings(
        "Laser 1",
        "OWNPRINTER",
        "127.0.0.1",
        port,
        modalities=["CT"],
        auto_forward=True,
        skip_cloud_film=True,
    )
    world.printers.update(world.printer.id, settings)
    world.sheet(modality="MR")  # no printer serves MR
    first = world.sheet(exam_id=7)
    world.jobs.set_cloud_only(8, True, "desk")
    world.sheet(exam_id=8)  # the patient takes cloud film only
    assert world.jobs.forward_new() == 1
    assert world.jobs.forward_new() == 0  # the cursor moved on
    assert [j.sheet_ids for j in world.jobs.recent()] == [[first]]
    assert world.jobs.run_due() == 1 and own.printed == 1


def test_two_workers_print_a_job_once(
    engine: Engine, tmp_path: Path, printer: tuple[OwnPrinter, int]
) -> None:
    own, port = printer
    world = World(engine, tmp_path, port)
    job = world.jobs.submit(world.printer.id, 1, "doctor", sheet_ids=[world.sheet()])
    other = PrintJobs(engine, EventBus(), world.printers, world.files.get, retry=FAST)
    other.owner = "elsewhere:1:1:test"
    done: list[int] = []
    threads = [
        threading.Thread(target=lambda w=w: done.append(w.run_due())) for w in (world.jobs, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(done) == [0, 1] and own.printed == 1
    assert world.jobs.get(job.id).status == PRINTED
