"""The IHE PDI rules, each checked on a built ISO re-read with pycdlib and xorriso
(IHE RAD TF-3 4.47; DICOM PS3.10 8, PS3.11 STD-GEN-CD, PS3.12 Annex F)."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from pydicom import dcmread

from kiosk_burner.contract import DiscImage
from kiosk_burner.media import DiscOptions, FolderInstanceSource, Viewer, build_discs
from tests.kiosk_burner.test_media_support import (
    LEVEL1_DIR,
    LEVEL1_FILE,
    ExamSet,
    dciodvfy,
    dcmgpdir_check,
    extract,
    iso_tree,
    make_exams,
    xorriso_files,
)

XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExamSet, DiscImage, Path]:
    base = tmp_path_factory.mktemp("pdi")
    exams = make_exams(base / "archive")
    viewer = base / "viewer"
    (viewer / "weasis" / "bundle").mkdir(parents=True)
    (viewer / "viewer-win32.exe").write_bytes(b"MZ stand-in viewer")
    (viewer / "weasis" / "bundle" / "weasis-core-img-4.5.jar").write_bytes(b"PK jar")
    options = DiscOptions(viewer=Viewer(viewer, "viewer-win32.exe"), contact="电话 0571-1234")
    [disc] = build_discs(
        exams.manifest, FolderInstanceSource(exams.folder), base / "work", options=options
    )
    return exams, disc, extract(disc.iso_path, base / "extracted")


def test_one_cd_with_its_checksum(built: tuple[ExamSet, DiscImage, Path]) -> None:
    _, disc, _ = built
    assert (disc.number, disc.of, disc.medium) == (1, 1, "CD")
    assert disc.accession_numbers == ("A001", "A002")
    assert disc.size_bytes == disc.iso_path.stat().st_size
    assert disc.sha256 == hashlib.sha256(disc.iso_path.read_bytes()).hexdigest()


def test_iso9660_names_are_level_1_and_at_most_8_levels(
    built: tuple[ExamSet, DiscImage, Path],
) -> None:
    _, disc, _ = built
    tree = iso_tree(disc.iso_path)
    assert "/DICOMDIR.;1" in tree and "/INDEX.HTM;1" in tree and "/README.TXT;1" in tree
    for path, is_dir in tree.items():
        parts = path.strip("/").split("/")
        assert len(parts) <= 8, path  # the root is level 1: 7 below it, the file in the 8th
        for part in parts[:-1]:
            assert LEVEL1_DIR.match(part), path
        assert (LEVEL1_DIR if is_dir else LEVEL1_FILE).match(parts[-1]), path
    # PS3.12 F.2.2: a DICOM file has no ISO 9660 extension.
    dicom = [p for p in tree if p.startswith("/DICOM/") and not tree[p]]
    assert dicom and all(p.endswith(".;1") for p in dicom)


def test_xorriso_reads_the_same_files_and_joliet_keeps_the_viewer_names(
    built: tuple[ExamSet, DiscImage, Path],
) -> None:
    exams, disc, _ = built
    plain = xorriso_files(disc.iso_path, joliet=False)
    joliet = xorriso_files(disc.iso_path, joliet=True)
    assert len(plain) == len(joliet)
    assert sum(p.startswith("/DICOM/") for p in plain) == len(exams.files)
    assert "/weasis/bundle/weasis-core-img-4.5.jar" in joliet
    assert "/VIEWER_W.EXE" in plain and "/WEASIS/BUNDLE/WEASIS_C.JAR" in plain
    assert all(
        re.fullmatch(r"(/[A-Z0-9_]{1,8})*(/[A-Z0-9_]{1,8}(\.[A-Z0-9_]{1,3})?)", p) for p in plain
    )


def test_volume_identifier_is_the_fileset_id(built: tuple[ExamSet, DiscImage, Path]) -> None:
    _, disc, root = built
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(disc.iso_path))
    volume = iso.pvd.volume_identifier.decode().rstrip()
    iso.close()
    assert volume == dcmread(root / "DICOMDIR").FileSetID == "A001"


def test_dicomdir_passes_dciodvfy_and_dcmgpdir(built: tuple[ExamSet, DiscImage, Path]) -> None:
    exams, _, root = built
    report = dciodvfy(root / "DICOMDIR")
    assert "BasicDirectory" in report
    assert not [line for line in report.splitlines() if line.startswith(("Error", "Warning"))]
    # The patient's CT is in UTF-8 and the MR in GB18030: one PATIENT record (in the first
    # object's character set) serves both, which dcmgpdir reports as an inconsistency of
    # Specific Character Set (and the same name in other bytes) only. The object archived
    # without Study ID, Study Time, Series and Instance Number is on the disc as archived,
    # so dcmgpdir's strict mode names exactly those, in that file, and nothing else
    # (test_media_split.py runs it strictly,
    # aborting at the first inconsistency, on discs of complete objects in one charset).
    check = dcmgpdir_check(root, abort=False)
    errors = [line for line in check.stderr.splitlines() if line.startswith("E:")]
    lacking = next(
        "/".join(r.ReferencedFileID)
        for r in dcmread(root / "DICOMDIR").DirectoryRecordSequence
        if r.get("ReferencedSOPInstanceUIDInFile") == exams.lacking
    )
    missing = {"StudyTime", "StudyID", "SeriesNumber", "InstanceNumber"}
    assert {line.split()[3] for line in errors} == missing, check.stderr
    assert all(line.endswith(f"missing in file: {lacking}") for line in errors)
    defined = [line for line in check.stderr.splitlines() if ")=" in line and "Key:" not in line]
    assert defined and all(
        "SpecificCharacterSet" in line or "PatientName" in line for line in defined
    ), check.stderr


def test_dcmgpdir_check_does_reject_a_bad_disc(built: tuple[ExamSet, DiscImage, Path]) -> None:
    """The check above can fail: a long lower-case name under DICOM/ stops it."""
    _, _, root = built
    bad = root.parent / "bad-disc"
    import shutil

    shutil.copytree(root, bad, dirs_exist_ok=True)
    first = next(p for p in (bad / "DICOM").rglob("*") if p.is_file())
    first.rename(first.with_name("image-0001.dcm"))
    assert dcmgpdir_check(bad).returncode != 0


def test_every_dicom_file_is_the_archived_file(built: tuple[ExamSet, DiscImage, Path]) -> None:
    exams, _, root = built
    dicomdir = dcmread(root / "DICOMDIR")
    seen = {}
    for record in dicomdir.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            path = root.joinpath(*record.ReferencedFileID)
            seen[str(record.ReferencedSOPInstanceUIDInFile)] = path.read_bytes()
    assert seen.keys() == exams.files.keys()
    for uid, data in exams.files.items():
        assert seen[uid] == data, uid  # byte for byte, so the pixel data too
        assert dcmread(root / "DICOMDIR").FileSetID
    files_on_disc = [p for p in (root / "DICOM").rglob("*") if p.is_file()]
    assert len(files_on_disc) == len(exams.files)  # nothing but DICOM files under DICOM/


def test_records_stand_in_for_missing_attributes_but_the_file_is_untouched(
    built: tuple[ExamSet, DiscImage, Path],
) -> None:
    exams, _, root = built
    dicomdir = dcmread(root / "DICOMDIR")
    records = list(dicomdir.DirectoryRecordSequence)
    leaf = next(r for r in records if r.get("ReferencedSOPInstanceUIDInFile") == exams.lacking)
    assert leaf.DirectoryRecordType == "IMAGE" and leaf.InstanceNumber == 1
    study = next(
        r for r in records if r.DirectoryRecordType == "STUDY" and r.AccessionNumber == "A001"
    )
    assert study.StudyTime == "083000"  # the other objects of the study have one
    on_disc = dcmread(root.joinpath(*leaf.ReferencedFileID))
    assert "StudyID" not in on_disc and "InstanceNumber" not in on_disc
    series = [r for r in records if r.DirectoryRecordType == "SERIES" and r.Modality == "CT"]
    assert sorted(int(r.SeriesNumber) for r in series) == [1, 2]


def test_chinese_names_keep_their_character_sets(built: tuple[ExamSet, DiscImage, Path]) -> None:
    _, _, root = built
    dicomdir = dcmread(root / "DICOMDIR")
    records = list(dicomdir.DirectoryRecordSequence)
    [patient] = [r for r in records if r.DirectoryRecordType == "PATIENT"]
    assert (
        patient.SpecificCharacterSet == "ISO_IR 192"
        and patient.PatientName.ideographic == "王^建国"
    )
    studies = {
        r.AccessionNumber: str(r.SpecificCharacterSet)
        for r in records
        if r.DirectoryRecordType == "STUDY"
    }
    assert studies == {"A001": "ISO_IR 192", "A002": "GB18030"}
    raw = (root / "DICOMDIR").read_bytes()
    assert "王^建国".encode() in raw  # UTF-8 bytes in the UTF-8 record
    html = (root / "INDEX.HTM").read_text(encoding="utf-8")
    assert "charset=UTF-8" in html and "王建国" in html and "市第一人民医院" in html


def test_pages_are_xhtml_without_scripts_and_every_link_resolves(
    built: tuple[ExamSet, DiscImage, Path],
) -> None:
    _, _, root = built
    pages = [root / "INDEX.HTM", *sorted((root / "IHE_PDI").rglob("*.HTM"))]
    links = 0
    for page in pages:
        tree = ET.fromstring(page.read_bytes())  # well-formed XML: XHTML
        assert not list(tree.iter(f"{XHTML}script")) and "javascript:" not in page.read_text()
        for element in tree.iter():
            target = element.get("href") or element.get("src")
            if target:
                assert "://" not in target, target  # nothing leaves the disc
                assert (page.parent / target).resolve().is_file(), (page, target)
                links += 1
    assert links >= 6
    overview = (root / "IHE_PDI" / "INDEX.HTM").read_text(encoding="utf-8")
    assert "<b>未见</b>异常" in overview and "胸部CT平扫" in overview and "头颅MR平扫" in overview


def test_ihe_pdi_holds_only_web_content_with_previews(
    built: tuple[ExamSet, DiscImage, Path],
) -> None:
    _, _, root = built
    content = [p for p in (root / "IHE_PDI").rglob("*") if p.is_file()]
    assert {p.suffix for p in content} == {".HTM", ".JPG"}
    jpegs = [p for p in content if p.suffix == ".JPG"]
    assert len(jpegs) == 3  # one per series: two CT, one MR
    for jpeg in jpegs:
        with Image.open(jpeg) as image:
            assert image.format == "JPEG" and max(image.size) <= 512


def test_report_readme_and_viewer(built: tuple[ExamSet, DiscImage, Path]) -> None:
    exams, _, root = built
    assert (root / "REPORTS" / "RPT00001.PDF").read_bytes() == (
        exams.folder / "reports" / "11.pdf"
    ).read_bytes()
    assert not (root / "REPORTS" / "RPT00002.PDF").exists()  # exam 12 has no signed report
    raw = (root / "README.TXT").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # Notepad: BOM, CRLF
    readme = raw.decode("utf-8-sig")
    assert "市第一人民医院" in readme and "电话 0571-1234" in readme and "IHE PDI" in readme
    autorun = (root / "AUTORUN.INF").read_text(encoding="ascii")
    assert "open=viewer-win32.exe" in autorun and "label=A001" in autorun
    assert (root / "viewer-win32.exe").read_bytes() == b"MZ stand-in viewer"
    assert 'href="viewer-win32.exe"' in (root / "INDEX.HTM").read_text(encoding="utf-8")
