"""A running core with a small corpus, shared by the DICOMweb tests: Chinese names in UTF-8 and
GB18030, and pydicom's compressed test files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from dicomweb_client import DICOMwebClient
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid

from core_server import auth
from core_server.archive import Origin
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct, testdata

PASSWORD = "dicomweb-pass-1"
COMPRESSED = (
    "JPEG2000.dcm",  # JPEG 2000 lossless
    "MR_small_RLE.dcm",  # RLE
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, YBR_FULL_422 colour
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS
    "SC_rgb_rle_2frame.dcm",  # RLE colour, two frames
)

UNCOMPRESSED = ("CT_small.dcm", "MR_small_implicit.dcm")


@dataclass
class Corpus:
    core: RunningCore
    zhang: list[Dataset] = field(default_factory=list)  # UTF-8, CT 3 + MR 2 instances
    li: Dataset | None = None  # GB18030
    # pydicom test file name -> the object stored (its own UIDs: several files share theirs)
    objects: dict[str, Dataset] = field(default_factory=dict)

    def client(self, role: str = "admin") -> DICOMwebClient:
        token = self.core.token(role, PASSWORD) if role != "admin" else self.core.token()
        return DICOMwebClient(
            f"{self.core.base_url}/dicom-web", headers={"Authorization": f"Bearer {token}"}
        )

    def headers(self, role: str = "admin") -> dict[str, str]:
        token = self.core.token(role, PASSWORD) if role != "admin" else self.core.token()
        return {"Authorization": f"Bearer {token}"}


def load_corpus(core: RunningCore) -> Corpus:
    corpus = Corpus(core)
    archive = core.core.archive
    for role in auth.ROLES:
        if role != "admin":
            auth.create_user(core.core.engine, role, PASSWORD, role)
    study, ct, mr = generate_uid(), generate_uid(), generate_uid()
    for series, modality, count in ((ct, "CT", 3), (mr, "MR", 2)):
        for number in range(1, count + 1):
            ds = make_ct(
                patient_id="P1",
                patient_name="Zhang^San=张^三",
                charset="ISO_IR 192",
                study_uid=study,
                series_uid=series,
                modality=modality,
                instance_number=number,
                study_date="20260101",
                accession="ACC1",
                StudyDescription="胸部CT平扫",
                SliceThickness="1.25",
                WindowCenter="40",
                WindowWidth="400",
                size=72,  # over 4096 pixels: rendered through a look-up table
            )
            archive.store_instance(encode(ds), Origin("test"))
            corpus.zhang.append(ds)
    corpus.li = make_ct(
        patient_id="P2",
        patient_name="Li^Si=李^四",
        charset="GB18030",
        study_date="20260315",
        accession="ACC2",
        StudyDescription="头颅MR",
        modality="MR",
        size=32,
    )
    archive.store_instance(encode(corpus.li), Origin("test"))
    for name in (*COMPRESSED, *UNCOMPRESSED):
        ds = dcmread(testdata(name))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        archive.store_instance(encode(ds), Origin("test"))
        corpus.objects[name] = ds
    corpus.objects["bulky"] = bulky = with_bulk_data(
        make_ct(patient_id="P9", patient_name="Zhao^Qi", study_date="20261001")
    )
    archive.store_instance(encode(bulky), Origin("test"))
    return corpus


def with_bulk_data(ds: Dataset) -> Dataset:
    """Large binary values besides the pixel data: overlay data, and an icon in a sequence."""
    ds.add_new(0x60003000, "OW", bytes(range(256)) * 8)  # OverlayData, 2 kB
    icon = Dataset()
    icon.Rows = icon.Columns = 40
    icon.SamplesPerPixel, icon.PhotometricInterpretation = 1, "MONOCHROME2"
    icon.BitsAllocated = icon.BitsStored = 8
    icon.HighBit, icon.PixelRepresentation = 7, 0
    icon.PixelData = bytes(reversed(range(200))) * 8  # 1600 bytes
    ds.IconImageSequence = [icon]
    return ds


def answers(response: httpx.Response) -> list[dict]:
    """A QIDO-RS search's answers: a 200 with a JSON array, or none as 204 without a body (PS3.18
    8.3.4.4.1)."""
    if response.status_code == 204:
        assert response.content == b""
        return []
    assert response.status_code == 200, response.text
    found = response.json()
    assert found, "an empty search must be a 204"
    return list(found)


def uids(ds: Dataset) -> tuple[str, str, str]:
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """One core for every DICOMweb module (tests that store objects start their own)."""
    running = RunningCore(tmp_path_factory.mktemp("dicomweb") / "data").start()
    try:
        yield load_corpus(running)
    finally:
        running.stop()
