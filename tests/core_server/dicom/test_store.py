"""C-ECHO and C-STORE against a running core, with dcmtk and pynetdicom as the clients.

Every object goes in with storescu in its own transfer syntax and comes back with getscu; what
comes back must hold the same elements with the same raw values as what went in. The helpers
at the top are shared by the other DICOM protocol tests of this folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.encaps import encapsulate
from pydicom.tag import Tag
from pydicom.uid import (
    JPEG2000,
    MPEG4HP41,
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    VideoPhotographicImageStorage,
    generate_uid,
)
from pynetdicom import _config

from tests.conftest import RunningCore
from tests.core_server.dicom.clients import (
    PATHS,
    associate,
    client_ae,
    core_on_path,
    dcmtk,
    getscu,
    peer,
    stored_syntax,
)
from tests.dicom_data import encode, make_ct, testdata, write


@pytest.fixture(params=PATHS)
def core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningCore]:
    """Every test of this module on both paths that serve associations (direct, pynetdicom)."""
    yield from core_on_path(request.param, tmp_path)


PIXEL_DATA = Tag(0x7FE0, 0x0010)
TRAILING_PADDING = Tag(0xFFFC, 0xFFFC)


TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC"}
TEXT_VRS |= {"UI", "UR", "UT"}
Element = tuple[str | None, bytes | None, Any]  # VR (explicit VR only), raw bytes, value


def elements(ds: Dataset, path: str = "") -> dict[str, Element]:
    """Every element of a data set (sequence items included) as path -> (VR, raw, value).

    The raw value is the bytes as encoded, so that a changed byte anywhere shows (None when
    pydicom had to decode the element while reading, as it does for Pixel Representation);
    the VR is kept for explicit VR data sets only. Group lengths and the trailing padding
    are left out: dcmtk drops them when it sends, and they carry no information.
    """
    found: dict[str, Element] = {}
    implicit = ds.original_encoding[0] if hasattr(ds, "original_encoding") else None
    for tag in sorted(ds.keys()):
        if tag.element == 0 or tag == TRAILING_PADDING:
            continue
        name = f"{path}{tag}"
        raw = ds.get_item(tag)
        element = ds[tag]
        if element.VR == "SQ":
            found[name] = ("SQ", None, len(element.value))
            for index, item in enumerate(element.value):
                found.update(elements(item, f"{name}[{index}]."))
            continue
        value = element.value if element.value not in (None, "") else b""
        data = raw.value if isinstance(raw, RawDataElement) else None
        if data is not None and element.VR in TEXT_VRS:
            data = data.rstrip(b" \x00")  # the padding to even length is no content
        vr = None if implicit or tag == PIXEL_DATA else element.VR
        found[name] = (vr, data, value)
    return found


def assert_same_elements(sent: Path, received: Path) -> None:
    """The two files hold the same elements with the same raw values (read afresh, so that
    no value has been decoded yet)."""
    expected, got = elements(dcmread(sent)), elements(dcmread(received))
    missing = sorted(expected.keys() - got.keys())
    added = sorted(got.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & got.keys() if _differ(expected[k], got[k]))
    assert not (missing or added or changed), (
        f"missing {missing[:5]}, added {added[:5]}, changed "
        f"{[(k, str(expected[k])[:60], str(got[k])[:60]) for k in changed[:5]]}"
    )


def _differ(a: Element, b: Element) -> bool:
    if None not in (a[0], b[0]) and a[0] != b[0]:
        return True  # both explicit VR, and the VRs differ
    if a[1] is not None and b[1] is not None:
        return a[1] != b[1]
    return bool(a[2] != b[2])


def storage_files(core: RunningCore) -> list[Path]:
    """Every file in the storage area, temporary ones included."""
    return sorted(p for p in core.core.archive.storage.root.rglob("*") if p.is_file())


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=PATHS)
def shared_core(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCore]:
    """One core per path for the store/retrieve round trips of this module (a core takes ~1 s
    to start)."""
    running = RunningCore(
        tmp_path_factory.mktemp("store") / "data", dicom_direct_path=request.param == "direct"
    ).start()
    running.register("GETSCU", allow_retrieve=True)
    # pydicom's bundled MR files share SOP Instance UIDs across transfer syntaxes: each one
    # sent replaces the one before, which needs the overwrite permission.
    running.register("STORESCU", allow_overwrite=True)
    try:
        yield running
    finally:
        running.stop()


def video(folder: Path) -> Path:
    """A small MPEG-4 AVC Video Photographic object (encapsulated bytes, no real video)."""
    ds = make_ct(modality="XC", patient_id="VIDEO")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = VideoPhotographicImageStorage
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    ds.Rows, ds.Columns = 480, 640
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = 25
    ds.FrameTime = 40.0
    ds.FrameIncrementPointer = Tag(0x0018, 0x1063)
    stream = b"\x00\x00\x00\x01\x67\x64\x00\x29" + bytes(range(256)) * 8 + b"\x00\x00\x01\xb7"
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    return write(ds, folder)


# -- C-ECHO -------------------------------------------------------------------------------------


def test_echo(core: RunningCore) -> None:
    result = dcmtk("echoscu", "-v", *peer(core))
    assert "Received Echo Response (Success)" in result.stderr


# -- C-STORE and back ---------------------------------------------------------------------------


def indexable(path: Path, folder: Path) -> Path:
    """The bundled file itself, or, when it lacks the identifying attributes the archive needs
    (pydicom's JPEG-LS near-lossless samples do), a copy with them added; the encoded pixel
    data stays as it is."""
    ds = dcmread(path)
    missing = [k for k in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID") if k not in ds]
    if not missing:
        return path
    ds.PatientID = ds.get("PatientID", "BUNDLED")
    ds.StudyInstanceUID = ds.get("StudyInstanceUID", generate_uid())
    ds.SeriesInstanceUID = ds.get("SeriesInstanceUID", generate_uid())
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / path.name)
    return folder / path.name


# (bundled file, storescu proposal option, getscu preference option, transfer syntax)
BUNDLED = [
    ("MR_small_implicit.dcm", "-xi", "+xi", ImplicitVRLittleEndian),
    ("CT_small.dcm", "-xe", "+xe", ExplicitVRLittleEndian),
    ("MR_small_bigendian.dcm", "-xb", "+xb", ExplicitVRBigEndian),
    ("image_dfl.dcm", "-xd", "+xd", DeflatedExplicitVRLittleEndian),
    ("SC_rgb_small_odd_jpeg.dcm", "-xy", "+xy", JPEGBaseline8Bit),
    ("JPGExtended.dcm", "-xx", "+xx", JPEGExtended12Bit),
    ("SC_rgb_jpeg_gdcm.dcm", "-xs", "+xs", JPEGLosslessSV1),
    ("MR_small_jpeg_ls_lossless.dcm", "-xt", "+xt", JPEGLSLossless),
    ("JPEGLSNearLossless_08.dcm", "-xu", "+xu", JPEGLSNearLossless),
    ("MR_small_jp2klossless.dcm", "-xv", "+xv", JPEG2000Lossless),
    ("JPEG2000.dcm", "-xw", "+xw", JPEG2000),
    ("SC_rgb_rle.dcm", "-xr", "+xr", RLELossless),
]


@pytest.mark.parametrize(
    ("name", "propose", "prefer", "syntax"), BUNDLED, ids=[b[0] for b in BUNDLED]
)
def test_store_then_get_is_identical(
    shared_core: RunningCore, tmp_path: Path, name: str, propose: str, prefer: str, syntax: UID
) -> None:
    path = indexable(testdata(name), tmp_path / "in")
    sent = dcmread(path)
    assert sent.file_meta.TransferSyntaxUID == syntax  # the file is what the case says

    result = dcmtk("storescu", "-v", propose, *peer(shared_core), path)
    assert "Received Store Response (Success)" in result.stderr
    assert stored_syntax(shared_core, sent.SOPInstanceUID) == syntax  # kept as it came

    (received_path,) = getscu(
        shared_core,
        tmp_path / "get",
        prefer,
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=sent.StudyInstanceUID,
        SeriesInstanceUID=sent.SeriesInstanceUID,
        SOPInstanceUID=sent.SOPInstanceUID,
    )
    received = dcmread(received_path)
    if not syntax.is_implicit_VR:  # getscu writes what it receives in implicit VR as explicit
        assert received.file_meta.TransferSyntaxUID == syntax
    assert_same_elements(path, received_path)


def test_store_mpeg4_video_then_get_is_identical(shared_core: RunningCore, tmp_path: Path) -> None:
    path = video(tmp_path / "in")
    sent = dcmread(path)
    # -R proposes the file's own SOP class; -xn adds MPEG-4 AVC HP@L4.1 to the proposal
    result = dcmtk("storescu", "-v", "-R", "-xn", *peer(shared_core), path)
    assert "Received Store Response (Success)" in result.stderr
    assert stored_syntax(shared_core, sent.SOPInstanceUID) == MPEG4HP41

    (received_path,) = getscu(
        shared_core,
        tmp_path / "get",
        "+xn",
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=sent.StudyInstanceUID,
        SeriesInstanceUID=sent.SeriesInstanceUID,
        SOPInstanceUID=sent.SOPInstanceUID,
    )
    received = dcmread(received_path)
    assert received.file_meta.TransferSyntaxUID == MPEG4HP41
    assert received.SOPClassUID == VideoPhotographicImageStorage
    assert_same_elements(path, received_path)


@pytest.mark.parametrize("first", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_requestors_first_transfer_syntax_is_accepted(
    core: RunningCore, tmp_path: Path, first: UID
) -> None:
    """A requestor offering several syntaxes in one context gets its first choice: an archive
    that picked implicit VR from [explicit, implicit] would make every sender convert (and
    private elements lose their VR)."""
    other = ImplicitVRLittleEndian if first == ExplicitVRLittleEndian else ExplicitVRLittleEndian
    ae = client_ae()
    ae.add_requested_context(CTImageStorage, [first, other])
    assoc = associate(ae, core)
    try:
        (context,) = assoc.accepted_contexts
        assert context.transfer_syntax == [first]
        ds = make_ct()
        ds.file_meta.TransferSyntaxUID = first
        assert assoc.send_c_store(ds).Status == 0x0000
    finally:
        assoc.release()
    assert stored_syntax(core, ds.SOPInstanceUID) == first


# -- refused objects ----------------------------------------------------------------------------


def cut(data: bytes, keep: int, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data[:keep])
    return path


def test_truncated_objects_are_refused_and_leave_nothing(
    core: RunningCore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pynetdicom sends a file path's bytes as they are (no decoding) in chunked mode
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    good = make_ct(patient_id="GOOD")
    dcmtk("storescu", *peer(core), write(good, tmp_path / "good"))
    statistics = core.core.archive.statistics()
    files = storage_files(core)
    assert statistics["instances"] == 1 and len(files) == 1

    whole = encode(make_ct(patient_id="CUT"))
    pixel_start = whole.index(b"\xe0\x7f\x10\x00")
    broken = [
        testdata("MR_truncated.dcm"),
        cut(whole, len(whole) - 100, tmp_path / "bad", "short-pixels.dcm"),
        cut(whole, pixel_start + 6, tmp_path / "bad", "cut-header.dcm"),
    ]

    ae = client_ae()
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    ae.add_requested_context(dcmread(broken[0]).SOPClassUID, ExplicitVRLittleEndian)
    assoc = associate(ae, core)
    try:
        for path in broken:
            status = assoc.send_c_store(path)
            assert status.Status == 0xC000, f"{path.name}: {status}"  # cannot understand
            assert "truncated" in status.ErrorComment, status.ErrorComment
        # the association still works: a good object right after, on the same association
        after = write(make_ct(patient_id="AFTER"), tmp_path / "after")
        assert assoc.send_c_store(after).Status == 0x0000
    finally:
        assoc.release()

    # one more of each (AFTER), nothing of the broken ones
    assert core.core.archive.statistics() == {k: n + 1 for k, n in statistics.items()}
    assert len(storage_files(core)) == 2  # the good ones; no leftover or temporary file
    assert core.core.archive.verify() == {"missing": [], "orphans": []}
    ids = {a["PatientID"] for a in core.core.archive.find("PATIENT", {})}
    assert ids == {"GOOD", "AFTER"}
    # and the server takes new associations
    dcmtk("echoscu", *peer(core))


def test_objects_without_identifying_uids_are_refused(core: RunningCore, tmp_path: Path) -> None:
    ds = make_ct()
    del ds.StudyInstanceUID
    ae = client_ae()
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = associate(ae, core)
    try:
        status = assoc.send_c_store(ds)
        assert status.Status == 0xC000
        assert "StudyInstanceUID" in status.ErrorComment
        assert assoc.send_c_store(make_ct()).Status == 0x0000
    finally:
        assoc.release()
    assert core.core.archive.statistics()["instances"] == 1
    assert core.core.archive.verify() == {"missing": [], "orphans": []}


def test_same_object_twice_is_a_success_and_changes_nothing(
    core: RunningCore, tmp_path: Path
) -> None:
    path = write(make_ct(), tmp_path)
    dcmtk("storescu", *peer(core), path)
    result = dcmtk("storescu", "-v", *peer(core), path)
    assert "Received Store Response (Success)" in result.stderr
    assert core.core.archive.statistics()["instances"] == 1
    assert len(storage_files(core)) == 1


def test_many_objects_on_one_association(core: RunningCore, tmp_path: Path) -> None:
    study = make_ct().StudyInstanceUID
    paths = [
        write(make_ct(study_uid=study, instance_number=n), tmp_path / "in") for n in range(1, 21)
    ]
    result = dcmtk("storescu", "-v", *peer(core), *paths)
    assert result.stderr.count("Received Store Response (Success)") == 20
    assert result.stderr.count("Requesting Association") == 1
    assert core.core.archive.count("IMAGE", {"StudyInstanceUID": study}) == 20
