"""The Print SCP on the DICOM port: a pynetdicom Print SCU of our own prints a STANDARD\\2,2
film of four known images; the archived Secondary Capture equals ``compose()`` of what was sent,
pixel for pixel, in the exam's study; bad requests get their statuses; MPPS and storage
commitment still answer beside it. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import ModalityPerformedProcedureStep, StorageCommitmentPushModel

from core_server.film import print_scp as scp
from core_server.film import sheets
from core_server.film.sheet import FilmSheet, ImageBox, compose
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import patient

DPI = 30
IMAGES: list[tuple[np.ndarray, int, str]] = [
    (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) % 4096, 12, "MONOCHROME2"),
    (np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1)), 8, "MONOCHROME1"),
    (np.full((20, 40), 200, np.uint8), 8, "MONOCHROME2"),
    (np.eye(16, dtype=np.uint8) * 255, 8, "MONOCHROME2"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    running = RunningCore(tmp_path_factory.mktemp("print") / "data", url, film_dpi=DPI).start()
    try:
        yield running
    finally:
        running.stop()


def _associate(core: RunningCore, ae_title: str = "CT01", *extra: str):  # type: ignore[no-untyped-def]
    ae = AE(ae_title=ae_title)
    ae.dimse_timeout = 10
    ae.add_requested_context(scp.GRAYSCALE_META)
    for uid in extra:
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", core.dicom_port, ae_title=core.ae_title)
    assert assoc.is_established
    return assoc


def _image(pixels: np.ndarray, bits: int, photometric: str) -> Dataset:
    item = Dataset()
    item.SamplesPerPixel = 1
    item.PhotometricInterpretation = photometric
    item.Rows, item.Columns = pixels.shape
    item.BitsAllocated = 8 if bits == 8 else 16
    item.BitsStored, item.HighBit, item.PixelRepresentation = bits, bits - 1, 0
    item.PixelData = pixels.astype(np.uint8 if bits == 8 else "<u2").tobytes()
    mods = Dataset()
    mods.BasicGrayscaleImageSequence = Sequence([item])
    return mods


def _film_session(assoc) -> str:  # type: ignore[no-untyped-def]
    attrs = Dataset()
    attrs.NumberOfCopies = "1"
    attrs.MediumType = "BLUE FILM"
    uid = generate_uid()
    status, reply = assoc.send_n_create(attrs, scp.FILM_SESSION, uid, meta_uid=scp.GRAYSCALE_META)
    assert status.Status == 0 and reply.MediumType == "BLUE FILM"
    return uid


def _film_box(assoc, session_uid: str, **values: object) -> tuple[int, Dataset | None]:  # type: ignore[no-untyped-def]
    attrs = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID = scp.FILM_SESSION
    ref.ReferencedSOPInstanceUID = session_uid
    attrs.ReferencedFilmSessionSequence = Sequence([ref])
    attrs.ImageDisplayFormat = "STANDARD\\2,2"
    attrs.FilmOrientation = "PORTRAIT"
    attrs.FilmSizeID = "8INX10IN"
    attrs.MagnificationType = "REPLICATE"
    for key, value in values.items():
        setattr(attrs, key, value)
    status, reply = assoc.send_n_create(
        attrs, scp.FILM_BOX, "1.2.826.0.1.3680043.2.1.77", meta_uid=scp.GRAYSCALE_META
    )
    return int(status.Status), reply


def test_a_printed_film_is_archived_in_the_exams_study(core: RunningCore) -> None:
    p = patient(core, f"P-PRINT-{core.core.engine.dialect.name}")
    exam_id = p.exam("ct", status="in_progress", images=1)
    exam = core.core.ris.exam(exam_id)
    image_uid = core.core.archive.locate({"StudyInstanceUID": exam.study_instance_uid})[0]
    assoc = _associate(core)
    try:
        status, printer = assoc.send_n_get(
            [0x21100010, 0x21100030], scp.PRINTER, scp.PRINTER_INSTANCE, meta_uid=scp.GRAYSCALE_META
        )
        assert status.Status == 0 and printer.PrinterStatus == "NORMAL"
        session_uid = _film_session(assoc)
        code, reply = _film_box(assoc, session_uid)
        assert code == 0 and reply is not None
        boxes = reply.ReferencedImageBoxSequence
        assert len(boxes) == 4
        for box, (pixels, bits, photometric) in zip(boxes, IMAGES, strict=True):
            mods = _image(pixels, bits, photometric)
            if box is boxes[0]:  # the modality names the image it printed
                ref = Dataset()
                ref.ReferencedSOPClassUID = image_uid.sop_class_uid
                ref.ReferencedSOPInstanceUID = image_uid.sop_instance_uid
                mods.ReferencedImageSequence = Sequence([ref])
            status, _ = assoc.send_n_set(
                mods,
                scp.GRAYSCALE_IMAGE_BOX,
                box.ReferencedSOPInstanceUID,
                meta_uid=scp.GRAYSCALE_META,
            )
            assert status.Status == 0
        status, _ = assoc.send_n_action(
            None, 1, scp.FILM_BOX, "1.2.826.0.1.3680043.2.1.77", meta_uid=scp.GRAYSCALE_META
        )
        assert status.Status == 0
        status = assoc.send_n_delete(scp.FILM_SESSION, session_uid, meta_uid=scp.GRAYSCALE_META)
        assert status.Status == 0
    finally:
        assoc.release()
    (row,) = sheets.sheets_of_exams(core.core.engine, [exam_id])[exam_id]
    assert row.source == "modality" and row.calling_ae == "CT01" and row.images == 4
    assert row.study_instance_uid == exam.study_instance_uid
    assert sheets.sheet_count(core.core.engine, exam_id) == 1
    (stored,) = core.core.archive.locate({"SOPInstanceUID": row.sop_instance_uid})
    ds = dcmread(stored.path)
    assert ds.StudyInstanceUID == exam.study_instance_uid
    assert ds.AccessionNumber == exam.accession_number and ds.PatientID == exam.patient_id
    sent = FilmSheet(
        display_format="STANDARD\\2,2",
        film_size="8INX10IN",
        magnification="REPLICATE",
        images=[
            ImageBox(n, pixels, photometric=photometric, bits_stored=bits)  # type: ignore[arg-type]
            for n, (pixels, bits, photometric) in enumerate(IMAGES, start=1)
        ],
    )
    assert np.array_equal(ds.pixel_array, np.asarray(compose(sent, DPI)))


def test_bad_print_requests_get_their_statuses(core: RunningCore) -> None:
    assoc = _associate(core)
    try:
        code, _ = _film_box(assoc, "1.2.3")  # before any film session
        assert code == 0x0106
        session_uid = _film_session(assoc)
        assert _film_box(assoc, session_uid, FilmSizeID="99INX99IN")[0] == 0x0106
        assert _film_box(assoc, session_uid, ImageDisplayFormat="SLIDE\\1")[0] == 0x0106
        status, _ = assoc.send_n_set(
            _image(np.zeros((4, 4), np.uint8), 8, "MONOCHROME2"),
            scp.GRAYSCALE_IMAGE_BOX,
            "1.2.3.4.5",
            meta_uid=scp.GRAYSCALE_META,
        )
        assert status.Status == 0x0112
        status, _ = assoc.send_n_action(
            None, 1, scp.FILM_SESSION, session_uid, meta_uid=scp.GRAYSCALE_META
        )
        assert status.Status == 0xC600  # no film box
    finally:
        assoc.release()


def test_unmatched_film_is_a_film_without_exam(core: RunningCore) -> None:
    assoc = _associate(core, "WS99")
    try:
        session_uid = _film_session(assoc)
        code, reply = _film_box(assoc, session_uid, ImageDisplayFormat="STANDARD\\1,1")
        assert code == 0 and reply is not None
        (box,) = reply.ReferencedImageBoxSequence
        status, _ = assoc.send_n_set(
            _image(np.full((8, 8), 128, np.uint8), 8, "MONOCHROME2"),
            scp.GRAYSCALE_IMAGE_BOX,
            box.ReferencedSOPInstanceUID,
            meta_uid=scp.GRAYSCALE_META,
        )
        assert status.Status == 0
        status, _ = assoc.send_n_action(
            None, 1, scp.FILM_SESSION, session_uid, meta_uid=scp.GRAYSCALE_META
        )
        assert status.Status == 0
    finally:
        assoc.release()
    unmatched = [s for s in sheets.unmatched_sheets(core.core.engine) if s.calling_ae == "WS99"]
    assert len(unmatched) == 1 and unmatched[0].exam_id is None


def test_mpps_and_commitment_still_answer_beside_print(core: RunningCore) -> None:
    core.register("CT02")
    assoc = _associate(core, "CT02", ModalityPerformedProcedureStep, StorageCommitmentPushModel)
    try:
        mods = Dataset()
        mods.PerformedProcedureStepStatus = "COMPLETED"
        status, _ = assoc.send_n_set(mods, ModalityPerformedProcedureStep, "1.2.3.999")
        assert status.Status == 0x0112  # an MPPS the RIS does not know, not a print object
        status, _ = assoc.send_n_get(
            [0x21100010], scp.PRINTER, "1.2.3", meta_uid=scp.GRAYSCALE_META
        )
        assert status.Status == 0x0112
    finally:
        assoc.release()
