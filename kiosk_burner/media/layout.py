"""Fetching the objects to a staging folder, ordering them patient / study / series / image,
naming them in ISO 9660 level 1 8.3 form and sharing them out over discs by size."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import Dataset, dcmread

from kiosk_burner.media.sources import InstanceSource

SECTOR = 2048  # an ISO 9660 logical block: every file takes whole sectors
# File ID components (PS3.10 8.2): upper-case letters, digits and "_", at most 8 of them.
COMPONENT = re.compile(r"^[A-Z0-9_]{1,8}$")


@dataclass
class Staged:
    """One fetched object: its file in the staging folder and its header (no pixels)."""

    path: Path
    header: Dataset
    size: int

    @property
    def study_uid(self) -> str:
        return str(self.header.StudyInstanceUID)

    @property
    def series_uid(self) -> str:
        return str(self.header.SeriesInstanceUID)

    @property
    def sop_uid(self) -> str:
        return str(self.header.SOPInstanceUID)


@dataclass
class Placed:
    """An object on a disc: its File ID components (``DICOM/P0000001/S0000001/I0000001``)."""

    staged: Staged
    file_id: tuple[str, ...]
    series_number: int  # the series' place in its study (the DICOMDIR's fallback number)
    instance_number: int  # the object's place in its series (likewise)


@dataclass
class DiscPlan:
    number: int
    placed: list[Placed] = field(default_factory=list)

    @property
    def dicom_bytes(self) -> int:
        return sum(sectors(p.staged.size) for p in self.placed)

    @property
    def study_uids(self) -> list[str]:
        return list(dict.fromkeys(p.staged.study_uid for p in self.placed))


def sectors(size: int) -> int:
    """The bytes a file of ``size`` takes on the disc."""
    return -(-size // SECTOR) * SECTOR


def stage(source: InstanceSource, folder: Path) -> list[Staged]:
    """Fetch every object once, straight to disk (a 260 MB CT never sits in memory whole)."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = []
    for n, row in enumerate(source.instances(), start=1):
        data = source.fetch(str(row["sop_instance_uid"]))
        path = folder / f"{n:07d}.dcm"
        path.write_bytes(data)
        size = len(data)
        del data
        # From the file, not a BytesIO: a dataset read from a buffer keeps the whole buffer.
        header = dcmread(path, stop_before_pixels=True)
        staged.append(Staged(path, header, size))
    return staged


def _number(ds: Dataset, keyword: str) -> int:
    try:
        return int(ds.get(keyword) or 0)
    except (TypeError, ValueError):
        return 0


def ordered(staged: list[Staged], study_order: list[str]) -> list[list[list[Staged]]]:
    """Studies (in the manifest's order, then any other) -> series -> objects, series by
    Series Number and objects by Instance Number (as a viewer lists them)."""
    studies: dict[str, dict[str, list[Staged]]] = {}
    for item in staged:
        studies.setdefault(item.study_uid, {}).setdefault(item.series_uid, []).append(item)
    rank = {uid: n for n, uid in enumerate(study_order)}
    result = []
    for uid in sorted(studies, key=lambda u: (rank.get(u, len(rank)), u)):
        series = sorted(studies[uid].values(), key=lambda s: _number(s[0].header, "SeriesNumber"))
        result.append(
            [sorted(s, key=lambda i: _number(i.header, "InstanceNumber")) for s in series]
        )
    return result


def plan(studies: list[list[list[Staged]]], room: int) -> list[DiscPlan]:
    """Fill discs in order with at most ``room`` bytes of DICOM files each; a series is split
    only when it alone does not fit on one disc."""
    discs = [DiscPlan(1)]
    used = 0
    for study in studies:
        for series in study:
            whole = sum(sectors(i.size) for i in series)
            if used and used + whole > room and whole <= room:
                discs.append(DiscPlan(len(discs) + 1))
                used = 0
            for item in series:
                size = sectors(item.size)
                if used and used + size > room:
                    discs.append(DiscPlan(len(discs) + 1))
                    used = 0
                if size > room:
                    raise ValueError(f"one object of {item.size} bytes fits on no disc")
                discs[-1].placed.append(Placed(item, (), 0, 0))
                used += size
    for disc in discs:
        _name(disc, studies)
    return discs


def _name(disc: DiscPlan, studies: list[list[list[Staged]]]) -> None:
    """``DICOM/P000000n/S000000n/E000000n/I000000n``: five levels under the root (PS3.12
    F.1.2.1 allows eight), every component 8 characters of [A-Z0-9]. Numbers restart on
    every disc; the fallback series and instance numbers are the places in the whole study."""
    series_rank = {s[0].series_uid: n for st in studies for n, s in enumerate(st, start=1)}
    image_rank = {i.sop_uid: n for st in studies for s in st for n, i in enumerate(s, start=1)}
    patient_no: dict[str, int] = {}
    study_no: dict[str, int] = {}
    series_no: dict[str, int] = {}
    image_no: dict[str, int] = {}
    for placed in disc.placed:
        item = placed.staged
        pt = patient_no.setdefault(str(item.header.get("PatientID", "")), len(patient_no) + 1)
        st = study_no.setdefault(item.study_uid, len(study_no) + 1)
        se = series_no.setdefault(item.series_uid, len(series_no) + 1)
        image_no[item.series_uid] = image_no.get(item.series_uid, 0) + 1
        placed.file_id = ("DICOM", f"P{pt:07d}", f"S{st:07d}", f"E{se:07d}")
        placed.file_id += (f"I{image_no[item.series_uid]:07d}",)
        placed.series_number = series_rank[item.series_uid]
        placed.instance_number = image_rank[item.sop_uid]
