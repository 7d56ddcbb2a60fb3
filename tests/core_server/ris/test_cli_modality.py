"""The ASCII-only flag of a modality from the administrator's command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core_server.cli import main


def test_ascii_only_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = f"--data-dir={tmp_path}"
    assert main(["modality", "add", "DR01", "192.0.2.9", "104", "--ascii-only", data]) == 0
    assert main(["modality", "add", "CT01", "192.0.2.8", "104", data]) == 0
    capsys.readouterr()
    assert main(["modality", "list", data]) == 0
    listed = {m["ae_title"]: m for m in map(json.loads, capsys.readouterr().out.splitlines())}
    assert (listed["DR01"]["ascii_only"], listed["CT01"]["ascii_only"]) == (True, False)
    assert main(["modality", "update", "DR01", "--no-ascii-only", data]) == 0
    capsys.readouterr()
    main(["modality", "list", data])
    listed = {m["ae_title"]: m for m in map(json.loads, capsys.readouterr().out.splitlines())}
    assert listed["DR01"]["ascii_only"] is False
