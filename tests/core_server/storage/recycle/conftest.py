"""One running core per module and database; objects sent by pynetdicom C-STORE, found by
C-FIND and fetched by dcmtk getscu, as a modality and a workstation would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import (
    CTImageStorage,
    KeyObjectSelectionDocumentStorage,
    StudyRootQueryRetrieveInformationModelFind,
)

from core_server import db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.storage.recycle.service import RecycleBin
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, getscu
from tests.dicom_data import encode, make_ct

AE_TITLE = "RECYCLESCU"
# A name in DICOM form with both groups: the page and the API must show 王建国, never a "^".
NAME = "WANG^JIANGUO=王^建国"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("recycle")
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    running = RunningCore(folder / "data", url).start()
    running.register(AE_TITLE, allow_retrieve=True, allow_query=True, allow_store=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def admin(core: RunningCore) -> Iterator[Any]:
    with core.api() as client:
        yield client


@dataclass
class Study:
    patient_id: str
    uid: str
    series: dict[str, str]  # "CT"/"MR" -> Series Instance UID
    images: dict[str, Dataset] = field(default_factory=dict)  # "CT-1" ... -> data set

    def uids(self, *names: str) -> set[str]:
        return {str(self.images[n].SOPInstanceUID) for n in names or self.images}


def make_study(patient_id: str, name: str = NAME) -> Study:
    """A CT series of two images and an MR series of one."""
    study = Study(patient_id, generate_uid(), {"CT": generate_uid(), "MR": generate_uid()})
    for label in ("CT-1", "CT-2", "MR-1"):
        modality, number = label.split("-")
        study.images[label] = make_ct(
            patient_id=patient_id,
            patient_name=name,
            charset="ISO_IR 192",
            study_uid=study.uid,
            series_uid=study.series[modality],
            modality=modality,
            instance_number=int(number),
            accession=f"ACC{patient_id}",
        )
    return study


def store(core: RunningCore, *datasets: Dataset) -> list[int]:
    """C-STORE each data set; the statuses."""
    ae = AE(ae_title=AE_TITLE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(CTImageStorage)
    ae.add_requested_context(KeyObjectSelectionDocumentStorage)
    assoc = associate(ae, core)
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def find(core: RunningCore, level: str, **keys: str) -> list[Dataset]:
    """A study-root C-FIND; the answers."""
    ae = AE(ae_title=AE_TITLE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    identifier.SOPInstanceUID = ""
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    assoc = associate(ae, core)
    try:
        answers = [
            found
            for status, found in assoc.send_c_find(
                identifier, StudyRootQueryRetrieveInformationModelFind
            )
            if status and status.Status in (0xFF00, 0xFF01) and found is not None
        ]
    finally:
        assoc.release()
    return answers


def images(core: RunningCore, study: Study) -> set[str]:
    """The SOP Instance UIDs C-FIND answers for the study at image level."""
    return {str(a.SOPInstanceUID) for a in find(core, "IMAGE", StudyInstanceUID=study.uid)}


def get_study(core: RunningCore, folder: Path, study: Study) -> dict[str, bytes]:
    """C-GET the study (dcmtk getscu): SOP Instance UID -> the bytes received."""
    got = getscu(
        core, folder, "-aet", AE_TITLE, QueryRetrieveLevel="STUDY", StudyInstanceUID=study.uid
    )
    return {str(dcmread(p).SOPInstanceUID): p.read_bytes() for p in got}


def pixel_bytes(data: bytes) -> bytes:
    from io import BytesIO

    return bytes(dcmread(BytesIO(data)).PixelData)


@pytest.fixture
def recycle_bin(database_url: str, tmp_path: Path) -> Iterator[RecycleBin]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "storage", bus)
    try:
        yield RecycleBin(engine, archive, bus)
    finally:
        engine.dispose()


__all__ = ["encode"]
