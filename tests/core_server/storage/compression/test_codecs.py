"""The codecs on the corpus: every lossless syntax gives back the original samples, lossy JPEG
2000 records what it did, objects that must stay as they are are refused, and dciodvfy finds
no error in what is made."""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import UID

from core_server.storage.compression import codecs
from tests.core_server.storage.compression.corpus import corpus
from tests.dicom_data import encode, testdata

CORPUS = corpus()


def _copy(ds: Dataset) -> Dataset:
    return dcmread(BytesIO(encode(ds)))


@pytest.mark.parametrize("syntax", codecs.LOSSLESS)
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_lossless_round_trip_keeps_every_sample(name: str, syntax: str) -> None:
    original = _copy(CORPUS[name])
    expected = original.pixel_array.copy()
    made = codecs.transcoded(encode(original), codecs.Target(syntax))
    back = dcmread(BytesIO(made))
    assert str(back.file_meta.TransferSyntaxUID) == syntax
    assert back.SOPInstanceUID == original.SOPInstanceUID  # the same object
    assert "LossyImageCompression" not in back or back.LossyImageCompression == "00"
    assert back.pixel_array.dtype == expected.dtype
    assert np.array_equal(back.pixel_array, expected)
    # and back to uncompressed: still the same samples
    plain = dcmread(BytesIO(codecs.transcoded(made, codecs.Target(codecs.UNCOMPRESSED[0]))))
    assert np.array_equal(plain.pixel_array, expected)


def test_lossy_jpeg_2000_records_ratio_and_method() -> None:
    original = _copy(CORPUS["ct_signed_noise"])
    made = dcmread(BytesIO(codecs.transcoded(encode(original), codecs.Target(codecs.LOSSY[0], 10))))
    assert made.LossyImageCompression == "01"
    assert made.LossyImageCompressionMethod == "ISO_15444_1"
    ratio = float(made.LossyImageCompressionRatio)
    assert 5 < ratio < 20  # what was achieved, near the 10:1 asked for
    assert made.pixel_array.shape == original.pixel_array.shape
    assert not np.array_equal(made.pixel_array, original.pixel_array)  # it did lose detail
    # never again: an already lossy object is left as it is
    with pytest.raises(codecs.CannotCompress, match="already lossy"):
        codecs.compressed(made, codecs.Target(codecs.LOSSLESS[0]))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("test-SR.dcm", "no pixel data"),  # structured report
        ("SC_rgb_jpeg_dcmtk.dcm", "already lossy"),  # JPEG baseline
        ("JPEGLSNearLossless_16.dcm", "already lossy"),
        ("rtdose_1frame.dcm", "32-bit samples"),
    ],
)
def test_objects_left_as_they_are(name: str, reason: str) -> None:
    ds = dcmread(testdata(name))
    assert codecs.why_not(ds) == reason
    with pytest.raises(codecs.CannotCompress):
        codecs.compressed(ds, codecs.Target(codecs.LOSSLESS[0]))


def test_video_and_pdf_left_as_they_are() -> None:
    pdf = _copy(CORPUS["mono8"])
    del pdf.PixelData
    pdf.EncapsulatedDocument = b"%PDF-1.4 ..."
    assert codecs.why_not(pdf) == "no pixel data"
    video = _copy(CORPUS["mono8"])
    video.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.102")  # MPEG-4 AVC/H.264
    assert codecs.why_not(video) == "video"


def test_a_lossy_source_may_be_sent_in_a_lossless_syntax() -> None:
    """A retrieve to a receiver taking only JPEG-LS: the decoded samples, losslessly."""
    ds = dcmread(testdata("SC_rgb_jpeg_dcmtk.dcm"))
    decoded = ds.pixel_array.copy()
    made = codecs.compressed(ds, codecs.Target(codecs.LOSSLESS[0]), lossy_source=True)
    back = dcmread(BytesIO(codecs.encode(made)))
    assert np.array_equal(back.pixel_array, decoded)
    assert back.LossyImageCompression == "01"  # it was lossy once, and stays marked


def test_a_ratio_goes_with_lossy_only() -> None:
    with pytest.raises(ValueError):
        codecs.Target(codecs.LOSSLESS[0], 10)
    with pytest.raises(ValueError):
        codecs.Target(codecs.LOSSY[0])
    with pytest.raises(ValueError):
        codecs.Target("1.2.840.10008.1.2.4.50")  # JPEG baseline: not made here


@pytest.mark.parametrize("syntax", [*codecs.LOSSLESS, codecs.LOSSY[0]])
def test_dciodvfy_finds_no_error_in_compressed_objects(syntax: str, tmp_path: Path) -> None:
    target = codecs.Target(syntax, 8 if syntax in codecs.LOSSY else None)
    for name in ("CT_small.dcm", "SC_rgb_rle.dcm"):
        path = tmp_path / f"{name}.{syntax}.dcm"
        path.write_bytes(codecs.transcoded(testdata(name).read_bytes(), target))
        found = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        before = subprocess.run(["dciodvfy", str(testdata(name))], capture_output=True, text=True)
        errors = _errors(found.stderr) - _errors(before.stderr)  # the source's own are not ours
        assert errors == set(), found.stderr


def _errors(report: str) -> set[str]:
    return {line.strip() for line in report.splitlines() if line.startswith("Error")}
