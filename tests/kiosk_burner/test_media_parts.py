"""The small pieces of the disc builder, with known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device_kit.client import CoreRefused
from kiosk_burner.media import CoreInstanceSource, Viewer, ViewerProblem, fileset_id
from kiosk_burner.media.iso import iso_name
from kiosk_burner.media.preview import window
from tests.kiosk_burner.test_media_support import make_exams


def test_iso_names_are_8_3_and_unique() -> None:
    taken: set[str] = set()
    assert iso_name("DICOMDIR", False, taken) == "DICOMDIR"
    assert iso_name("weasis-launcher.jar", False, taken) == "WEASIS_L.JAR"
    assert iso_name("weasis-launcher-2.jar", False, taken) == "WEASIS~1.JAR"
    assert iso_name("lib.native", False, taken) == "LIB.NAT"
    assert iso_name("my.dir", True, taken) == "MY_DIR"  # directories have no extension
    assert iso_name("中文", False, taken) == "__"


def test_fileset_id(tmp_path: Path) -> None:
    manifest = make_exams(tmp_path, series_sizes=(1,)).manifest
    assert fileset_id(manifest, 1, 1) == "A001"
    assert fileset_id(manifest, 2, 3) == "A001_2"
    long = manifest.exams[0].__class__(
        **{**manifest.exams[0].__dict__, "accession_number": "ct-2026/1207-00042"}
    )
    other = manifest.__class__(**{**manifest.__dict__, "exams": (long,)})
    assert fileset_id(other, 1, 1) == "CT_2026_1207_000"  # 16 characters of [A-Z0-9_]
    assert fileset_id(other, 10, 12) == "CT_2026_1207__10"


def test_window_maps_the_ct_soft_tissue_range() -> None:
    hu = np.array([-1000, -160, 40, 240, 3000])
    assert window(hu, 40, 400).tolist() == [0, 0, 127, 255, 255]


class FakeClient:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def get(self, path: str) -> Any:
        self.paths.append(path)
        return [{"sop_instance_uid": "1.2.3", "size": 4}]

    def get_bytes(self, path: str) -> bytes:
        self.paths.append(path)
        if path.endswith("/12.pdf"):
            raise CoreRefused(404, "not_found", "no report")
        if path.endswith("/13.pdf"):
            raise CoreRefused(403, "forbidden", "no")
        return b"DICM"


def test_core_source_uses_the_contract_paths() -> None:
    client = FakeClient()
    source = CoreInstanceSource(client, 5)
    assert source.instances() == [{"sop_instance_uid": "1.2.3", "size": 4}]
    assert source.fetch("1.2.3") == b"DICM"
    assert source.report_pdf(11) == b"DICM"
    assert source.report_pdf(12) is None  # unsigned: no report on the disc
    with pytest.raises(CoreRefused):
        source.report_pdf(13)  # any other refusal is a real error
    assert client.paths == [
        "/api/discs/5/instances",
        "/api/discs/5/instances/1.2.3",
        "/api/discs/5/reports/11.pdf",
        "/api/discs/5/reports/12.pdf",
        "/api/discs/5/reports/13.pdf",
    ]


def test_viewer_folder_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ViewerProblem, match="does not exist"):
        Viewer(tmp_path / "none", "v.exe").check()
    tmp_path.joinpath("v").mkdir()
    with pytest.raises(ViewerProblem, match="not in"):
        Viewer(tmp_path / "v", "v.exe").check()
    (tmp_path / "v" / "v.exe").write_bytes(b"MZ")
    (tmp_path / "v" / "index.htm").write_text("mine")
    with pytest.raises(ViewerProblem, match=r"INDEX\.HTM"):
        Viewer(tmp_path / "v", "v.exe").check()
    (tmp_path / "v" / "index.htm").unlink()
    Viewer(tmp_path / "v", "v.exe").check()
