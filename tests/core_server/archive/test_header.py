"""The header walk reads the indexed attributes as pydicom does, or leaves the file to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread

from core_server.archive import header
from core_server.archive.objects import InvalidObject, integer, parse, text
from tests.dicom_data import make_ct, testdata, write

WALKED = [
    "CT_small.dcm",  # explicit VR little endian
    "MR_small_implicit.dcm",
    "MR_small_RLE.dcm",  # encapsulated pixel data
    "JPEG2000.dcm",
    "rtplan.dcm",  # undefined-length sequences
    "nested_priv_SQ.dcm",
    "reportsi.dcm",  # an SR: nested content sequences
    "SC_rgb_jpeg_dcmtk.dcm",
    "liver_1frame.dcm",
    "empty_charset_LEI.dcm",
]


def _compare(path: Path) -> None:
    walked = header.read(path)
    assert walked is not None
    dataset, syntax = walked
    full = dcmread(path)
    assert syntax == full.file_meta.TransferSyntaxUID
    for keyword in header.INDEXED:
        assert text(dataset, keyword) == text(full, keyword), keyword
        assert integer(dataset, keyword) == integer(full, keyword), keyword


@pytest.mark.parametrize("name", WALKED)
def test_walk_reads_what_pydicom_reads(name: str) -> None:
    _compare(testdata(name))


@pytest.mark.parametrize(
    ("name", "charset"),
    [("张^三丰", "GB18030"), ("Wang^XiaoDong=王^小东", "ISO_IR 192")],
)
def test_chinese_names_decode_with_their_character_set(
    tmp_path: Path, name: str, charset: str
) -> None:
    path = write(
        make_ct(patient_name=name, charset=charset, StudyDescription="胸部CT平扫"), tmp_path
    )
    dataset, _ = header.read(path) or pytest.fail("not walked")
    assert str(dataset.PatientName) == name
    assert text(dataset, "StudyDescription") == "胸部CT平扫"
    _compare(path)


def test_plain_values_read_without_pydicom_agree_with_it(tmp_path: Path) -> None:
    ds = make_ct(
        StudyTime="083000.123 ",
        SeriesNumber="  12",
        Modality="MR",
        InstanceNumber="7.0",  # not plain: pydicom reads it
        BodyPartExamined="",
    )
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    for path in (write(make_ct(), tmp_path / "explicit"), write(ds, tmp_path / "implicit")):
        _compare(path)


@pytest.mark.parametrize(
    "name", ["image_dfl.dcm", "MR_small_bigendian.dcm", "no_meta.dcm", "rtstruct.dcm"]
)
def test_deflated_big_endian_and_meta_less_files_are_left_to_pydicom(name: str) -> None:
    assert header.read(testdata(name)) is None


@pytest.mark.parametrize("keep", [200, 700, 1500])  # in the header, in pixel data, at the end
def test_every_cut_is_truncated(tmp_path: Path, keep: int) -> None:
    whole = write(make_ct(size=32), tmp_path).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[: len(whole) - 2048 + keep] if keep == 1500 else whole[:keep])
    with pytest.raises(header.Truncated):
        header.read(cut)
    with pytest.raises(InvalidObject, match="truncated"):
        parse(cut)


def test_cut_in_an_undefined_length_sequence_is_truncated(tmp_path: Path) -> None:
    whole = testdata("rtplan.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(header.Truncated):
        header.read(cut)
