"""C-GET (getscu) and C-MOVE (movescu, with a storescp as the destination) against a running
core, at every retrieve level; transcoding for a destination that takes no compressed data."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove

from tests.conftest import RunningCore, free_port
from tests.core_server.dicom.clients import (
    PATHS,
    associate,
    client_ae,
    core_on_path,
    dcmtk,
    getscu,
    keys,
    peer,
    stored_syntax,
)
from tests.dicom_data import make_ct, testdata, write


@pytest.fixture(params=PATHS)
def core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningCore]:
    """Every test of this module on both paths that serve associations (direct, pynetdicom)."""
    yield from core_on_path(request.param, tmp_path)


@dataclass
class Study:
    patient_id: str
    study: str
    series: dict[str, str]  # "CT"/"MR" -> Series Instance UID
    images: dict[str, str]  # "CT-1", "CT-2", "MR-1" -> SOP Instance UID


def store_study(core: RunningCore, folder: Path, patient_id: str = "P1") -> Study:
    """One study: a CT series of two images and an MR series of one."""
    study = Study(patient_id, generate_uid(), {"CT": generate_uid(), "MR": generate_uid()}, {})
    paths = []
    for name in ("CT-1", "CT-2", "MR-1"):
        modality, number = name.split("-")
        study.images[name] = generate_uid()
        ds = make_ct(
            patient_id=patient_id,
            study_uid=study.study,
            series_uid=study.series[modality],
            sop_uid=study.images[name],
            modality=modality,
            instance_number=int(number),
        )
        paths.append(write(ds, folder))
    dcmtk("storescu", *peer(core), *paths)
    return study


def sop_uids(paths: list[Path]) -> set[str]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}


@pytest.fixture
def archive(core: RunningCore, tmp_path: Path) -> tuple[Study, Study]:
    """Two studies of one patient, and a third of another (which no retrieve should bring)."""
    first = store_study(core, tmp_path / "objects")
    second = store_study(core, tmp_path / "objects")
    store_study(core, tmp_path / "objects", patient_id="P2")
    core.register("GETSCU", allow_retrieve=True)
    core.register("MOVESCU", allow_retrieve=True)
    return first, second


# -- C-GET --------------------------------------------------------------------------------------


def test_get_at_every_level(
    core: RunningCore, tmp_path: Path, archive: tuple[Study, Study]
) -> None:
    first, second = archive
    got = getscu(core, tmp_path / "study", QueryRetrieveLevel="STUDY", StudyInstanceUID=first.study)
    assert sop_uids(got) == set(first.images.values())

    got = getscu(
        core,
        tmp_path / "series",
        QueryRetrieveLevel="SERIES",
        StudyInstanceUID=first.study,
        SeriesInstanceUID=first.series["CT"],
    )
    assert sop_uids(got) == {first.images["CT-1"], first.images["CT-2"]}

    got = getscu(
        core,
        tmp_path / "image",
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=first.study,
        SeriesInstanceUID=first.series["MR"],
        SOPInstanceUID=first.images["MR-1"],
    )
    assert sop_uids(got) == {first.images["MR-1"]}

    got = getscu(
        core, tmp_path / "patient", model="-P", QueryRetrieveLevel="PATIENT", PatientID="P1"
    )
    assert sop_uids(got) == set(first.images.values()) | set(second.images.values())

    # a list of UIDs at image level
    both = f"{first.images['CT-1']}\\{second.images['MR-1']}"
    got = getscu(
        core,
        tmp_path / "list",
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=f"{first.study}\\{second.study}",
        SOPInstanceUID=both,
    )
    assert sop_uids(got) == {first.images["CT-1"], second.images["MR-1"]}

    # nothing matches: success, nothing sent
    assert (
        getscu(core, tmp_path / "none", QueryRetrieveLevel="STUDY", StudyInstanceUID="1.2.3") == []
    )


def test_get_decompresses_for_a_requestor_without_the_stored_syntax(
    core: RunningCore, tmp_path: Path
) -> None:
    path = testdata("MR_small_jp2klossless.dcm")
    original = dcmread(path)
    dcmtk("storescu", "-xv", *peer(core), path)
    assert stored_syntax(core, original.SOPInstanceUID) == JPEG2000Lossless
    core.register("GETSCU", allow_retrieve=True)
    # getscu's default proposal for storage: uncompressed syntaxes only
    (received,) = getscu(
        core,
        tmp_path / "get",
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=original.StudyInstanceUID,
        SeriesInstanceUID=original.SeriesInstanceUID,
        SOPInstanceUID=original.SOPInstanceUID,
    )
    assert_decompressed_copy(received, path)


def assert_decompressed_copy(received: Path, original_path: Path) -> None:
    """The same object (same SOP Instance UID) with the same pixels, in an uncompressed syntax."""
    got, original = dcmread(received), dcmread(original_path)
    assert got.file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    assert got.SOPInstanceUID == original.SOPInstanceUID  # lossless transcoding: same instance
    assert (got.StudyInstanceUID, got.SeriesInstanceUID) == (
        original.StudyInstanceUID,
        original.SeriesInstanceUID,
    )
    assert np.array_equal(got.pixel_array, original.pixel_array)
    assert str(got.PatientName) == str(original.PatientName)


# -- C-MOVE -------------------------------------------------------------------------------------


@dataclass
class Destination:
    ae_title: str
    port: int
    folder: Path

    def received(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_file())

    def clear(self) -> None:
        for path in self.received():
            path.unlink()


def wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, f"storescp exited: {process.communicate()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("storescp did not start listening")


@pytest.fixture
def destination(core: RunningCore, tmp_path: Path) -> Iterator[Destination]:
    """A storescp that takes uncompressed transfer syntaxes only (+xe), registered as DEST."""
    port = free_port()
    folder = tmp_path / "dest"
    folder.mkdir()
    process = subprocess.Popen(
        ["storescp", "+xe", "-aet", "DEST", "-od", str(folder), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    try:
        wait_listening(port, process)
        core.register("DEST", port=port)
        yield Destination("DEST", port, folder)
    finally:
        process.terminate()
        process.communicate(timeout=10)


def movescu(core: RunningCore, destination: str, model: str = "-S", **identifier: str) -> str:
    result = dcmtk(
        "movescu", "-v", model, "-aem", destination, *keys(**identifier), *peer(core), check=False
    )
    return result.stderr


def test_move_at_every_level(
    core: RunningCore, archive: tuple[Study, Study], destination: Destination
) -> None:
    first, second = archive
    log = movescu(core, "DEST", QueryRetrieveLevel="STUDY", StudyInstanceUID=first.study)
    assert "Received Final Move Response (Success)" in log
    assert sop_uids(destination.received()) == set(first.images.values())

    destination.clear()
    log = movescu(
        core,
        "DEST",
        QueryRetrieveLevel="SERIES",
        StudyInstanceUID=first.study,
        SeriesInstanceUID=first.series["CT"],
    )
    assert "Received Final Move Response (Success)" in log
    assert sop_uids(destination.received()) == {first.images["CT-1"], first.images["CT-2"]}

    destination.clear()
    log = movescu(
        core,
        "DEST",
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=second.study,
        SeriesInstanceUID=second.series["MR"],
        SOPInstanceUID=second.images["MR-1"],
    )
    assert "Received Final Move Response (Success)" in log
    assert sop_uids(destination.received()) == {second.images["MR-1"]}

    destination.clear()
    log = movescu(core, "DEST", model="-P", QueryRetrieveLevel="PATIENT", PatientID="P1")
    assert "Received Final Move Response (Success)" in log
    assert sop_uids(destination.received()) == set(first.images.values()) | set(
        second.images.values()
    )


def test_move_to_an_unregistered_destination_is_refused(
    core: RunningCore, archive: tuple[Study, Study], tmp_path: Path
) -> None:
    first, _ = archive
    log = movescu(core, "NOWHERE", QueryRetrieveLevel="STUDY", StudyInstanceUID=first.study)
    assert "Received Final Move Response (Refused: MoveDestinationUnknown)" in log

    # the exact status, through pynetdicom
    ae = client_ae("MOVESCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = associate(ae, core)
    try:
        query = make_identifier(QueryRetrieveLevel="STUDY", StudyInstanceUID=first.study)
        responses = list(
            assoc.send_c_move(query, "NOWHERE", StudyRootQueryRetrieveInformationModelMove)
        )
    finally:
        assoc.release()
    assert [status.Status for status, _ in responses] == [0xA801]


def make_identifier(**values: str) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_move_decompresses_for_an_uncompressed_only_destination(
    core: RunningCore, destination: Destination
) -> None:
    path = testdata("MR_small_jp2klossless.dcm")
    original = dcmread(path)
    dcmtk("storescu", "-xv", *peer(core), path)
    assert stored_syntax(core, original.SOPInstanceUID) == UID(JPEG2000Lossless)
    core.register("MOVESCU", allow_retrieve=True)
    log = movescu(
        core,
        "DEST",
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=original.StudyInstanceUID,
        SeriesInstanceUID=original.SeriesInstanceUID,
        SOPInstanceUID=original.SOPInstanceUID,
    )
    assert "Received Final Move Response (Success)" in log
    (received,) = destination.received()
    assert_decompressed_copy(received, path)
