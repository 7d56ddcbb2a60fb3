"""Film sheets for the cloud-film, grading and statistics tests (no tests here): a sheet
composed by ``film.sheet.compose`` from small gradients, archived as a Secondary Capture
through the one ingest path, and its ``film_sheets`` row, as the Print SCP would leave them."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
from sqlalchemy import Engine, insert

from core_server import clock, db
from core_server.archive import Archive, Origin
from core_server.film.sheet import FilmSheet, ImageBox, compose
from core_server.film.tables import film_sheets
from tests.dicom_data import encode


def sheet_dataset(
    study_uid: str, patient_id: str, accession: str, *, dpi: int = 20, display: str = "2,2"
) -> Dataset:
    boxes = [
        ImageBox(n, np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)) // n) for n in range(1, 5)
    ]
    film = FilmSheet(display_format=f"STANDARD\\{display}", images=boxes)
    pixels = np.asarray(compose(film, dpi))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID = patient_id
    ds.PatientName = "WANG^JIANGUO"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.AccessionNumber = accession
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20261128", "090000", "1"
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    return ds


def add_sheet(
    engine: Engine,
    archive: Archive | None,
    exam_id: int | None,
    *,
    study_uid: str = "",
    patient_id: str = "P1",
    accession: str = "",
    modality: str = "CT",
    dpi: int = 20,
    created: datetime | None = None,
    printed: bool = False,
    copies: int = 1,
    printed_copies: int | None = None,
) -> int:
    """One sheet row (and, given an archive, its archived picture); its id."""
    study = study_uid or generate_uid()
    ds = sheet_dataset(study, patient_id, accession, dpi=dpi)
    if archive is not None:
        archive.store_instance(encode(ds), Origin("test"))
    at = created or clock.now()
    with db.write(engine) as conn:
        key = conn.execute(
            insert(film_sheets).values(
                exam_id=exam_id,
                accession_number=accession,
                patient_id=patient_id,
                modality=modality,
                study_instance_uid=study,
                series_instance_uid=ds.SeriesInstanceUID,
                sop_instance_uid=ds.SOPInstanceUID,
                source="modality",
                calling_ae="CT01",
                film_size="14INX17IN",
                display_format="STANDARD\\2,2",
                copies=copies,
                images=4,
                created_at=at,
                printed_at=at if printed else None,
                printer="DRYVIEW" if printed else None,
                printed_copies=(copies if printed else 0)
                if printed_copies is None
                else printed_copies,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])
