"""Shared helpers of the media tests: a small exam set with known content, re-reading a
built ISO (pycdlib and xorriso) and the validators (dcmtk, dicom3tools)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pycdlib
from pydicom import Dataset
from pydicom.uid import MRImageStorage, generate_uid

from kiosk_burner.contract import DiscExam, Manifest
from tests.dicom_data import encode, make_ct

LEVEL1_FILE = re.compile(r"^[A-Z0-9_]{1,8}\.([A-Z0-9_]{1,3})?;1$")
LEVEL1_DIR = re.compile(r"^[A-Z0-9_]{1,8}$")


@dataclass
class ExamSet:
    folder: Path
    manifest: Manifest
    files: dict[str, bytes]  # SOP Instance UID -> the archived bytes
    lacking: str  # the SOP UID of the object without Study ID / numbers


def make_exams(
    folder: Path, series_sizes: tuple[int, ...] = (3, 2), size: int = 64, complete: bool = False
) -> ExamSet:
    """Exam 1: CT, one series per ``series_sizes`` entry, UTF-8 names (王^建国), one object
    without Study ID, Study Time, Series Number and Instance Number; exam 2: one MR series in
    GB18030, with a report PDF for exam 1 only. ``complete``: every object has every record
    attribute, and all are in UTF-8."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    ct_study, mr_study = generate_uid(), generate_uid()
    lacking = ""
    for s, count in enumerate(series_sizes, start=1):
        series = generate_uid()
        for i in range(1, count + 1):
            ds = make_ct(
                study_uid=ct_study,
                series_uid=series,
                instance_number=i,
                charset="ISO_IR 192",
                patient_name="Wang^Jianguo=王^建国",
                accession="A001",
                size=size,
                SeriesDescription=f"胸部 {s}",
                WindowCenter=40,
                WindowWidth=400,
                RescaleIntercept=-1024,
                RescaleSlope=1,
            )
            ds.SeriesNumber = s
            if s == 1 and i == 1 and not complete:
                for keyword in ("StudyID", "StudyTime", "SeriesNumber", "InstanceNumber"):
                    delattr(ds, keyword)
                lacking = ds.SOPInstanceUID
            _keep(ds, folder, files)
    mr = make_ct(
        study_uid=mr_study,
        charset="ISO_IR 192" if complete else "GB18030",
        patient_name="Wang^Jianguo=王^建国",
        accession="A002",
        modality="MR",
        study_date="20261129",
        size=size,
    )
    mr.SOPClassUID = mr.file_meta.MediaStorageSOPClassUID = MRImageStorage
    _keep(mr, folder, files)
    (folder / "reports").mkdir()
    (folder / "reports" / "11.pdf").write_bytes(b"%PDF-1.4\n% signed report of exam 11\n%%EOF\n")
    manifest = Manifest(
        job_id=7,
        copies=1,
        hospital_name="市第一人民医院",
        patient_id="P001",
        patient_name="王建国",
        patient_name_latin="WANG JIANGUO",
        birth_date="1980-01-01",
        sex="M",
        exams=(
            DiscExam(
                11,
                "A001",
                (ct_study,),
                "胸部CT平扫",
                "CT",
                "2026-11-28",
                sum(series_sizes),
                report_html="<p>两肺纹理清晰，<b>未见</b>异常。</p>",
            ),
            DiscExam(12, "A002", (mr_study,), "头颅MR平扫", "MR", "2026-11-29", 1),
        ),
        qr_url="https://pacs.example/cloud/abc",
    )
    return ExamSet(folder, manifest, files, lacking)


def _keep(ds: Dataset, folder: Path, files: dict[str, bytes]) -> None:
    data = encode(ds)
    files[str(ds.SOPInstanceUID)] = data
    (folder / f"{ds.SOPInstanceUID}.dcm").write_bytes(data)


def iso_tree(iso_path: Path, joliet: bool = False) -> dict[str, bool]:
    """Every path in the image's ISO 9660 (or Joliet) tree -> is it a directory."""
    iso = pycdlib.PyCdlib()
    iso.open(str(iso_path))
    try:
        key = "joliet_path" if joliet else "iso_path"
        found: dict[str, bool] = {}
        for top, dirs, files in iso.walk(**{key: "/"}):
            for d in dirs:
                found[f"{top.rstrip('/')}/{d}"] = True
            for f in files:
                found[f"{top.rstrip('/')}/{f}"] = False
        return found
    finally:
        iso.close()


def extract(iso_path: Path, out: Path) -> Path:
    """The disc as Windows sees it (the Joliet tree) copied out with pycdlib."""
    if out.exists():
        shutil.rmtree(out)
    iso = pycdlib.PyCdlib()
    iso.open(str(iso_path))
    try:
        for top, _dirs, files in iso.walk(joliet_path="/"):
            folder = out / top.lstrip("/")
            folder.mkdir(parents=True, exist_ok=True)
            for name in files:
                with (folder / name).open("wb") as fp:
                    iso.get_file_from_iso_fp(fp, joliet_path=f"{top.rstrip('/')}/{name}")
    finally:
        iso.close()
    return out


def xorriso_files(iso_path: Path, joliet: bool) -> list[str]:
    """xorriso's listing of the plain ISO 9660 tree (``ecma119``) or of the Joliet tree."""
    tree = "norock" if joliet else "ecma119"
    answer = subprocess.run(
        ["xorriso", "-read_fs", tree, "-indev", str(iso_path), "-find", "/", "-type", "f"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.strip("'") for line in answer.stdout.splitlines() if line.startswith("'")]


def dciodvfy(path: Path) -> str:
    answer = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    return answer.stdout + answer.stderr


def dcmgpdir_check(root: Path, abort: bool = True) -> subprocess.CompletedProcess[str]:
    """dcmgpdir's STD-GEN-CD checks on every file under DICOM/ against the disc's DICOMDIR:
    update mode reads the DICOMDIR, ``-a`` stops at an inconsistent file, ``-I`` at a missing
    Type 1 attribute, file names must already be DICOM File IDs; ``-w`` writes nothing.
    (It renames the DICOMDIR away even so: run it on a copy.)"""
    copy = root.parent / f"{root.name}-dcmgpdir"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(root, copy)
    return subprocess.run(
        [
            "dcmgpdir",
            "+U",
            "-w",
            "-nb",
            "-a" if abort else "+W",
            "-I",
            "+D",
            "DICOMDIR",
            "+r",
            "DICOM",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        errors="replace",  # it echoes values in their own character sets
    )
