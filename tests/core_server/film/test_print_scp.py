"""The Print Management objects of one association, without the network: what a film session
prints and the statuses of bad requests."""

from __future__ import annotations

import numpy as np
from pydicom import Dataset
from pydicom.sequence import Sequence

from core_server.film import print_scp as scp
from core_server.film.print_scp import PrintedFilm, PrintSession


def _session(printed: list[PrintedFilm]) -> tuple[PrintSession, str]:
    session = PrintSession(printed.append, calling_ae="CT01")
    attrs = Dataset()
    attrs.NumberOfCopies = 2
    attrs.FilmSessionLabel = "A100"
    status, reply = session.create(scp.FILM_SESSION, None, attrs)
    assert status.Status == 0 and reply is not None
    return session, str(reply.AffectedSOPInstanceUID)


def _film_box(session: PrintSession, session_uid: str, **values: object) -> Dataset:
    attrs = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID = scp.FILM_SESSION
    ref.ReferencedSOPInstanceUID = session_uid
    attrs.ReferencedFilmSessionSequence = Sequence([ref])
    attrs.ImageDisplayFormat = "STANDARD\\2,2"
    for key, value in values.items():
        setattr(attrs, key, value)
    status, reply = session.create(scp.FILM_BOX, "1.2.3.4", attrs)
    assert status.Status == 0, status
    assert reply is not None
    return reply


def _grayscale(pixels: np.ndarray, *, bits: int = 8, photometric: str = "MONOCHROME2") -> Dataset:
    item = Dataset()
    item.SamplesPerPixel = 1
    item.PhotometricInterpretation = photometric
    item.Rows, item.Columns = pixels.shape
    item.BitsAllocated = 8 if bits == 8 else 16
    item.BitsStored = bits
    item.HighBit = bits - 1
    item.PixelRepresentation = 0
    item.PixelData = pixels.astype(np.uint8 if bits == 8 else "<u2").tobytes()
    mods = Dataset()
    mods.BasicGrayscaleImageSequence = Sequence([item])
    return mods


def test_a_film_box_prints_its_four_images() -> None:
    printed: list[PrintedFilm] = []
    session, uid = _session(printed)
    reply = _film_box(session, uid, FilmSizeID="8INX10IN", FilmOrientation="LANDSCAPE")
    boxes = reply.ReferencedImageBoxSequence
    assert len(boxes) == 4
    assert {b.ReferencedSOPClassUID for b in boxes} == {scp.GRAYSCALE_IMAGE_BOX}
    images = [np.full((8, 8), 40 * (i + 1), np.uint8) for i in range(4)]
    for box, pixels in zip(boxes, images, strict=True):
        status, _ = session.set(
            scp.GRAYSCALE_IMAGE_BOX, box.ReferencedSOPInstanceUID, _grayscale(pixels)
        )
        assert status.Status == 0
    status, _ = session.action(scp.FILM_BOX, "1.2.3.4", 1)
    assert status.Status == 0
    (film,) = printed
    assert film.copies == 2 and film.calling_ae == "CT01"
    assert film.session["FilmSessionLabel"] == "A100"
    assert film.sheet.film_size == "8INX10IN" and film.sheet.orientation == "LANDSCAPE"
    by_position = {i.position: i.pixels for i in film.sheet.images}
    assert sorted(by_position) == [1, 2, 3, 4]
    for position, pixels in enumerate(images, start=1):
        assert np.array_equal(by_position[position], pixels)


def test_twelve_bit_monochrome1_and_hints() -> None:
    printed: list[PrintedFilm] = []
    session, uid = _session(printed)
    reply = _film_box(session, uid, AccessionNumber="ACC9")
    first = reply.ReferencedImageBoxSequence[0].ReferencedSOPInstanceUID
    pixels = np.array([[0, 4095], [2048, 100]], np.uint16)
    mods = _grayscale(pixels, bits=12, photometric="MONOCHROME1")
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = "1.2.3.99"
    mods.ReferencedImageSequence = Sequence([ref])
    assert session.set(scp.GRAYSCALE_IMAGE_BOX, first, mods)[0].Status == 0
    assert session.action(scp.FILM_SESSION, uid, 1)[0].Status == 0
    (film,) = printed
    (image,) = film.sheet.images
    assert image.bits_stored == 12 and image.photometric == "MONOCHROME1"
    assert np.array_equal(image.pixels, pixels)
    assert film.hints == {"AccessionNumber": "ACC9"}
    assert film.referenced_images == ["1.2.3.99"]


def test_colour_boxes_take_rgb_planes() -> None:
    printed: list[PrintedFilm] = []
    session, uid = _session(printed)
    attrs = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID = scp.FILM_SESSION
    ref.ReferencedSOPInstanceUID = uid
    attrs.ReferencedFilmSessionSequence = Sequence([ref])
    attrs.ImageDisplayFormat = "STANDARD\\1,1"
    status, reply = session.create(scp.FILM_BOX, None, attrs, meta=scp.COLOR_META)
    assert status.Status == 0 and reply is not None
    (box,) = reply.ReferencedImageBoxSequence
    assert box.ReferencedSOPClassUID == scp.COLOR_IMAGE_BOX
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    item = Dataset()
    item.SamplesPerPixel = 3
    item.PhotometricInterpretation = "RGB"
    item.PlanarConfiguration = 1
    item.Rows, item.Columns = 2, 3
    item.BitsAllocated = item.BitsStored = 8
    item.HighBit = 7
    item.PixelRepresentation = 0
    item.PixelData = rgb.transpose(2, 0, 1).tobytes()
    mods = Dataset()
    mods.BasicColorImageSequence = Sequence([item])
    # the grayscale class on a colour box is a class-instance conflict
    assert session.set(scp.GRAYSCALE_IMAGE_BOX, box.ReferencedSOPInstanceUID, mods)[0].Status == (
        0x0119
    )
    assert session.set(scp.COLOR_IMAGE_BOX, box.ReferencedSOPInstanceUID, mods)[0].Status == 0
    assert session.action(scp.FILM_BOX, str(reply.AffectedSOPInstanceUID), 1)[0].Status == 0
    assert printed[0].sheet.color
    assert np.array_equal(printed[0].sheet.images[0].pixels, rgb)


def test_bad_requests_get_their_statuses() -> None:
    printed: list[PrintedFilm] = []
    session = PrintSession(printed.append, calling_ae="CT01")
    no_session = Dataset()
    no_session.ImageDisplayFormat = "STANDARD\\1,1"
    assert session.create(scp.FILM_BOX, None, no_session)[0].Status == 0x0120  # no reference
    bad_copies = Dataset()
    bad_copies.NumberOfCopies = 500
    assert session.create(scp.FILM_SESSION, None, bad_copies)[0].Status == 0x0106
    session, uid = _session(printed)
    assert session.create(scp.FILM_SESSION, None, Dataset())[0].Status == 0x0111
    ref = Dataset()
    ref.ReferencedSOPInstanceUID = uid
    for fmt, size, code in (
        ("", "A4", 0x0120),
        ("SLIDE", "A4", 0x0106),
        ("STANDARD\\2,2", "99INX99IN", 0x0106),
    ):
        attrs = Dataset()
        attrs.ReferencedFilmSessionSequence = Sequence([ref])
        if fmt:
            attrs.ImageDisplayFormat = fmt
        attrs.FilmSizeID = size
        status, reply = session.create(scp.FILM_BOX, None, attrs)
        assert status.Status == code and reply is None
    assert session.set(scp.GRAYSCALE_IMAGE_BOX, "9.9.9", Dataset())[0].Status == 0x0112
    reply = _film_box(session, uid)
    box = reply.ReferencedImageBoxSequence[0].ReferencedSOPInstanceUID
    assert session.set(scp.GRAYSCALE_IMAGE_BOX, box, Dataset())[0].Status == 0x0120
    wrong = _grayscale(np.zeros((4, 4), np.uint8))
    wrong.BasicGrayscaleImageSequence[0].BitsStored = 10
    assert session.set(scp.GRAYSCALE_IMAGE_BOX, box, wrong)[0].Status == 0x0106
    short = _grayscale(np.zeros((4, 4), np.uint8))
    short.BasicGrayscaleImageSequence[0].PixelData = b"\0" * 3
    status, _ = session.set(scp.GRAYSCALE_IMAGE_BOX, box, short)
    assert status.Status == 0x0106 and "shorter" in status.ErrorComment
    assert session.action(scp.FILM_BOX, "1.2.3.4", 1)[0].Status == 0xB603  # empty page
    assert session.action(scp.FILM_BOX, "1.2.3.4", 7)[0].Status == 0x0123
    assert session.action(scp.FILM_BOX, "7.7.7", 1)[0].Status == 0x0112
    assert session.delete("1.2.3.4.5.6", "1")[0].Status == 0x0118
    assert not printed


def test_a_failing_printer_is_a_processing_failure() -> None:
    def broken(film: PrintedFilm) -> None:
        raise OSError("disk full")

    session = PrintSession(broken)
    _, reply = session.create(scp.FILM_SESSION, None, Dataset())
    assert reply is not None
    box = _film_box(session, str(reply.AffectedSOPInstanceUID))
    first = box.ReferencedImageBoxSequence[0].ReferencedSOPInstanceUID
    session.set(scp.GRAYSCALE_IMAGE_BOX, first, _grayscale(np.zeros((2, 2), np.uint8)))
    status, _ = session.action(scp.FILM_BOX, "1.2.3.4", 1)
    assert status.Status == 0x0110 and "disk full" in status.ErrorComment


def test_printer_lut_annotation_and_delete() -> None:
    printed: list[PrintedFilm] = []
    session, uid = _session(printed)
    status, reply = session.get(scp.PRINTER, scp.PRINTER_INSTANCE, [0x21100010])
    assert status.Status == 0 and reply is not None and reply.PrinterStatus == "NORMAL"
    assert "PrinterName" not in reply
    assert session.get(scp.PRINTER, "1.2.3", [])[0].Status == 0x0112
    assert session.create(scp.PRESENTATION_LUT, None, Dataset())[0].Status == 0x0120
    lut = Dataset()
    lut.PresentationLUTShape = "LIN OD"
    status, lut_reply = session.create(scp.PRESENTATION_LUT, None, lut)
    assert status.Status == 0 and lut_reply is not None
    lut_ref = Dataset()
    lut_ref.ReferencedSOPClassUID = scp.PRESENTATION_LUT
    lut_ref.ReferencedSOPInstanceUID = lut_reply.AffectedSOPInstanceUID
    reply = _film_box(
        session,
        uid,
        AnnotationDisplayFormatID="BOTTOM",
        ReferencedPresentationLUTSequence=Sequence([lut_ref]),
    )
    annotation = reply.ReferencedBasicAnnotationBoxSequence[0].ReferencedSOPInstanceUID
    text = Dataset()
    text.AnnotationPosition = 1
    text.TextString = "P123 王建国"
    assert session.set(scp.ANNOTATION_BOX, annotation, text)[0].Status == 0
    first = reply.ReferencedImageBoxSequence[0].ReferencedSOPInstanceUID
    session.set(scp.GRAYSCALE_IMAGE_BOX, first, _grayscale(np.ones((2, 2), np.uint8)))
    assert session.action(scp.FILM_BOX, "1.2.3.4", 1)[0].Status == 0
    assert printed[0].annotations == {1: "P123 王建国"}
    assert printed[0].presentation_lut == "LIN OD"
    assert session.delete(scp.FILM_BOX, "1.2.3.4")[0].Status == 0
    assert session.set(scp.GRAYSCALE_IMAGE_BOX, first, Dataset())[0].Status == 0x0112
    assert session.delete(scp.FILM_SESSION, uid)[0].Status == 0
    assert session.delete(scp.FILM_SESSION, uid)[0].Status == 0x0112
