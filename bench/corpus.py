"""The benchmark corpus: CT and MR studies of 512x512 16-bit slices made with pydicom.

Two sets with different UIDs ("a" and "b") so that the second C-STORE run stores new
objects instead of duplicates. Each set is one patient with a CT study (three quarters of
the slices) and an MR study. The corpus is cached on disk with a manifest and reused when
the parameters match.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

FORMAT = 2  # bump when the generated objects change
SIZE = 512
SETS = ("a", "b")
_DATES = {"a": ("20240312", "20240313"), "b": ("20240314", "20240315")}
DATE_RANGE = "20240301-20240331"  # every corpus study falls in it


@dataclass
class Study:
    patient_id: str
    patient_name: str
    study_uid: str
    series_uid: str
    modality: str
    study_date: str
    files: list[str] = field(default_factory=list)


@dataclass
class CorpusSet:
    name: str
    studies: list[Study]

    @property
    def files(self) -> list[str]:
        return [f for study in self.studies for f in study.files]


@dataclass
class Corpus:
    root: Path
    instances: int  # per set
    sets: dict[str, CorpusSet]

    def set(self, name: str) -> CorpusSet:
        return self.sets[name]

    def size_bytes(self, files: list[str]) -> int:
        return sum(Path(f).stat().st_size for f in files)


def load_or_make(root: Path, instances: int, seed: int = 1) -> Corpus:
    """The cached corpus under ``root`` when its manifest matches, else a fresh one."""
    folder = root / f"v{FORMAT}-n{instances}-s{seed}"
    manifest = folder / "manifest.json"
    if manifest.is_file():
        corpus = _read_manifest(folder, manifest)
        if corpus.instances == instances and all(
            Path(f).is_file() for s in corpus.sets.values() for f in s.files
        ):
            return corpus
    started = time.monotonic()
    corpus = _make(folder, instances, seed)
    manifest.write_text(json.dumps(_as_json(corpus), indent=1))
    print(f"corpus: {2 * instances} files written in {time.monotonic() - started:.1f} s")
    return corpus


def _read_manifest(folder: Path, manifest: Path) -> Corpus:
    data = json.loads(manifest.read_text())
    sets = {
        name: CorpusSet(name, [Study(**s) for s in studies])
        for name, studies in data["sets"].items()
    }
    return Corpus(folder, int(data["instances"]), sets)


def _as_json(corpus: Corpus) -> dict[str, object]:
    return {
        "format": FORMAT,
        "instances": corpus.instances,
        "sets": {name: [asdict(s) for s in cs.studies] for name, cs in corpus.sets.items()},
    }


def _make(folder: Path, instances: int, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    ct_count = max(1, round(instances * 0.75))
    mr_count = max(1, instances - ct_count)
    sets: dict[str, CorpusSet] = {}
    for name in SETS:
        patient_id = f"BENCH-{name.upper()}"
        patient_name = f"BENCH^PATIENT{name.upper()}"
        ct_date, mr_date = _DATES[name]
        studies = [
            Study(patient_id, patient_name, generate_uid(), generate_uid(), "CT", ct_date),
            Study(patient_id, patient_name, generate_uid(), generate_uid(), "MR", mr_date),
        ]
        for study, count in zip(studies, (ct_count, mr_count), strict=True):
            target = folder / name / study.modality
            target.mkdir(parents=True, exist_ok=True)
            for number in range(1, count + 1):
                path = target / f"{number:05d}.dcm"
                _slice(study, number, rng).save_as(path, enforce_file_format=True)
                study.files.append(str(path))
        sets[name] = CorpusSet(name, studies)
    return Corpus(folder, instances, sets)


def _slice(study: Study, number: int, rng: np.random.Generator) -> Dataset:
    sop_class = CTImageStorage if study.modality == "CT" else MRImageStorage
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "093000"
    ds.AccessionNumber = f"ACC{study.study_uid[-8:]}"
    ds.Modality = study.modality
    ds.Manufacturer = "BENCH"
    ds.InstitutionName = "Benchmark Imaging Center"
    ds.ReferringPhysicianName = "REFERRER^BENCH"
    ds.StationName = f"{study.modality}01"
    ds.StudyDescription = f"{study.modality} BENCH STUDY"
    ds.SeriesDescription = f"{study.modality} AXIAL"
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.BodyPartExamined = "CHEST" if study.modality == "CT" else "HEAD"
    ds.SliceThickness = "1.0"
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = study.series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.ImagePositionPatient = [-250.0, -250.0, float(-number)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[study.series_uid, "frame"])
    ds.SliceLocation = float(-number)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = SIZE
    ds.PixelSpacing = [0.9765625, 0.9765625]
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
    ds.PixelData = rng.integers(-1024, 3072, size=(SIZE, SIZE), dtype=np.int16).tobytes()
    return ds
