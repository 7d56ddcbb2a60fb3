"""CD or DVD by size, and a study too large for any medium split over several discs, each a
complete PDI disc (own DICOMDIR, README, index), labelled n/m: tested with a tiny capacity."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread

from kiosk_burner.contract import CAPACITY
from kiosk_burner.media import DiscOptions, FolderInstanceSource, build_discs, choose_medium
from kiosk_burner.media.build import OVERHEAD
from kiosk_burner.media.layout import sectors
from tests.kiosk_burner.test_media_support import (
    dciodvfy,
    dcmgpdir_check,
    extract,
    iso_tree,
    make_exams,
)


def test_medium_by_size() -> None:
    assert choose_medium(CAPACITY["CD"], CAPACITY, None) == "CD"
    assert choose_medium(CAPACITY["CD"] + 1, CAPACITY, None) == "DVD"
    assert choose_medium(10, CAPACITY, "DVD") == "DVD"  # the kiosk's drive may only do DVD


def test_larger_than_a_cd_goes_on_a_dvd(tmp_path: Path) -> None:
    exams = make_exams(tmp_path / "archive", complete=True)
    total = sum(sectors(len(d)) for d in exams.files.values()) + OVERHEAD + 2048
    options = DiscOptions(capacity={"CD": total - 1, "DVD": total + 100_000})
    [disc] = build_discs(
        exams.manifest, FolderInstanceSource(exams.folder), tmp_path / "w", options=options
    )
    assert (disc.medium, disc.number, disc.of) == ("DVD", 1, 1)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("split")
    exams = make_exams(base / "archive", complete=True)
    file_size = sectors(max(len(d) for d in exams.files.values()))
    # Room for two objects a disc (the report PDF takes one sector of every disc's room).
    room = OVERHEAD + 2048 + 2 * file_size + file_size // 2
    options = DiscOptions(capacity={"CD": room // 2, "DVD": room})
    discs = build_discs(
        exams.manifest, FolderInstanceSource(exams.folder), base / "work", options=options
    )
    return exams, discs, base


def test_split_discs_are_numbered_and_share_out_every_object(split) -> None:  # type: ignore[no-untyped-def]
    exams, discs, base = split
    # Series 1 (3 objects) must split: 2 + 1; series 2 (2 objects) whole on the next disc
    # rather than split again; the MR study on the last.
    assert [(d.number, d.of, d.medium) for d in discs] == [(n, 4, "DVD") for n in (1, 2, 3, 4)]
    assert [d.accession_numbers for d in discs] == [("A001",), ("A001",), ("A001",), ("A002",)]
    seen: dict[str, bytes] = {}
    for disc in discs:
        root = extract(disc.iso_path, base / f"x{disc.number}")
        dicomdir = dcmread(root / "DICOMDIR")
        assert dicomdir.FileSetID == f"A001_{disc.number}"
        for record in dicomdir.DirectoryRecordSequence:
            if "ReferencedFileID" in record:
                uid = str(record.ReferencedSOPInstanceUIDInFile)
                assert uid not in seen  # each object on exactly one disc
                seen[uid] = root.joinpath(*record.ReferencedFileID).read_bytes()
        assert f"Disc {disc.number}/4" in (root / "INDEX.HTM").read_text(encoding="utf-8")
        assert f"Disc {disc.number}/4" in (root / "README.TXT").read_text(encoding="utf-8-sig")
        assert "/DICOMDIR.;1" in iso_tree(disc.iso_path)
        report = dciodvfy(root / "DICOMDIR")
        assert not [line for line in report.splitlines() if line.startswith(("Error", "Warn"))]
        check = dcmgpdir_check(root)  # strict: abort at the first inconsistency
        assert check.returncode == 0 and "E:" not in check.stderr, check.stderr
        assert "W:" not in check.stderr, check.stderr
    assert seen == exams.files


def test_an_object_larger_than_the_medium_is_refused(tmp_path: Path) -> None:
    exams = make_exams(tmp_path / "archive", complete=True)
    options = DiscOptions(capacity={"CD": OVERHEAD + 4096, "DVD": OVERHEAD + 4096})
    with pytest.raises(ValueError, match="fits on no disc"):
        build_discs(
            exams.manifest, FolderInstanceSource(exams.folder), tmp_path / "w", options=options
        )
