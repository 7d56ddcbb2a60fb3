"""Transcoding on retrieve, on both DICOM paths (direct, pynetdicom): a C-GET requestor or a
C-MOVE destination that did not accept the stored syntax gets the object in one it accepted
(decompressed, or compressed losslessly to JPEG-LS / JPEG 2000 / RLE), with the same samples;
one that accepted nothing we can make gets the failure it got before. WADO-RS honours
``transfer-syntax=`` for instances and frames."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from core_server.archive import Origin
from tests.conftest import RunningCore, free_port
from tests.core_server.dicom.clients import PATHS, associate, client_ae, core_on_path, stored_syntax
from tests.core_server.dicomweb.test_wado import _parts
from tests.dicom_data import encode, testdata


@pytest.fixture(scope="module", params=PATHS)
def core(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCore]:
    started = core_on_path(request.param, tmp_path_factory.mktemp(request.param))
    running = next(started)  # kept referenced: the generator stops the core when finished
    try:
        running.register("PYSCU", allow_retrieve=True)
        yield running
    finally:
        next(started, None)


@pytest.fixture(scope="module")
def stored(core: RunningCore) -> Dataset:
    """A JPEG 2000 lossless MR, as stored."""
    ds = dcmread(testdata("MR_small_jp2klossless.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    core.core.archive.store_instance(encode(ds), Origin("test"))
    assert stored_syntax(core, ds.SOPInstanceUID) == JPEG2000Lossless
    return ds


def _identifier(ds: Dataset) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = ds.StudyInstanceUID
    query.SeriesInstanceUID = ds.SeriesInstanceUID
    query.SOPInstanceUID = ds.SOPInstanceUID
    return query


def _get(core: RunningCore, ds: Dataset, syntax: str) -> tuple[list[tuple[str, Dataset]], Dataset]:
    """C-GET proposing storage of MR images in ``syntax`` only: what came, the final status."""
    received: list[tuple[str, Dataset]] = []

    def on_store(event: evt.Event) -> int:
        got = event.dataset
        got.file_meta = event.file_meta
        received.append((str(event.context.transfer_syntax), got))
        return 0x0000

    ae = client_ae()
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(MRImageStorage, [syntax])
    assoc = associate(
        ae,
        core,
        ext_neg=[build_role(MRImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    try:
        answers = list(assoc.send_c_get(_identifier(ds), StudyRootQueryRetrieveInformationModelGet))
    finally:
        assoc.release()
    return received, answers[-1][0]


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, JPEGLSLossless, RLELossless])
def test_get_in_the_one_syntax_the_requestor_took(
    core: RunningCore, stored: Dataset, syntax: str
) -> None:
    received, final = _get(core, stored, syntax)
    assert final.Status == 0x0000
    ((came_as, got),) = received
    assert came_as == syntax
    assert got.SOPInstanceUID == stored.SOPInstanceUID  # the same object
    assert np.array_equal(got.pixel_array, stored.pixel_array)  # lossless


def test_get_fails_as_before_when_nothing_taken_can_be_made(
    core: RunningCore, stored: Dataset
) -> None:
    received, final = _get(core, stored, JPEGBaseline8Bit)  # we do not make lossy JPEG
    assert received == []
    assert final.Status != 0x0000 and final.NumberOfFailedSuboperations == 1


def test_move_to_a_destination_taking_only_jpeg_ls(core: RunningCore, stored: Dataset) -> None:
    received: list[tuple[str, Dataset]] = []

    def on_store(event: evt.Event) -> int:
        got = event.dataset
        got.file_meta = event.file_meta
        received.append((str(event.context.transfer_syntax), got))
        return 0x0000

    dest = AE(ae_title="JLSONLY")
    dest.add_supported_context(MRImageStorage, [JPEGLSLossless])
    port = free_port()
    server = dest.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        core.register("JLSONLY", port=port)
        ae = client_ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        assoc = associate(ae, core)
        try:
            answers = list(
                assoc.send_c_move(
                    _identifier(stored), "JLSONLY", StudyRootQueryRetrieveInformationModelMove
                )
            )
        finally:
            assoc.release()
    finally:
        server.shutdown()
    assert int(answers[-1][0].Status) == 0x0000
    ((came_as, got),) = received
    assert came_as == JPEGLSLossless
    assert np.array_equal(got.pixel_array, stored.pixel_array)


def test_move_to_dcmtk_storescp_preferring_rle(
    core: RunningCore, stored: Dataset, tmp_path: Path
) -> None:
    """storescp +xr accepts RLE first among what we propose: it gets RLE, samples intact."""
    port = free_port()
    folder = tmp_path / "rle"
    folder.mkdir()
    process = subprocess.Popen(
        ["storescp", "+xr", "-aet", "RLEDEST", "-od", str(folder), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    try:
        from tests.core_server.dicom.test_retrieve import wait_listening

        wait_listening(port, process)
        core.register("RLEDEST", port=port)
        ae = client_ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        assoc = associate(ae, core)
        try:
            answers = list(
                assoc.send_c_move(
                    _identifier(stored), "RLEDEST", StudyRootQueryRetrieveInformationModelMove
                )
            )
        finally:
            assoc.release()
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert int(answers[-1][0].Status) == 0x0000
    (path,) = list(folder.iterdir())
    got = dcmread(path)
    assert got.file_meta.TransferSyntaxUID == RLELossless
    assert np.array_equal(got.pixel_array, stored.pixel_array)


# -- WADO-RS ------------------------------------------------------------------------------------


def _url(ds: Dataset) -> str:
    return (
        f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


@pytest.mark.parametrize("syntax", [JPEGLSLossless, RLELossless, ExplicitVRLittleEndian])
def test_wado_instance_in_the_syntax_asked_for(
    core: RunningCore, stored: Dataset, syntax: str
) -> None:
    accept = f'multipart/related; type="application/dicom"; transfer-syntax={syntax}'
    with core.api() as api:
        answer = api.get(_url(stored), headers={"Accept": accept})
    assert answer.status_code == 200, answer.text
    ((headers, data),) = _parts(answer)
    assert headers["content-type"] == f"application/dicom; transfer-syntax={syntax}"
    got = dcmread(BytesIO(data))
    assert got.file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(got.pixel_array, stored.pixel_array)


def test_wado_star_is_as_stored_and_a_report_comes_uncompressed(
    core: RunningCore, stored: Dataset
) -> None:
    with core.api() as api:
        star = 'multipart/related; type="application/dicom"; transfer-syntax=*'
        ((headers, _),) = _parts(api.get(_url(stored), headers={"Accept": star}))
        assert headers["content-type"].endswith(f"transfer-syntax={JPEG2000Lossless}")
        report = dcmread(testdata("test-SR.dcm"))
        report.SOPInstanceUID = report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        core.core.archive.store_instance(encode(report), Origin("test"))
        jls = f'multipart/related; type="application/dicom"; transfer-syntax={JPEGLSLossless}'
        ((headers, data),) = _parts(api.get(_url(report), headers={"Accept": jls}))
    # no pixels to compress: explicit VR little endian, and its part says so
    assert headers["content-type"].endswith(f"transfer-syntax={ExplicitVRLittleEndian}")
    assert dcmread(BytesIO(data)).SOPInstanceUID == report.SOPInstanceUID


@pytest.mark.parametrize(
    ("media", "syntax"),
    [("image/jls", JPEGLSLossless), ("image/dicom-rle", RLELossless)],
)
def test_wado_frames_encoded_to_the_media_type_asked_for(
    core: RunningCore, stored: Dataset, media: str, syntax: str
) -> None:
    with core.api() as api:
        answer = api.get(
            _url(stored) + "/frames/1", headers={"Accept": f'multipart/related; type="{media}"'}
        )
        assert answer.status_code == 200, answer.text
        ((headers, frame),) = _parts(answer)
        assert headers["content-type"] == f"{media}; transfer-syntax={syntax}"
        refused = api.get(
            _url(stored) + "/frames/1", headers={"Accept": 'multipart/related; type="image/jpeg"'}
        )
        assert refused.status_code == 406
    # the frame decodes to the stored samples
    from pydicom.pixels import decompress

    single = Dataset()
    single.file_meta = stored.file_meta.__class__()
    single.file_meta.TransferSyntaxUID = syntax
    for keyword in (
        "Rows",
        "Columns",
        "SamplesPerPixel",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "PhotometricInterpretation",
    ):
        setattr(single, keyword, getattr(stored, keyword))
    from pydicom.encaps import encapsulate

    single.PixelData = encapsulate([frame])
    single["PixelData"].VR = "OB"
    assert np.array_equal(decompress(single).pixel_array, stored.pixel_array)
