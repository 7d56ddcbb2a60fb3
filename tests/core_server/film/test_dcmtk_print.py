"""dcmtk prints to our Print SCP: ``dcmpsprt`` renders a small MONOCHROME2 image into a stored
print job (a Stored Print and a Hardcopy Grayscale Image in its database, STANDARD\\2,1 on
8INX10IN, one annotation), and ``dcmprscu``, with a ``dcmpstat.cfg`` naming our core as the
printer, sends it to the core's DICOM port. The session is answered without error, the sheet
is archived in the exam its annotation names, and its pixels are the layout, the film size,
the image in its box and the annotation in the band below. On SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from core_server.film import sheets
from core_server.film.annotations import band_height
from core_server.film.sheet import BORDER_PIXELS, FilmSheet, ImageBox, compose
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import patient
from tests.core_server.film.print_peers import DCMPSTAT_CFG

pytestmark = pytest.mark.skipif(
    shutil.which("dcmprscu") is None or shutil.which("dcmpsprt") is None,
    reason="dcmtk's dcmpsprt/dcmprscu not installed",
)
# 8x10 in at 26 dpi is 208 x 260 pixels: each STANDARD\2,1 box is 104 wide, 96 inside its
# border, so the 96-pixel-wide image is pasted at its own size and can be compared directly.
DPI = 26
ROWS, COLUMNS = 64, 96


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    running = RunningCore(tmp_path_factory.mktemp("dcmtk") / "data", url, film_dpi=DPI).start()
    try:
        yield running
    finally:
        running.stop()


def _image(path: Path) -> np.ndarray:
    """A small Secondary Capture with a known 8-bit gradient."""
    pixels = ((np.arange(ROWS * COLUMNS).reshape(ROWS, COLUMNS) * 7) % 256).astype(np.uint8)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "WANG^JIANGUO", "DCMTK-P", "OT"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = pixels.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return pixels


def _config(folder: Path, core: RunningCore) -> Path:
    """dcmpstat.cfg with one printer, our core (its AE title and port), with annotations."""
    for sub in ("database", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    text = DCMPSTAT_CFG.format(
        spool=folder / "spool", database=folder / "database", port=core.dicom_port
    )
    text = text.replace("Aetitle = TESTPRINTER", f"Aetitle = {core.ae_title}")
    text += "Annotation = 1\\ANNOTATION\n"
    config = folder / "dcmpstat.cfg"
    config.write_text(text, "ascii")
    return config


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_dcmprscu_prints_a_dcmpsprt_job_to_the_core(core: RunningCore, tmp_path: Path) -> None:
    engine = core.core.engine
    p = patient(core, f"P-DCMTK-{engine.dialect.name}", "王^建国")
    exam_id = p.exam("ct", status="in_progress", images=1)
    accession = p.accessions["ct"]
    original = _image(tmp_path / "image.dcm")
    config = _config(tmp_path, core)
    # -pd -pn -pl: the annotation is our text alone (no date, printer name, illumination).
    made = _run(
        "dcmpsprt", "-v", "-c", str(config), "-p", "TESTPRINTER", "--layout", "2", "1",
        "--filmsize", "8INX10IN", "-a", f"ACC {accession}", "-pd", "-pn", "-pl",
        str(tmp_path / "image.dcm"), cwd=tmp_path,
    )  # fmt: skip
    assert "does not support annotations" not in made.stderr
    (stored_print,) = (tmp_path / "database").glob("SP_*.dcm")
    (hardcopy,) = (tmp_path / "database").glob("HG_*.dcm")
    sent = _run(
        "dcmprscu", "-v", "-c", str(config), "-p", "TESTPRINTER", str(stored_print), cwd=tmp_path
    )
    assert "Association accepted" in sent.stderr
    assert not [line for line in sent.stderr.splitlines() if line.startswith(("E:", "F:"))]

    (row,) = sheets.sheets_of_exams(engine, [exam_id])[exam_id]  # matched by the annotation
    assert (row.display_format, row.film_size, row.images, row.calling_ae) == (
        "STANDARD\\2,1",
        "8INX10IN",
        1,
        "DCMPSTAT",
    )
    (found,) = core.core.archive.locate({"SOPInstanceUID": row.sop_instance_uid})
    ds = dcmread(found.path)
    exam = core.core.ris.exam(exam_id)
    assert ds.AccessionNumber == accession
    assert ds.StudyInstanceUID in (*exam.studies, exam.study_instance_uid)  # the exam's study
    picture = ds.pixel_array
    width, height = 208, 260  # 8x10 in at 26 dpi
    assert picture.shape == (height + band_height(DPI), width)

    # The film above the band is compose() of what dcmtk sent (its 12-bit hardcopy image).
    hg = dcmread(hardcopy)
    sheet = FilmSheet(
        "STANDARD\\2,1", "8INX10IN", images=[ImageBox(1, hg.pixel_array, bits_stored=12)]
    )
    assert np.array_equal(picture[:height], np.asarray(compose(sheet, DPI)))
    # The image at its own size in box 1 (left half, centred): dcmtk's 8->12 bit step
    # (v * 16) and back leave each value within 1 of the original.
    top, left = (height - ROWS) // 2, BORDER_PIXELS
    box = picture[top : top + ROWS, left : left + COLUMNS].astype(int)
    assert np.abs(box - original.astype(int)).max() <= 1
    assert not picture[:height, width // 2 :].any()  # box 2 empty, border black
    band = picture[height:]
    assert band[:, : width // 4].max() > 128  # the text, light on black, in position 1
    assert not band[:, width // 4 :].any()  # nothing at the other positions
