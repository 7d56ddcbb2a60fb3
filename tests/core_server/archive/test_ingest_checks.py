"""What the ingest refuses: a different object under an archived SOP Instance UID from an
origin that may not replace it, elements out of order, unknown VRs, an image without pixel
data; each refusal leaves nothing behind and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRBigEndian, generate_uid

from core_server import db
from core_server.archive import Archive, InvalidObject, Origin, ReplaceRefused
from tests.core_server.archive.malformed import out_of_order, unknown_vr
from tests.dicom_data import encode, make_ct, testdata

ORIGIN = Origin("test", "CT01")


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Archive:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    return Archive(engine, tmp_path / "storage")


def leftovers(archive: Archive) -> list[Path]:
    return sorted(archive.storage.root.rglob("*.dcm")) + sorted(archive.storage.incoming.iterdir())


def test_a_different_object_under_a_stored_uid_is_refused_by_default(archive: Archive) -> None:
    first = make_ct(StudyDescription="first")
    archive.store_instance(encode(first), ORIGIN)
    forged = make_ct(
        sop_uid=first.SOPInstanceUID,
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=9,  # other pixels too
    )
    with pytest.raises(ReplaceRefused) as refused:
        archive.store_instance(encode(forged), ORIGIN)
    assert refused.value.code == "archive.replace_refused"
    assert refused.value.status == 409
    (image,) = archive.find("IMAGE", {"SOPInstanceUID": first.SOPInstanceUID})
    assert image["InstanceNumber"] == 1  # the archived object is untouched
    (path,) = leftovers(archive)
    assert path.read_bytes() == encode(first)
    assert archive.versions(first.SOPInstanceUID)[1:] == []
    # the same bytes again stay a success, from anyone
    assert archive.store_instance(encode(first), ORIGIN).outcome == "duplicate"


def test_the_report_channel_replaces_its_own_objects(archive: Archive) -> None:
    """Report output retries under the UID it reserved (a crash between store and mark)."""
    first = make_ct(StudyDescription="report, first try")
    archive.store_instance(encode(first), Origin("report", "PACS"))
    again = make_ct(
        sop_uid=first.SOPInstanceUID,
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        StudyDescription="report, second try",
    )
    assert archive.store_instance(encode(again), Origin("report", "PACS")).outcome == "replaced"


def test_recovery_drops_a_file_that_would_replace_an_archived_object(archive: Archive) -> None:
    first = make_ct()
    archive.store_instance(encode(first), ORIGIN)
    forged = make_ct(
        sop_uid=first.SOPInstanceUID,
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=5,
    )
    relative = archive.storage.new_path(forged.StudyInstanceUID, datetime.now(UTC))
    archive.storage.write(relative, encode(forged))  # written, never acknowledged: a crash
    assert archive.recover()["indexed"] == 0
    assert not archive.storage.absolute(relative).exists()
    assert archive.verify() == {"missing": [], "orphans": []}


def test_elements_out_of_order_are_refused(archive: Archive) -> None:
    """pydicom reads them without a word (and keeps the file's order, which broke a study's
    metadata later): PS3.5 7.1 wants increasing tags, each once."""
    data = out_of_order()
    assert dcmread(BytesIO(data)).PatientName == "Zhang^San"  # pydicom: fine
    with pytest.raises(InvalidObject, match=r"\(0010,0010\) comes after \(0020,000D\)"):
        archive.store_instance(data, ORIGIN)
    assert leftovers(archive) == []
    assert archive.statistics()["instances"] == 0


def test_elements_out_of_order_are_refused_in_syntaxes_pydicom_reads(archive: Archive) -> None:
    ds = dcmread(testdata("MR_small_bigendian.dcm"))
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    data = bytearray(encode(ds))
    start = data.index(b"\x00\x10\x00\x10PN")  # big endian Patient's Name
    length = int.from_bytes(data[start + 6 : start + 8], "big")
    name = bytes(data[start : start + 8 + length])
    del data[start : start + 8 + length]
    end = data.index(b"\x00\x20\x00\x0dUI")
    end += 8 + int.from_bytes(data[end + 6 : end + 8], "big")
    data[end:end] = name
    with pytest.raises(InvalidObject, match="out of order"):
        archive.store_instance(bytes(data), ORIGIN)
    assert leftovers(archive) == []


def test_an_unknown_vr_is_refused_as_invalid(archive: Archive) -> None:
    with pytest.raises(InvalidObject, match="unknown VR 'ZZ'"):
        archive.store_instance(unknown_vr(), ORIGIN)
    # also where the walk does not keep the value (Manufacturer is not indexed)
    ds = make_ct(Manufacturer="ACME")
    with pytest.raises(InvalidObject, match="unknown VR"):
        archive.store_instance(unknown_vr(ds, b"\x08\x00\x70\x00LO"), ORIGIN)
    assert leftovers(archive) == []


def test_an_image_needs_its_pixel_data_other_objects_do_not(archive: Archive) -> None:
    image = make_ct()
    del image.PixelData
    with pytest.raises(InvalidObject, match="CT Image Storage without PixelData"):
        archive.store_instance(encode(image), ORIGIN)
    report = dcmread(testdata("reportsi.dcm"))  # a Basic Text SR: no pixel data, none needed
    assert "PixelData" not in report
    assert archive.store_instance(encode(report), ORIGIN).outcome == "stored"
    key = make_ct(study_uid=generate_uid())
    key.SOPClassUID = key.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.59"
    del key.PixelData
    assert archive.store_instance(encode(key), ORIGIN).outcome == "stored"
