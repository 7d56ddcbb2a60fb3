"""Stills: the JPEG the spool keeps (baseline, 4:2:2), the DICOM object per department (VL
Endoscopic, Ultrasound, VL Photographic) as JPEG Baseline or uncompressed RGB, checked by
dciodvfy (no errors), dcmdump and pydicom's decoders."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from capture_station.media.still import (
    ULTRASOUND,
    VL_ENDOSCOPIC,
    VL_PHOTOGRAPHIC,
    encode_lossless,
    encode_still,
    still_dataset,
)
from tests.capture_station.media_data import (
    EXAM,
    capture,
    dciodvfy,
    dcmdump,
    pattern,
    psnr,
    station,
)


def test_jpeg_is_baseline_422(tmp_path):
    frame = pattern()
    jpeg = encode_still(frame, quality=90)
    image = Image.open(BytesIO(jpeg))
    assert image.format == "JPEG" and image.size == (320, 240)
    assert jpeg[:2] == b"\xff\xd8" and b"\xff\xc0" in jpeg  # SOF0: baseline
    assert b"\xff\xc2" not in jpeg  # not progressive
    # SOF0 components: Y sampled 2x1, Cb and Cr 1x1: 4:2:2
    sof = jpeg.index(b"\xff\xc0")
    factors = [jpeg[sof + 11 + 3 * i] for i in range(3)]
    assert factors == [0x21, 0x11, 0x11]
    assert psnr(np.asarray(image.convert("RGB")), frame.pixels) > 25
    with pytest.raises(ValueError):
        encode_still(frame, quality=0)


@pytest.mark.parametrize(
    ("department", "sop_class", "modality"),
    [
        ("endoscopy", VL_ENDOSCOPIC, "ES"),
        ("ultrasound", ULTRASOUND, "US"),
        ("photo", VL_PHOTOGRAPHIC, "XC"),
    ],
)
def test_jpeg_still_per_department_passes_dciodvfy(tmp_path, department, sop_class, modality):
    frame = pattern()
    jpeg = encode_still(frame, 85)
    taken = capture()
    ds = still_dataset(jpeg, taken, station(department))
    path = tmp_path / "still.dcm"
    ds.save_as(path, enforce_file_format=True)
    errors, warnings = dciodvfy(path)
    assert errors == []
    assert warnings == []  # none left at all
    back = dcmread(path)
    assert back.SOPClassUID == sop_class and back.Modality == modality
    assert back.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert back.PhotometricInterpretation == "YBR_FULL_422"
    assert back.SOPInstanceUID == taken.sop_instance_uid
    assert back.StudyInstanceUID == EXAM.study_instance_uid
    assert back.SeriesInstanceUID == taken.series_instance_uid
    assert back.InstanceNumber == 3
    assert back.AccessionNumber == EXAM.accession_number
    assert back.SpecificCharacterSet == "ISO_IR 192"
    assert str(back.PatientName) == "WANG^JIANGUO=王^建国"
    assert back.PatientName.ideographic == "王^建国"
    assert back.ReferringPhysicianName.ideographic == "李^四"
    assert back.OperatorsName.ideographic == "张^三"
    assert back.InstitutionName == "市第一人民医院" and back.StationName == "WEIJING1"
    assert back.BodyPartExamined == "STOMACH"
    assert back.PatientBirthDate == "19700102"
    # Hospital time with its offset: 23:10:05 in Shanghai.
    assert back.ContentDate == "20261207" and back.ContentTime.startswith("231005")
    assert back.AcquisitionDateTime == "20261207231005.250000+0800"
    assert back.TimezoneOffsetFromUTC == "+0800"
    assert back.LossyImageCompression == "01"
    # The fragment is the spooled JPEG itself; decoded by pydicom (pylibjpeg) as RGB.
    pixels = back.pixel_array
    assert pixels.shape == (240, 320, 3) and psnr(pixels, frame.pixels) > 25
    dump = dcmdump(path)
    assert "王^建国" in dump and "JPEG Baseline" in dump


@pytest.mark.parametrize("department", ["endoscopy", "ultrasound", "photo"])
def test_lossless_still_is_exact_rgb(tmp_path, department):
    frame = pattern()
    ds = still_dataset(encode_lossless(frame), capture(), station(department))
    path = tmp_path / "lossless.dcm"
    ds.save_as(path, enforce_file_format=True)
    errors, _warnings = dciodvfy(path)
    assert errors == []
    back = dcmread(path)
    assert back.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert back.PhotometricInterpretation == "RGB" and back.LossyImageCompression == "00"
    assert np.array_equal(back.pixel_array, frame.pixels)
    assert "RGB" in dcmdump(path)


def test_jpeg_choice_refuses_a_png():
    with pytest.raises(ValueError):
        still_dataset(encode_lossless(pattern()), capture(), station(), encoding="jpeg")
